"""S3Store specifics: every botocore failure we handle maps to our error hierarchy (with its cause kept),
the storage URL becomes the right client configuration, and credentials come from the right place."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from tests.s3server import S3Settings
from xiaofei.errors import AppError, Conflict, NotFound, StorageUnavailable
from xiaofei.storage.open import S3Config, S3Store, make_s3_client, map_s3_error, open_store, parse_s3_url

COS = "https://cos.ap-shanghai.myqcloud.com"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}


def client_error(code: str, status: int, op: str = "GetObject") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


# ------------------------------------------------------------------------------------- error mapping

CLIENT_ERRORS = [
    # (code, status, conditional write?, expected)
    ("NoSuchKey", 404, False, NotFound),
    ("404", 404, False, NotFound),
    ("NotFound", 404, False, NotFound),
    ("NoSuchBucket", 404, False, StorageUnavailable),  # our misconfiguration, not the caller's 404
    ("AccessDenied", 403, False, StorageUnavailable),
    ("PathStyleDomainForbidden", 403, False, StorageUnavailable),
    ("SignatureDoesNotMatch", 403, False, StorageUnavailable),
    ("InvalidAccessKeyId", 403, False, StorageUnavailable),
    ("ExpiredToken", 400, False, StorageUnavailable),
    ("RequestTimeTooSkewed", 403, False, StorageUnavailable),
    ("RequestTimeout", 400, False, StorageUnavailable),
    ("SlowDown", 503, False, StorageUnavailable),
    ("Throttling", 400, False, StorageUnavailable),
    ("ServiceUnavailable", 503, False, StorageUnavailable),
    ("InternalError", 500, False, StorageUnavailable),
    ("503", 503, False, StorageUnavailable),
    ("PreconditionFailed", 412, True, Conflict),
    ("ConditionalRequestConflict", 409, True, Conflict),
    ("ObjectAlreadyExists", 409, True, Conflict),  # COS x-cos-forbid-overwrite
    ("NoSuchKey", 404, True, Conflict),  # If-Match on a key that is gone
    ("SlowDown", 503, True, StorageUnavailable),
    ("AccessDenied", 403, True, StorageUnavailable),
]

BOTOCORE_ERRORS = [
    EndpointConnectionError(endpoint_url="https://cos.example"),
    ConnectTimeoutError(endpoint_url="https://cos.example"),
    ReadTimeoutError(endpoint_url="https://cos.example"),
    ConnectionClosedError(endpoint_url="https://cos.example"),
    NoCredentialsError(),
    ConnectionResetError(104, "reset"),
]


@pytest.mark.parametrize(("code", "status", "conditional", "expected"), CLIENT_ERRORS)
def test_client_errors_map(code: str, status: int, conditional: bool, expected: type[AppError]) -> None:
    assert type(map_s3_error(client_error(code, status), conditional=conditional)) is expected


@pytest.mark.parametrize("exc", BOTOCORE_ERRORS, ids=lambda e: type(e).__name__)
def test_transport_errors_are_unavailable(exc: Exception) -> None:
    assert type(map_s3_error(exc)) is StorageUnavailable


class FailingClient:
    """Every S3 call raises ``exc`` (a stand-in for a network or service failure)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        def call(*_: Any, **__: Any) -> Any:
            self.calls += 1
            raise self.exc

        return call


@pytest.mark.parametrize("exc", BOTOCORE_ERRORS, ids=lambda e: type(e).__name__)
def test_store_operations_raise_storage_unavailable_with_cause(exc: Exception) -> None:
    store = S3Store(FailingClient(exc), "b")
    operations = [
        lambda: store.get("a/b"),
        lambda: store.head("a/b"),
        lambda: store.put("a/b", b"x"),
        lambda: store.list("a/"),
        lambda: store.delete("a/b"),
        lambda: store.delete_many(["a/b"]),
        lambda: store.presign_get("a/b", 60),
    ]
    for operation in operations:
        with pytest.raises(StorageUnavailable) as err:
            operation()
        assert err.value.__cause__ is exc
        assert err.value.to_dict()["error"]["code"] == "storage_unavailable"
        assert "cos.example" not in str(err.value.to_dict())  # nothing internal reaches a caller


def test_a_bug_is_not_disguised_as_an_outage() -> None:
    store = S3Store(FailingClient(TypeError("bug")), "b")
    with pytest.raises(TypeError):
        store.get("a/b")


@pytest.fixture
def stubbed() -> Iterator[tuple[S3Store, Stubber]]:
    client = make_s3_client(parse_s3_url("s3://bkt?region=us-east-1"), environ=FAKE_AWS)
    with Stubber(client) as stubber:
        yield S3Store(client, "bkt"), stubber
        stubber.assert_no_pending_responses()


