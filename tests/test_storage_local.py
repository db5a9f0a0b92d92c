"""LocalStore specifics: it never leaves its folder, hides its own files, survives 100 concurrent writers,
signs its presigned URLs, and turns disk errors into storage_unavailable."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xiaofei.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, StorageUnavailable
from xiaofei.identity import load_or_create_secret
from xiaofei.storage.open import LocalStore, open_store

KEY = b"k" * 32


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "root", signing_key=KEY, public_url="http://127.0.0.1:8000/")


def split(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    assert parts.path.startswith("/_store/")
    return (
        f"{parts.scheme}://{parts.netloc}",
        unquote(parts.path[len("/_store/") :]),
        dict(parse_qsl(parts.query)),
    )


# --------------------------------------------------------------------------------- staying inside


def test_files_are_plain_files_under_the_root(store: LocalStore) -> None:
    store.put("images/u/1.jpg", b"jpeg", "image/jpeg")
    assert (store.root / "images" / "u" / "1.jpg").read_bytes() == b"jpeg"


def test_a_symlink_cannot_lead_outside(store: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"root:x:0:0")
    (store.root / "images").mkdir()
    (store.root / "images" / "evil").symlink_to(outside)
    with pytest.raises(BadRequest):
        store.get("images/evil/passwd")
    with pytest.raises(BadRequest):
        store.put("images/evil/new", b"x")
    assert not (outside / "new").exists()


def test_own_files_are_unreachable(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secret = load_or_create_secret(root)
    store = LocalStore(root, signing_key=secret)
    store.put("a/b.json", b"{}", "application/json")
    for key in (".secret", ".lock", ".tmp/x", "a/.b.json.meta"):
        with pytest.raises(BadRequest):
            store.get(key)
    listed = [i.key for i in store.list("")[0]]
    assert listed == ["a/b.json"]


def test_a_file_copied_in_by_hand_is_served(store: LocalStore) -> None:
    (store.root / "models" / "pneumonia").mkdir(parents=True)
    (store.root / "models" / "pneumonia" / "manifest.json").write_bytes(b'{"name": "pneumonia"}')
    info = store.head("models/pneumonia/manifest.json")
    assert info is not None
    assert info.content_type == "application/json"
    assert info.etag == hashlib.md5(b'{"name": "pneumonia"}').hexdigest()
    assert store.get("models/pneumonia/manifest.json") == b'{"name": "pneumonia"}'


def test_delete_prunes_empty_folders_but_not_the_root(store: LocalStore) -> None:
    store.put("history/u1/a.json", b"1")
    store.put("history/u2/b.json", b"2")
    store.delete("history/u1/a.json")
    assert not (store.root / "history" / "u1").exists()
    assert (store.root / "history" / "u2").exists()
    store.delete("history/u2/b.json")
    assert not (store.root / "history").exists()
    assert store.root.is_dir()


def test_a_key_under_an_object_is_a_conflict(store: LocalStore) -> None:
    store.put("a", b"file")
    with pytest.raises(Conflict):
        store.put("a/b", b"nested")
    assert store.get("a") == b"file"
    with pytest.raises(NotFound):
        store.get("a/b")


def test_a_folder_is_not_an_object(store: LocalStore) -> None:
    store.put("a/b", b"1")
    with pytest.raises(NotFound):
        store.get("a")
    assert store.head("a") is None
    store.delete("a")
    assert store.get("a/b") == b"1"


# ------------------------------------------------------------------------------------- concurrency


def test_one_hundred_concurrent_writers_on_one_key_never_tear(store: LocalStore) -> None:
    payloads = [bytes([i]) * (1000 + i) for i in range(100)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        etags = list(pool.map(lambda p: store.put("same/key", p, "application/octet-stream"), payloads))
    final = store.get("same/key")
    assert final in payloads
    info = store.head("same/key")
    assert info is not None and info.etag == etags[payloads.index(final)] and info.size == len(final)
    assert list((store.root / ".tmp").iterdir()) == []  # no temp files left behind


def test_concurrent_create_only_has_exactly_one_winner(store: LocalStore) -> None:
    def attempt(i: int) -> bool:
        try:
            store.put("claim/x", str(i).encode(), if_none_match=True)
            return True
        except Conflict:
            return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        wins = list(pool.map(attempt, range(100)))
    assert wins.count(True) == 1
    assert store.get("claim/x") == str(wins.index(True)).encode()


def test_concurrent_compare_and_swap_loses_no_update(store: LocalStore) -> None:
    store.put("counter", b"0")

    def increment(_: int) -> None:
        while True:
            info = store.head("counter")
            assert info is not None
            value = int(store.get("counter"))
            try:
                store.put("counter", str(value + 1).encode(), if_match=info.etag)
                return
            except Conflict:
                continue

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(increment, range(40)))
    assert store.get("counter") == b"40"


# -------------------------------------------------------------------------------- listing property


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.sets(
        st.lists(st.sampled_from(["a", "b", "a-b", "a.b", "a0", "z"]), min_size=1, max_size=3).map("/".join),
        max_size=15,
    ),
    prefix=st.sampled_from(["", "a", "a/", "a-", "b/a", "z/"]),
    limit=st.integers(1, 4),
)
def test_paging_matches_sorted_keys(tmp_path: Path, keys: set[str], prefix: str, limit: int) -> None:
    # Keys that are also "folders" of other keys cannot coexist in a folder; keep the deepest.
    keys = {k for k in keys if not any(o.startswith(k + "/") for o in keys)}
    store = LocalStore(tmp_path / f"p{time.monotonic_ns()}", signing_key=KEY)
    for key in keys:
        store.put(key, b"x")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = store.list(prefix, cursor=cursor, limit=limit)
        assert len(items) <= limit
        seen += [i.key for i in items]
        if cursor is None:
            break
    assert seen == sorted(k for k in keys if k.startswith(prefix))


# ----------------------------------------------------------------------------------- presigned URLs


def test_presigned_get_verifies(store: LocalStore) -> None:
    base, key, query = split(store.presign_get("images/u/1.jpg", 60))
    assert base == "http://127.0.0.1:8000"
    assert key == "images/u/1.jpg"
    store.verify_presigned("GET", key, query)
    store.verify_presigned("HEAD", key, query)


def test_presigned_put_verifies_and_carries_its_limits(store: LocalStore) -> None:
    put = store.presign_put("uploads/u/1.png", 60, "image/png", 5_000)
    _, key, query = split(put.url)
    store.verify_presigned("PUT", key, query)
    assert (int(query["max"]), query["ct"]) == (5_000, "image/png")
    assert put.expires_at == float(query["exp"])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m, k, q: (m, "images/u/2.jpg", q),  # another key
        lambda m, k, q: ("PUT", k, q),  # a GET link used for PUT
        lambda m, k, q: (m, k, {**q, "exp": str(int(q["exp"]) + 3600)}),  # extended
        lambda m, k, q: (m, k, {**q, "sig": q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")}),
        lambda m, k, q: (m, k, {**q, "sig": ""}),
        lambda m, k, q: (m, k, {k2: v for k2, v in q.items() if k2 != "sig"}),
        lambda m, k, q: (m, k, {k2: v for k2, v in q.items() if k2 != "exp"}),
        lambda m, k, q: (m, k, {**q, "exp": "soon"}),
        lambda m, k, q: ("DELETE", k, q),
    ],
)
def test_tampered_get_links_are_forbidden(store: LocalStore, tamper: Any) -> None:
    _, key, query = split(store.presign_get("images/u/1.jpg", 60))
    method, key, query = tamper("GET", key, query)
    with pytest.raises(Forbidden):
        store.verify_presigned(method, key, query)


@pytest.mark.parametrize("field", ["max", "ct"])
def test_tampered_put_limits_are_forbidden(store: LocalStore, field: str) -> None:
    _, key, query = split(store.presign_put("uploads/u/1.png", 60, "image/png", 5_000).url)
    query[field] = "99999999" if field == "max" else "text/html"
    with pytest.raises(Forbidden):
        store.verify_presigned("PUT", key, query)


def test_accept_presigned_put_enforces_the_signed_limits(store: LocalStore) -> None:
    _, key, query = split(store.presign_put("uploads/u/1.png", 60, "image/png", 10).url)
    with pytest.raises(PayloadTooLarge):
        store.accept_presigned_put(key, query, b"x" * 11)
    assert store.head(key) is None
    store.accept_presigned_put(key, query, b"x" * 10)
    info = store.head(key)
    assert info is not None and info.content_type == "image/png" and info.size == 10
    with pytest.raises(Forbidden):
        store.accept_presigned_put(key, {**query, "max": "100"}, b"x" * 50)


def test_expired_links_are_forbidden(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _, key, query = split(store.presign_get("images/u/1.jpg", 1))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)
    with pytest.raises(Forbidden) as err:
        store.verify_presigned("GET", key, query)
    assert err.value.zh and err.value.en and "expired" in err.value.en


def test_links_are_bound_to_the_signing_key(tmp_path: Path) -> None:
    one = LocalStore(tmp_path / "r", signing_key=KEY)
    other = LocalStore(tmp_path / "r", signing_key=b"x" * 32)
    _, key, query = split(one.presign_get("a/b", 60))
    with pytest.raises(Forbidden):
        other.verify_presigned("GET", key, query)
    # Without a configured key the store still signs, with a key of its own.
    keyless = LocalStore(tmp_path / "r", signing_key=b"")
    _, key, query = split(keyless.presign_get("a/b", 60))
    keyless.verify_presigned("GET", key, query)
    with pytest.raises(Forbidden):
        LocalStore(tmp_path / "r", signing_key=b"").verify_presigned("GET", key, query)


def test_verify_rejects_hostile_keys(store: LocalStore) -> None:
    with pytest.raises(BadRequest):
        store.verify_presigned("GET", "../x", {"exp": "1", "sig": "0"})


# ---------------------------------------------------------------------------------------- failures


def test_disk_errors_are_storage_unavailable(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.put("a/b", b"1")

    def full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(StorageUnavailable) as err:
        store.put("a/c", b"2")
    assert isinstance(err.value.__cause__, OSError)
    assert list((store.root / ".tmp").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr(Path, "read_bytes", lambda self: full())
    with pytest.raises(StorageUnavailable):
        store.get("a/b")


def test_open_store_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("file://./.xiaofei", signing_key=KEY)
    assert isinstance(relative, LocalStore) and relative.root == tmp_path / ".xiaofei"
    absolute = open_store(f"file://{tmp_path}/abs", signing_key=KEY, public_url="http://example:9/")
    assert isinstance(absolute, LocalStore) and absolute.root == tmp_path / "abs"
    assert absolute.presign_get("a/b", 5).startswith("http://example:9/_store/a/b?")
