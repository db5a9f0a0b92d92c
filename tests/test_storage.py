"""The ObjectStore contract, run against every backend:

* ``local``: LocalStore in a temp folder (its presigned URLs served by a tiny /_store/ HTTP server here,
  the way the local server serves them);
* ``moto``: S3Store over moto's in-process mock (``mock_aws``);
* ``http``: S3Store opened from an ``s3://…&addressing=virtual`` URL against moto's standalone server
  on localhost: real HTTP, SigV4 signatures, virtual-hosted bucket names, presigned URLs used with urllib.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from tests.s3server import CREDENTIALS, REGION, S3Server, S3Settings
from xiaofei.errors import AppError, BadRequest, Conflict, NotFound
from xiaofei.storage.open import LocalStore, ObjectStore, S3Store, make_s3_client, open_store, parse_s3_url

HOSTILE_KEYS = [
    "",
    "../secret",
    "a/../../etc/passwd",
    "/etc/passwd",
    "a//b",
    "a/./b",
    "a/",
    "a\\..\\b",
    "a/%2e%2e/b",
    "%2E%2E/x",
    "a\x00b",
    "a\nb",
    "a\tb",
    "..",
    ".secret",
    "a/.meta",
    "x" * 600,
    "空格/文件",
]


@dataclass
class Backend:
    name: str
    store: ObjectStore
    http: bool  # presigned URLs can be fetched with urllib


class _StoreHandler(BaseHTTPRequestHandler):
    """The /_store/ route of the local server, reduced to what the contract needs."""

    store: LocalStore

    def log_message(self, *args: Any) -> None:
        pass

    def _target(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        return unquote(parts.path[len("/_store/") :]), dict(parse_qsl(parts.query))

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        key, query = self._target()
        try:
            self.store.verify_presigned("GET", key, query)
            info = self.store.head(key)
            self._reply(200, self.store.get(key), info.content_type if info else "")
        except AppError as exc:
            self._reply(exc.status)

    def do_PUT(self) -> None:
        key, query = self._target()
        try:
            length = int(self.headers.get("Content-Length", "0"))
            self.store.accept_presigned_put(key, query, self.rfile.read(length))
            self._reply(200)
        except AppError as exc:
            self._reply(exc.status)


@pytest.fixture(scope="module")
def local_http() -> Iterator[tuple[str, type[_StoreHandler]]]:
    handler = type("Handler", (_StoreHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def moto_client() -> Any:
    import boto3
    import moto  # noqa: F401  (its botocore hook must exist before the client is made)

    # A new session: boto3's default one may predate moto's import (made by an earlier test module),
    # and then its clients would not carry moto's hook and would try the real endpoint.
    session = boto3.session.Session()
    return session.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")


@pytest.fixture(scope="module")
def http_client(s3_server: S3Server) -> Any:
    # Our own client configuration (virtual-hosted, retries, timeouts), made once: clients are slow to build.
    url = f"s3://unused?endpoint={s3_server.endpoint}&region={REGION}&addressing=virtual"
    return make_s3_client(parse_s3_url(url), environ=CREDENTIALS)


@pytest.fixture(params=["local", "moto", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        base_url, handler = request.getfixturevalue("local_http")
        store = LocalStore(tmp_path / "store", signing_key=b"k" * 32, public_url=base_url)
        handler.store = store
        yield Backend("local", store, http=True)
    elif request.param == "moto":
        from moto import mock_aws

        client = request.getfixturevalue("moto_client")
        with mock_aws():
            client.create_bucket(Bucket="contract")
            yield Backend("moto", S3Store(client, "contract"), http=False)
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield Backend(
            "http", S3Store(request.getfixturevalue("http_client"), server.create_bucket()), http=True
        )


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fetch(
    url: str, data: bytes | None = None, method: str = "GET", headers: dict[str, str] | None = None
) -> bytes:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return bytes(resp.read())


# ---------------------------------------------------------------------------------------- basics


def test_put_get_head_round_trip(backend: Backend) -> None:
    store = backend.store
    data = b"\x89PNG fake bytes \x00\xff"
    etag = store.put("images/u1/a.png", data, "image/png")
    assert etag == md5(data)
    assert store.get("images/u1/a.png") == data
    info = store.head("images/u1/a.png")
    assert info is not None
    assert (info.key, info.size, info.etag, info.content_type) == (
        "images/u1/a.png",
        len(data),
        etag,
        "image/png",
    )
    assert abs(info.last_modified - time.time()) < 120


def test_missing_key_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        backend.store.get("nothing/here.json")
    assert backend.store.head("nothing/here.json") is None


def test_overwrite_replaces_content_and_etag(backend: Backend) -> None:
    store = backend.store
    first = store.put("k/v.json", b"{}", "application/json")
    second = store.put("k/v.json", b'{"a":1}', "application/json")
    assert first != second
    assert store.get("k/v.json") == b'{"a":1}'


def test_empty_object(backend: Backend) -> None:
    backend.store.put("k/empty", b"")
    assert backend.store.get("k/empty") == b""
    info = backend.store.head("k/empty")
    assert info is not None and info.size == 0


# ----------------------------------------------------------------------------------------- listing


def test_list_is_lexicographic_and_prefix_scoped(backend: Backend) -> None:
    store = backend.store
    # "-" < "." < "/" < "0": a folder store must still list in S3's byte order.
    keys = ["p/a/b", "p/a-c", "p/a.b", "p/a0", "p/b", "q/x", "px"]
    for key in keys:
        store.put(key, key.encode())
    items, cursor = store.list("p/")
    assert [i.key for i in items] == sorted(k for k in keys if k.startswith("p/"))
    assert cursor is None
    assert [i.size for i in items] == [len(i.key) for i in items]
    assert all(i.etag == md5(i.key.encode()) for i in items)
    # A prefix need not end at a "/".
    assert [i.key for i in store.list("p/a")[0]] == ["p/a-c", "p/a.b", "p/a/b", "p/a0"]
    assert [i.key for i in store.list("")[0]] == sorted(keys)
    assert store.list("none/")[0] == []


def test_list_pages_with_a_small_limit(backend: Backend) -> None:
    store = backend.store
    keys = [f"page/{i:03d}.json" for i in range(7)]
    for key in reversed(keys):
        store.put(key, b"x")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = store.list("page/", cursor=cursor, limit=3)
        seen += [i.key for i in items]
        pages += 1
        if cursor is None:
            break
    assert seen == keys
    assert pages == 3
    # Exactly one full page: no phantom next cursor.
    items, cursor = store.list("page/", limit=7)
    assert len(items) == 7 and cursor is None


@pytest.mark.parametrize("limit", [0, -1, 1001, True, 2.5])
def test_list_limit_out_of_range(backend: Backend, limit: Any) -> None:
    with pytest.raises(BadRequest):
        backend.store.list("a/", limit=limit)


@pytest.mark.parametrize("cursor", ["../x", "a//b", "%2e%2e", "\x00"])
def test_list_rejects_bad_cursor(backend: Backend, cursor: str) -> None:
    with pytest.raises(BadRequest):
        backend.store.list("a/", cursor=cursor)


# ---------------------------------------------------------------------------------------- deletion


def test_delete_is_idempotent(backend: Backend) -> None:
    store = backend.store
    store.put("d/x", b"1")
    store.delete("d/x")
    store.delete("d/x")
    assert store.head("d/x") is None
    with pytest.raises(NotFound):
        store.get("d/x")


def test_delete_many(backend: Backend) -> None:
    store = backend.store
    for i in range(5):
        store.put(f"m/{i}", b"1")
    store.delete_many(["m/0", "m/2", "m/4", "m/never"])
    assert [i.key for i in store.list("m/")[0]] == ["m/1", "m/3"]
    store.delete_many([])
    store.delete_many(iter(["m/1", "m/3"]))
    assert store.list("m/")[0] == []


def test_delete_many_validates_every_key_first(backend: Backend) -> None:
    backend.store.put("v/keep", b"1")
    with pytest.raises(BadRequest):
        backend.store.delete_many(["v/keep", "../escape"])
    assert backend.store.get("v/keep") == b"1"


# -------------------------------------------------------------------------------- conditional writes


def test_if_none_match_creates_only_once(backend: Backend) -> None:
    store = backend.store
    store.put("c/once", b"first", if_none_match=True)
    with pytest.raises(Conflict):
        store.put("c/once", b"second", if_none_match=True)
    assert store.get("c/once") == b"first"


def test_if_match_compares_etags(backend: Backend) -> None:
    store = backend.store
    etag = store.put("c/ptr", b"v1")
    new = store.put("c/ptr", b"v2", if_match=etag)
    with pytest.raises(Conflict):
        store.put("c/ptr", b"v3", if_match=etag)  # stale etag: someone else wrote in between
    assert store.get("c/ptr") == b"v2"
    store.put("c/ptr", b"v4", if_match=f'"{new}"')  # quoted etags are accepted too
    with pytest.raises(Conflict):
        store.put("c/missing", b"x", if_match=etag)
    assert store.head("c/missing") is None


def test_one_hundred_concurrent_writers(backend: Backend) -> None:
    if backend.name == "moto":
        pytest.skip("moto's in-process mock is not thread-safe; the HTTP server and LocalStore cover this")
    store = backend.store
    payloads = {f"w/{i:03d}": bytes([i % 256]) * (100 + i) for i in range(100)}
    with ThreadPoolExecutor(max_workers=16) as pool:
        etags = list(pool.map(lambda item: store.put(*item), payloads.items()))
    assert etags == [md5(v) for v in payloads.values()]
    items, cursor = store.list("w/", limit=1000)
    assert [i.key for i in items] == sorted(payloads) and cursor is None
    assert {k: store.get(k) for k in payloads} == payloads


# -------------------------------------------------------------------------------------- hostile keys


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_refused_everywhere(backend: Backend, key: str) -> None:
    store = backend.store
    calls = [
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.delete(key),
        lambda: store.delete_many([key]),
        lambda: store.presign_get(key, 60),
        lambda: store.presign_put(key, 60, "image/jpeg", 100),
    ]
    for call in calls:
        with pytest.raises(BadRequest):
            call()


# ---------------------------------------------------------------------------------- presigned URLs


def test_presigned_get_over_http(backend: Backend) -> None:
    store = backend.store
    store.put("p/img.jpg", b"jpeg-bytes", "image/jpeg")
    url = store.presign_get("p/img.jpg", 60)
    assert url.startswith("http")
    if not backend.http:
        pytest.skip("in-process mock: no HTTP endpoint behind the URL")
    assert fetch(url) == b"jpeg-bytes"


def test_presigned_put_over_http(backend: Backend) -> None:
    store = backend.store
    put = store.presign_put("uploads/u/1.png", 60, "image/png", 1_000)
    assert put.method == "PUT"
    assert put.headers == {"Content-Type": "image/png"}
    assert put.max_bytes == 1_000
    assert time.time() < put.expires_at <= time.time() + 61
    if not backend.http:
        pytest.skip("in-process mock: no HTTP endpoint behind the URL")
    fetch(put.url, data=b"png-bytes", method="PUT", headers=put.headers)
    assert store.get("uploads/u/1.png") == b"png-bytes"
    info = store.head("uploads/u/1.png")
    assert info is not None and info.content_type == "image/png"


def test_presign_rejects_bad_arguments(backend: Backend) -> None:
    with pytest.raises(ValueError):
        backend.store.presign_get("a/b", 0)
    with pytest.raises(ValueError):
        backend.store.presign_get("a/b", 8 * 24 * 3600)
    with pytest.raises(BadRequest):
        backend.store.presign_put("a/b", 60, "image/png\r\nX-Evil: 1", 10)


@pytest.mark.parametrize("expires_s", [0, -1, 7 * 24 * 3600 + 1, True, 1.5, "60"])
def test_presign_refuses_an_expiry_out_of_range_or_not_an_int(backend: Backend, expires_s: Any) -> None:
    with pytest.raises(ValueError, match="expires_s"):
        backend.store.presign_get("a/b", expires_s)
    with pytest.raises(ValueError, match="expires_s"):
        backend.store.presign_put("a/b", expires_s, "image/png", 10)


def test_presign_accepts_the_expiry_bounds(backend: Backend) -> None:
    for expires_s in (1, 7 * 24 * 3600):
        assert backend.store.presign_get("a/b", expires_s)
        assert backend.store.presign_put("a/b", expires_s, "image/png", 10).url


@pytest.mark.parametrize("max_bytes", [0, -1])
def test_presign_put_refuses_a_size_limit_below_one_byte(backend: Backend, max_bytes: int) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        backend.store.presign_put("a/b", 60, "image/png", max_bytes)


@pytest.mark.parametrize("content_type", ["", "image", "image/" + "x" * 100, None])
def test_presign_put_refuses_a_bad_content_type(backend: Backend, content_type: Any) -> None:
    with pytest.raises(BadRequest):
        backend.store.presign_put("a/b", 60, content_type, 10)


# ------------------------------------------------------------------------- backend-specific proofs


def test_local_presigned_urls_are_refused_when_expired_or_forged(tmp_path: Path, local_http: Any) -> None:
    base_url, handler = local_http
    store = LocalStore(tmp_path / "s", signing_key=b"k" * 32, public_url=base_url)
    handler.store = store
    store.put("p/x.jpg", b"secret image")
    good = store.presign_get("p/x.jpg", 60)
    assert fetch(good) == b"secret image"
    for bad in (
        good.replace("p/x.jpg", "p/y.jpg"),
        good[:-4] + ("0000" if not good.endswith("0000") else "1111"),
        good.replace("exp=", "exp=1"),
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(bad)
        assert err.value.code == 403
    put = store.presign_put("uploads/u/2.jpg", 60, "image/jpeg", 10)
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch(put.url, data=b"x" * 11, method="PUT", headers=put.headers)
    assert err.value.code == 413
    assert store.head("uploads/u/2.jpg") is None


def test_http_backend_uses_virtual_hosted_addressing(s3_settings: S3Settings) -> None:
    store = open_store(s3_settings.url)
    assert isinstance(store, S3Store)
    hosts: list[str] = []
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: hosts.append(urlsplit(request.url).netloc)
    )
    store.put("v/x", b"1")
    store.get("v/x")
    store.list("v/")
    port = urlsplit(s3_settings.endpoint).port
    assert hosts and set(hosts) == {f"{s3_settings.bucket}.localhost:{port}"}
    assert store.client.meta.config.s3["addressing_style"] == "virtual"
    assert urlsplit(store.presign_get("v/x", 60)).netloc == f"{s3_settings.bucket}.localhost:{port}"
