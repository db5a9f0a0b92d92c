"""The object store interface, its value types, and the key rules every implementation shares.

``xiaofei.storage.open`` is the public face (``open_store`` and re-exports); implementations live in
``localstore`` (a folder) and ``s3store`` (S3 / Tencent COS). Keys are validated by ``validate_key`` in
every store: nothing a caller sends becomes a path or a key unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from xiaofei.errors import BadRequest, StorageUnavailable

MAX_KEY_BYTES = 512
MAX_LIST_LIMIT = 1000
MAX_PRESIGN_S = 7 * 24 * 3600  # the S3 SigV4 ceiling
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Keys are made by the service (uploads/{uid}/{id}.jpg, models/pneumonia/1.0.0/model.onnx): a strict
# ASCII whitelist is enough and rules out encodings (%2e%2e), backslashes, control characters and NUL.
_KEY_CHARS = re.compile(r"^[A-Za-z0-9._\-/=+@,]+$")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str  # "" in S3 listings (LIST does not return it); use head() when it matters
    last_modified: float  # epoch seconds


@dataclass(frozen=True)
class PresignedPut:
    url: str
    method: str
    headers: dict[str, str]  # the client must send exactly these (Content-Type is signed)
    expires_at: float
    max_bytes: int  # LocalStore enforces it; on S3 the reader must check head().size (S3 cannot)


class ObjectStore(Protocol):
    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str: ...
    def get(self, key: str) -> bytes: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def list(
        self, prefix: str, *, cursor: str | None = None, limit: int = MAX_LIST_LIMIT
    ) -> tuple[list[ObjectInfo], str | None]: ...
    def delete(self, key: str) -> None: ...
    def delete_many(self, keys: Iterable[str]) -> None: ...
    def presign_get(self, key: str, expires_s: int) -> str: ...
    def presign_put(self, key: str, expires_s: int, content_type: str, max_bytes: int) -> PresignedPut: ...


# ---------------------------------------------------------------------------------------------- keys


def bad_key() -> BadRequest:
    return BadRequest("Invalid object key.", "对象键无效。", code="bad_request")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``BadRequest``.

    Refused: non-strings, empty, over ``MAX_KEY_BYTES``, absolute, empty / ``.`` / ``..`` segments,
    hidden segments (``.x``: LocalStore keeps its own files there), and any character outside
    ``[A-Za-z0-9._-/=+@,]`` (so ``%2e%2e``, backslashes, NUL, control and non-ASCII characters).
    """
    if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
        raise bad_key()
    if not _KEY_CHARS.match(key):
        raise bad_key()
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise bad_key()
    return key


def check_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be 1..{MAX_LIST_LIMIT}.", f"limit 必须在 1 到 {MAX_LIST_LIMIT} 之间。")
    return limit


def check_cursor(cursor: str | None) -> str | None:
    # A store cursor is the last key of the previous page ("start after").
    if cursor is None:
        return None
    try:
        return validate_key(cursor)
    except BadRequest:
        raise BadRequest("Invalid cursor.", "分页游标无效。") from None


_CONTENT_TYPE_RE = re.compile(r"^[A-Za-z0-9][\w.+\-]*/[\w.+\-]+(; ?charset=[\w\-]+)?$")


def validate_content_type(content_type: str) -> str:
    """A plain ``type/subtype`` (optionally ``; charset=…``): it is signed into URLs and sent as a header."""
    if not isinstance(content_type, str) or len(content_type) > 100:
        raise BadRequest("Invalid content type.", "文件类型无效。")
    if not _CONTENT_TYPE_RE.match(content_type):
        raise BadRequest("Invalid content type.", "文件类型无效。")
    return content_type


def check_expiry(expires_s: int) -> int:
    if isinstance(expires_s, bool) or not isinstance(expires_s, int) or not 1 <= expires_s <= MAX_PRESIGN_S:
        raise ValueError(f"expires_s must be 1..{MAX_PRESIGN_S}")
    return expires_s


def check_presign_get(key: str, expires_s: int) -> int:
    """Validate ``presign_get``'s arguments (the same in every store); the expiry in seconds."""
    validate_key(key)
    return check_expiry(expires_s)


def check_presign_put(key: str, expires_s: int, content_type: str, max_bytes: int) -> int:
    """Validate ``presign_put``'s arguments (the same in every store); the expiry in seconds."""
    validate_key(key)
    validate_content_type(content_type)
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    return check_expiry(expires_s)


def unquote_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


def unavailable(exc: BaseException) -> StorageUnavailable:
    err = StorageUnavailable()
    err.__cause__ = exc
    return err