def test_stubbed_responses_map_per_operation(stubbed: tuple[S3Store, Stubber]) -> None:
    store, stub = stubbed
    stub.add_client_error("get_object", "SlowDown", http_status_code=503)
    stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    stub.add_client_error("head_object", "404", http_status_code=404)
    stub.add_client_error("head_object", "AccessDenied", http_status_code=403)
    stub.add_client_error("put_object", "PreconditionFailed", http_status_code=412)
    stub.add_client_error("put_object", "AccessDenied", http_status_code=403)
    stub.add_client_error("delete_object", "NoSuchKey", http_status_code=404)
    stub.add_response("delete_objects", {"Errors": [{"Key": "a/1", "Code": "InternalError", "Message": "x"}]})
    stub.add_client_error("list_objects_v2", "NoSuchBucket", http_status_code=404)
    with pytest.raises(StorageUnavailable) as unavailable:
        store.get("a/1")
    assert isinstance(unavailable.value.__cause__, ClientError)
    with pytest.raises(NotFound):
        store.get("a/1")
    assert store.head("a/1") is None
    with pytest.raises(StorageUnavailable):
        store.head("a/1")
    with pytest.raises(Conflict):
        store.put("a/1", b"x", if_none_match=True)
    with pytest.raises(StorageUnavailable):
        store.put("a/1", b"x", if_none_match=True)  # a refused conditional write is still an outage
    store.delete("a/1")  # some servers answer 404 to DELETE: still idempotent
    with pytest.raises(StorageUnavailable):
        store.delete_many(["a/1"])
    with pytest.raises(StorageUnavailable):
        store.list("a/")


def test_conditional_put_sends_the_headers(stubbed: tuple[S3Store, Stubber]) -> None:
    store, stub = stubbed
    stub.add_response(
        "put_object",
        {"ETag": '"e1"'},
        {"Bucket": "bkt", "Key": "k/x", "Body": b"1", "ContentType": "text/plain", "IfNoneMatch": "*"},
    )
    stub.add_response(
        "put_object",
        {"ETag": '"e2"'},
        {"Bucket": "bkt", "Key": "k/x", "Body": b"2", "ContentType": "text/plain", "IfMatch": '"e1"'},
    )
    assert store.put("k/x", b"1", "text/plain", if_none_match=True) == "e1"
    assert store.put("k/x", b"2", "text/plain", if_match="e1") == "e2"


def test_connection_refused_is_unavailable_quickly() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_store(
        f"s3://bkt?endpoint=http://127.0.0.1:{port}&region=r&max_attempts=2&connect_timeout=0.5",
        environ=FAKE_AWS,
    )
    with pytest.raises(StorageUnavailable) as err:
        store.get("a/b")
    assert isinstance(err.value.__cause__, EndpointConnectionError)


def test_expired_role_credentials_remake_the_client_once() -> None:
    made: list[FailingClient | Any] = []

    class Fine:
        def get_object(self, **_: Any) -> Any:
            return {"Body": io.BytesIO(b"ok")}

    def factory() -> Any:
        client = FailingClient(client_error("ExpiredToken", 400)) if not made else Fine()
        made.append(client)
        return client

    store = S3Store(bucket="b", client_factory=factory)
    assert store.get("a/b") == b"ok"
    assert len(made) == 2


def test_client_is_made_lazily_and_once() -> None:
    count = 0

    def factory() -> Any:
        nonlocal count
        count += 1
        return FailingClient(client_error("NoSuchKey", 404))

    store = S3Store(bucket="b", client_factory=factory)
    assert count == 0
    assert store.head("a") is None and store.head("b") is None
    assert count == 1


def test_repr_hides_the_bucket() -> None:
    assert "secret-bucket" not in repr(S3Store(FailingClient(OSError()), "secret-bucket"))


