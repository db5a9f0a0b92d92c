"""``S3Store``: the object store over the S3 API (Tencent COS, AWS S3, MinIO, moto), and the client
configuration an ``s3://`` storage URL describes. boto3 is imported only when a client is made."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from xiaofei import clock
from xiaofei.errors import AppError, Conflict, NotFound, StorageUnavailable
from xiaofei.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MAX_LIST_LIMIT,
    ObjectInfo,
    PresignedPut,
    check_cursor,
    check_limit,
    check_prefix,
    check_presign_get,
    check_presign_put,
    unavailable,
    unquote_etag,
    validate_key,
)

# botocore error codes, by what they mean for us. Anything unlisted is StorageUnavailable too.
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_CONFLICT_CODES = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "ObjectAlreadyExists"}
)
_STALE_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "InvalidAccessKeyId", "TokenRefreshRequired", "InvalidToken"}
)


def _s3_exceptions() -> tuple[type[BaseException], ...]:
    """What a boto3 call may raise for reasons outside our code (so a bug is still a bug, not a 503)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError as Urllib3Error

    return (ClientError, BotoCoreError, Urllib3Error, OSError)


def _client_error_code(exc: BaseException) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def map_s3_error(exc: BaseException, *, conditional: bool = False) -> AppError:
    """Translate a botocore exception into our hierarchy (the caller raises it ``from exc``).

    NoSuchKey / 404 → NotFound (on a conditional put, the If-Match target is gone → Conflict);
    412 / 409 on a write → Conflict; everything else (AccessDenied, NoSuchBucket, SlowDown, 5xx,
    timeouts, connection and credential errors) → StorageUnavailable: not the caller's fault.
    """
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code, status = _client_error_code(exc)
        if conditional and (code in _CONFLICT_CODES or status in (409, 412) or code in _NOT_FOUND_CODES):
            return Conflict()
        if code in _NOT_FOUND_CODES or (status == 404 and code != "NoSuchBucket"):
            return NotFound()
    return StorageUnavailable()


class S3Store:
    """S3 API storage (Tencent COS, AWS S3, MinIO, moto). Pass a boto3 S3 client, or a ``client_factory``
    that makes one on first use (a warm instance creates it once; a cold start that never touches
    storage never imports boto3)."""

    def __init__(
        self, client: Any = None, bucket: str = "", *, client_factory: Callable[[], Any] | None = None
    ) -> None:
        if not bucket:
            raise ValueError("bucket is required")
        if client is None and client_factory is None:
            raise ValueError("client or client_factory is required")
        self.bucket = bucket
        self._client = client
        self._factory = client_factory
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return "S3Store(...)"  # the bucket name is not for logs that may reach a caller

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._factory is not None
                    try:
                        self._client = self._factory()
                    except Exception as exc:
                        raise unavailable(exc) from exc
        return self._client

    def _call(self, op: str, *, conditional: bool = False, **params: Any) -> Any:
        for attempt in (1, 2):
            try:
                return getattr(self.client, op)(Bucket=self.bucket, **params)
            except _s3_exceptions() as exc:
                code, _ = _client_error_code(exc)
                if attempt == 1 and code in _STALE_CREDENTIAL_CODES and self._factory is not None:
                    # SCF role credentials rotate: remake the client from the current environment and
                    # try once more (the request was refused before doing anything, so this is safe).
                    self._client = None
                    continue
                raise map_s3_error(exc, conditional=conditional) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        validate_key(key)
        content_type = content_type or DEFAULT_CONTENT_TYPE
        params: dict[str, Any] = {"Key": key, "Body": data, "ContentType": content_type}
        if if_match is not None:
            params["IfMatch"] = f'"{unquote_etag(if_match)}"'
        if if_none_match:
            params["IfNoneMatch"] = "*"
        conditional = if_match is not None or if_none_match
        response = self._call("put_object", conditional=conditional, **params)
        return unquote_etag(response.get("ETag")) or hashlib.md5(data, usedforsecurity=False).hexdigest()

    def get(self, key: str) -> bytes:
        validate_key(key)
        response = self._call("get_object", Key=key)
        try:
            return bytes(response["Body"].read())
        except _s3_exceptions() as exc:  # the connection dropped mid-body
            raise unavailable(exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            response = self._call("head_object", Key=key)
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=unquote_etag(response.get("ETag")),
            content_type=str(response.get("ContentType") or DEFAULT_CONTENT_TYPE),
            last_modified=_epoch(response.get("LastModified")),
        )

    def list(
        self, prefix: str, *, cursor: str | None = None, limit: int = MAX_LIST_LIMIT
    ) -> tuple[list[ObjectInfo], str | None]:
        check_prefix(prefix)
        check_limit(limit)
        after = check_cursor(cursor)
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": limit}
        if after is not None:
            params["StartAfter"] = after
        try:
            response = self._call("list_objects_v2", **params)
        except NotFound as exc:  # NoSuchBucket is mapped to unavailable; any other 404 here is odd
            raise unavailable(exc) from exc
        items = [
            ObjectInfo(
                key=str(o["Key"]),
                size=int(o.get("Size", 0)),
                etag=unquote_etag(o.get("ETag")),
                content_type="",
                last_modified=_epoch(o.get("LastModified")),
            )
            for o in response.get("Contents", [])
        ]
        # Our cursor is the last key (start-after), so it means the same thing in every store.
        more = bool(response.get("IsTruncated")) and bool(items)
        return items, (items[-1].key if more else None)

    def delete(self, key: str) -> None:
        validate_key(key)
        # Some S3-compatible servers answer 404 where S3 answers 204: either way it is gone.
        with contextlib.suppress(NotFound):
            self._call("delete_object", Key=key)

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = [validate_key(k) for k in keys]
        for start in range(0, len(batch), 1000):  # the DeleteObjects maximum
            chunk = batch[start : start + 1000]
            response = self._call(
                "delete_objects", Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
            failed = [e for e in response.get("Errors", []) if e.get("Code") not in ("NoSuchKey",)]
            if failed:
                raise StorageUnavailable()

    def presign_get(self, key: str, expires_s: int) -> str:
        return self._presign("get_object", {"Key": key}, check_presign_get(key, expires_s))

    def presign_put(self, key: str, expires_s: int, content_type: str, max_bytes: int) -> PresignedPut:
        expires = check_presign_put(key, expires_s, content_type, max_bytes)
        url = self._presign("put_object", {"Key": key, "ContentType": content_type}, expires)
        return PresignedPut(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=clock.now() + expires,
            max_bytes=max_bytes,
        )

    def _presign(self, op: str, params: dict[str, Any], expires: int) -> str:
        try:
            return str(
                self.client.generate_presigned_url(
                    op, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires
                )
            )
        except _s3_exceptions() as exc:  # NoCredentialsError and friends
            raise unavailable(exc) from exc


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else 0.0


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_S3_PARAMS = {"endpoint", "region", "addressing", "max_attempts", "connect_timeout", "read_timeout"}


@dataclass(frozen=True)
class S3Config:
    """What an ``s3://`` storage URL says; ``open_store`` turns it into a lazily created client."""

    bucket: str
    endpoint: str | None = None
    region: str | None = None
    addressing: str = ""  # virtual | path | auto (boto3's choice) | "" = the endpoint's default
    max_attempts: int = 3  # in total, first try included
    connect_timeout: float = 3.0
    read_timeout: float = 20.0

    @property
    def is_cos(self) -> bool:
        host = urlsplit(self.endpoint or "").hostname or ""
        return host.endswith(".myqcloud.com")

    @property
    def addressing_style(self) -> str:
        if self.addressing:
            return self.addressing
        # COS refuses path style for buckets made after 2024-01-01; other custom endpoints (MinIO)
        # usually want path style; with no endpoint (AWS) boto3 picks correctly.
        return "virtual" if self.is_cos else ("path" if self.endpoint else "auto")


def parse_s3_url(url: str) -> S3Config:
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not _BUCKET_RE.match(bucket) or parts.path not in ("", "/"):
        raise ValueError("storage URL must look like s3://bucket?endpoint=…&region=…&addressing=…")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - _S3_PARAMS
    if unknown:
        raise ValueError(f"unknown storage URL parameter(s): {', '.join(sorted(unknown))}")
    endpoint = query.get("endpoint") or None
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("endpoint must be an http(s) URL")
    addressing = query.get("addressing") or ""
    if addressing not in ("", "virtual", "path", "auto"):
        raise ValueError("addressing must be virtual, path or auto")
    cfg = S3Config(
        bucket=bucket,
        endpoint=endpoint,
        region=query.get("region") or None,
        addressing=addressing,
        max_attempts=int(query.get("max_attempts") or 3),
        connect_timeout=float(query.get("connect_timeout") or 3.0),
        read_timeout=float(query.get("read_timeout") or 20.0),
    )
    if (
        not 1 <= cfg.max_attempts <= 10
        or not 0 < cfg.connect_timeout <= 60
        or not 0 < cfg.read_timeout <= 300
    ):
        raise ValueError("max_attempts must be 1..10 and timeouts positive (connect ≤ 60 s, read ≤ 300 s)")
    return cfg


def s3_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """Explicit credentials for boto3 from ``environ``, or {} to use its standard chain (profile, role…).

    AWS_ACCESS_KEY_ID/SECRET_ACCESS_KEY/SESSION_TOKEN win when set (an operator's explicit choice);
    otherwise SCF's execution-role credentials TENCENTCLOUD_SECRETID/SECRETKEY/SESSIONTOKEN are used.
    """
    for id_var, key_var, token_var in (
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"),
    ):
        if environ.get(id_var):
            creds = {"aws_access_key_id": environ[id_var], "aws_secret_access_key": environ.get(key_var, "")}
            if environ.get(token_var):
                creds["aws_session_token"] = environ[token_var]
            return creds
    return {}


def make_s3_client(cfg: S3Config, environ: Mapping[str, str] | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=cfg.region,
        signature_version="s3v4",
        s3={"addressing_style": cfg.addressing_style},
        retries={"mode": "standard", "total_max_attempts": cfg.max_attempts},
        connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout,
        max_pool_connections=32,
        # Newer botocore adds CRC32 checksums to every upload; S3-compatible servers (COS among them)
        # do not all accept them, so send checksums only where the API requires one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=cfg.endpoint,
        config=config,
        **s3_credentials(os.environ if environ is None else environ),
    )
    if cfg.endpoint:
        client.meta.events.register("before-sign.s3.DeleteObjects", _add_content_md5)
    if cfg.is_cos:
        client.meta.events.register("before-sign.s3.PutObject", _cos_forbid_overwrite)
    return client


def _add_content_md5(request: Any, **_: Any) -> None:
    # DeleteObjects needs an integrity header; S3-compatible servers (COS, older MinIO) want Content-MD5,
    # which newer botocore replaced by a CRC32 header.
    import base64

    body = request.body if isinstance(request.body, bytes) else (request.body or b"")
    if isinstance(body, str):
        body = body.encode()
    if "Content-MD5" not in request.headers and isinstance(body, bytes):
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        request.headers["Content-MD5"] = base64.b64encode(digest).decode()


def _cos_forbid_overwrite(request: Any, **_: Any) -> None:
    # COS spells "create only" as x-cos-forbid-overwrite (409 if the key exists); send both spellings.
    if request.headers.get("If-None-Match") in ("*", b"*"):
        request.headers["x-cos-forbid-overwrite"] = "true"