# ------------------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("url", "addressing", "endpoint", "region"),
    [
        (f"s3://b-1250000000?endpoint={COS}&region=ap-shanghai", "virtual", COS, "ap-shanghai"),
        (
            f"s3://b-1250000000?endpoint={COS}&region=ap-shanghai&addressing=virtual",
            "virtual",
            COS,
            "ap-shanghai",
        ),
        ("s3://bkt?endpoint=http://minio:9000&region=us-east-1", "path", "http://minio:9000", "us-east-1"),
        ("s3://bkt?endpoint=http://minio:9000&addressing=virtual", "virtual", "http://minio:9000", None),
        ("s3://my.bucket?region=eu-west-1", "auto", None, "eu-west-1"),
    ],
)
def test_s3_urls_parse(url: str, addressing: str, endpoint: str | None, region: str | None) -> None:
    cfg = parse_s3_url(url)
    assert (cfg.addressing_style, cfg.endpoint, cfg.region) == (addressing, endpoint, region)


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3://UPPER",
        "s3://b/extra/path",
        "s3://bkt?endpoint=ftp://x",
        "s3://bkt?addressing=sideways",
        "s3://bkt?password=x",
        "s3://bkt?max_attempts=0",
        "s3://bkt?read_timeout=-1",
        "s3://bkt?connect_timeout=abc",
        "gs://b",
        "file://",
        "",
    ],
)
def test_bad_storage_urls_fail_at_start_up(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


def test_cos_url_makes_a_virtual_hosted_client_with_short_timeouts() -> None:
    store = open_store(f"s3://xiaofei-1250000000?endpoint={COS}&region=ap-shanghai", environ=FAKE_AWS)
    assert isinstance(store, S3Store)
    config = store.client.meta.config
    assert config.s3 == {"addressing_style": "virtual"}
    assert config.region_name == "ap-shanghai"
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.connect_timeout <= 5 and config.read_timeout <= 30
    url = urlsplit(store.presign_get("images/u/x.jpg", 300))
    assert url.netloc == "xiaofei-1250000000.cos.ap-shanghai.myqcloud.com"  # never cos.…/bucket (403)
    assert url.path == "/images/u/x.jpg"


def test_scf_role_credentials_are_used_when_no_aws_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    scf = {
        "TENCENTCLOUD_SECRETID": "AKIDscf",
        "TENCENTCLOUD_SECRETKEY": "k",
        "TENCENTCLOUD_SESSIONTOKEN": "tok",
    }
    store = open_store(f"s3://xiaofei-1250000000?endpoint={COS}&region=ap-shanghai", environ=scf)
    query = parse_qs(urlsplit(store.presign_get("a/b", 60)).query)
    assert query["X-Amz-Credential"][0].startswith("AKIDscf/")
    assert query["X-Amz-Security-Token"] == ["tok"]
    both = {**scf, **FAKE_AWS}
    store = open_store(f"s3://xiaofei-1250000000?endpoint={COS}&region=ap-shanghai", environ=both)
    query = parse_qs(urlsplit(store.presign_get("a/b", 60)).query)
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert "X-Amz-Security-Token" not in query


def test_open_store_reads_the_process_environment_when_the_client_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    store = open_store(f"s3://xiaofei-1250000000?endpoint={COS}&region=ap-shanghai")
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", "AKIDlater")
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "k")
    assert "AKIDlater%2F" in store.presign_get("a/b", 60)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def test_cos_wire_headers() -> None:
    """What goes on the wire to COS: the virtual host, Content-MD5 on batch delete (COS wants it, newer
    botocore sends only CRC32), x-cos-forbid-overwrite with If-None-Match, no default checksums."""
    client = make_s3_client(S3Config(bucket="bkt-125", endpoint=COS, region="ap-shanghai"), environ=FAKE_AWS)
    sent: list[Any] = []

    def respond(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        body = b"<DeleteResult></DeleteResult>" if "delete" in request.url else b""
        return AWSResponse(request.url, 200, {"ETag": '"abc"'}, _Raw(body))

    client.meta.events.register_first("before-send.s3", respond)
    store = S3Store(client, "bkt-125")
    store.put("a/b", b"x", "text/plain", if_none_match=True)
    store.put("a/c", b"y", "text/plain")
    store.delete_many(["a/b", "a/c"])
    create_only, plain, delete = (
        (r.url, {k: v.decode() if isinstance(v, bytes) else v for k, v in r.headers.items()}) for r in sent
    )
    assert urlsplit(create_only[0]).netloc == "bkt-125.cos.ap-shanghai.myqcloud.com"
    assert create_only[1]["If-None-Match"] == "*"
    assert create_only[1]["x-cos-forbid-overwrite"] == "true"
    assert "x-cos-forbid-overwrite" not in plain[1]
    assert not any(h.lower().startswith("x-amz-checksum") for h in plain[1])
    assert "Content-MD5" in delete[1]


def test_open_store_round_trip_over_http(s3_settings: S3Settings) -> None:
    store = open_store(s3_settings.url)  # credentials from the (test) environment, client made lazily
    store.put("o/x.json", b"{}", "application/json")
    assert store.get("o/x.json") == b"{}"
    assert [i.key for i in store.list("o/")[0]] == ["o/x.json"]
