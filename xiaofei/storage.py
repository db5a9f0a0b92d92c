"""Object storage: one small interface, a folder (``LocalStore``) and S3 / Tencent COS (``S3Store``).

Everything the service keeps (uploads, images, heatmaps, history records, model packages) goes through
``ObjectStore``. ``open_store`` picks the implementation from ``XIAOFEI_STORAGE``::

    file://./.xiaofei                      a folder, relative paths from the current directory (default)
    s3://bucket?endpoint=https://cos.ap-shanghai.myqcloud.com&region=ap-shanghai&addressing=virtual

Keys are validated by ``validate_key`` in both stores (nothing a caller sends becomes a path or a key
unchecked). Failures of the backend (timeouts, 5xx, throttling, access denied, disk errors) surface as
``StorageUnavailable`` (503) with the original exception as ``__cause__``; a missing key is ``NotFound``;
a failed conditional write is ``Conflict``. Etags are returned without quotes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from .errors import AppError, BadRequest, Conflict, Forbidden, NotFound, StorageUnavailable

try:  # advisory cross-process lock for LocalStore writes (POSIX); threads are covered by a Lock anyway
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

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


def _bad_key() -> BadRequest:
    return BadRequest("Invalid object key.", "对象键无效。", code="bad_request")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``BadRequest``.

    Refused: non-strings, empty, over ``MAX_KEY_BYTES``, absolute, empty / ``.`` / ``..`` segments,
    hidden segments (``.x``: LocalStore keeps its own files there), and any character outside
    ``[A-Za-z0-9._-/=+@,]`` (so ``%2e%2e``, backslashes, NUL, control and non-ASCII characters).
    """
    if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
        raise _bad_key()
    if not _KEY_CHARS.match(key):
        raise _bad_key()
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise _bad_key()
    return key


def _validate_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def _validate_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be 1..{MAX_LIST_LIMIT}.", f"limit 必须在 1 到 {MAX_LIST_LIMIT} 之间。")
    return limit


def _validate_cursor(cursor: str | None) -> str | None:
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


def _check_expiry(expires_s: int) -> int:
    if isinstance(expires_s, bool) or not isinstance(expires_s, int) or not 1 <= expires_s <= MAX_PRESIGN_S:
        raise ValueError(f"expires_s must be 1..{MAX_PRESIGN_S}")
    return expires_s


def _unquote_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


def _unavailable(exc: BaseException) -> StorageUnavailable:
    err = StorageUnavailable()
    err.__cause__ = exc
    return err


# ------------------------------------------------------------------------------------------ LocalStore


class LocalStore:
    """Objects as plain files under ``root``: ``root/<key>``, plus a hidden ``.<name>.meta`` sidecar with
    the content type and etag (md5, as S3). Hidden names are never keys, so the sidecars, the temp
    folder and ``.secret`` cannot be read or listed through the store.

    Writes go to ``root/.tmp`` and are moved in with ``os.replace`` while holding a thread lock and an
    advisory ``flock`` on ``root/.lock`` (the CLI and the server may share a folder), so readers see the
    old or the new object, never half of one, and conditional writes are real compare-and-swap.
    """

    def __init__(self, root: Path, *, signing_key: bytes, public_url: str = "http://127.0.0.1:8000") -> None:
        self.root = Path(root).expanduser().resolve()
        # Without a configured key, presigned URLs are still unforgeable, just valid in this process only.
        self._signing_key = signing_key or secrets.token_bytes(32)
        self.public_url = public_url.rstrip("/")
        self._lock = threading.Lock()
        try:
            (self.root / ".tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unavailable(exc) from exc
        self._lock_path = self.root / ".lock"
        self._sweep_temp()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- paths and locking

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        # A symlink planted inside the folder must not lead outside it.
        if not path.resolve().is_relative_to(self.root):
            raise _bad_key()
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta")

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:  # pragma: no cover
                yield
                return
            with open(self._lock_path, "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _sweep_temp(self) -> None:
        # Leftovers of a crash mid-write; an hour is far longer than any write.
        cutoff = time.time() - 3600
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root / ".tmp"):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)

    def _temp_file(self, data: bytes) -> Path:
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        # No fsync: this is the laptop store, and a write torn by a power cut is at worst an unreadable
        # object (records are skipped, uploads refused); os.replace keeps every reader's view whole.
        with open(tmp, "wb") as fh:
            fh.write(data)
        return tmp

    # -- reading

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        meta: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads(self._meta_path(path).read_bytes())
        if meta.get("size") != st.st_size or not meta.get("etag"):
            # A file dropped into the folder by hand (or a torn sidecar): derive what we need.
            meta = {
                "etag": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
                "content_type": mimetypes.guess_type(path.name)[0] or DEFAULT_CONTENT_TYPE,
            }
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=str(meta["etag"]),
            content_type=str(meta.get("content_type") or DEFAULT_CONTENT_TYPE),
            last_modified=st.st_mtime,
        )

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound() from None
        except OSError as exc:
            raise _unavailable(exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            with self._lock:  # the data file and its sidecar are replaced together under this lock
                return self._info(key, path)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def list(
        self, prefix: str, *, cursor: str | None = None, limit: int = MAX_LIST_LIMIT
    ) -> tuple[list[ObjectInfo], str | None]:
        _validate_prefix(prefix)
        _validate_limit(limit)
        after = _validate_cursor(cursor)
        items: list[ObjectInfo] = []
        try:
            for key, path in self._walk(self.root, "", prefix, after):
                info = self._info(key, path)
                if info is None:  # deleted while we walked
                    continue
                if len(items) == limit:
                    return items, items[-1].key
                items.append(info)
        except OSError as exc:
            raise _unavailable(exc) from exc
        return items, None

    def _walk(self, folder: Path, base: str, prefix: str, after: str | None) -> Iterator[tuple[str, Path]]:
        """Yield (key, path) under ``folder`` in lexicographic key order, skipping what cannot match.

        Sorting entries by ``name + "/"`` for folders makes a depth-first walk produce keys in the same
        order as S3 (``a-c`` < ``a/b`` because ``-`` < ``/``), so paging works the same in both stores.
        """
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        named = sorted(
            (e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e)
            for e in entries
            if not e.name.startswith(".")
        )
        for name, entry in named:
            key = base + name
            if name.endswith("/"):
                if not (key.startswith(prefix) or prefix.startswith(key)):
                    continue
                if after is not None and key < after and not after.startswith(key):
                    continue  # the whole subtree sorts before the cursor
                yield from self._walk(Path(entry.path), key, prefix, after)
            elif key.startswith(prefix) and (after is None or key > after):
                yield key, Path(entry.path)

    # -- writing

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        path = self._path(key)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        meta = json.dumps(
            {"content_type": content_type or DEFAULT_CONTENT_TYPE, "etag": etag, "size": len(data)}
        ).encode()
        tmp_data = tmp_meta = None
        try:
            tmp_data, tmp_meta = self._temp_file(data), self._temp_file(meta)
            with self._write_lock():
                current = self._info(key, path)
                if if_none_match and current is not None:
                    raise Conflict()
                if if_match is not None and (current is None or current.etag != _unquote_etag(if_match)):
                    raise Conflict()
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_meta, self._meta_path(path))
                os.replace(tmp_data, path)
                tmp_data = tmp_meta = None
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            # "a" is a file and "a/b" is asked for (or the reverse): S3 allows it, a folder cannot.
            raise Conflict() from None
        except OSError as exc:
            raise _unavailable(exc) from exc
        finally:
            for leftover in (tmp_data, tmp_meta):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
        return etag

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            with self._write_lock():
                self._delete_locked(path)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def delete_many(self, keys: Iterable[str]) -> None:
        paths = [self._path(k) for k in keys]  # validate all before deleting any
        try:
            with self._write_lock():
                for path in paths:
                    self._delete_locked(path)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def _delete_locked(self, path: Path) -> None:
        if path.is_dir():
            return  # a "folder" is not an object
        for victim in (path, self._meta_path(path)):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                victim.unlink()
        # Prune empty parent folders so deleted users leave nothing behind; safe under the write lock.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    # -- presigned URLs served by the local server at /_store/{key}

    def _signature(self, method: str, key: str, exp: int, max_bytes: int = 0, content_type: str = "") -> str:
        message = "\n".join([method, key, str(exp), str(max_bytes), content_type]).encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def _url(self, key: str, params: str) -> str:
        return f"{self.public_url}/_store/{quote(key, safe='/')}?{params}"

    def presign_get(self, key: str, expires_s: int) -> str:
        validate_key(key)
        exp = int(time.time()) + _check_expiry(expires_s)
        return self._url(key, f"exp={exp}&sig={self._signature('GET', key, exp)}")

    def presign_put(self, key: str, expires_s: int, content_type: str, max_bytes: int) -> PresignedPut:
        validate_key(key)
        validate_content_type(content_type)
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        exp = int(time.time()) + _check_expiry(expires_s)
        sig = self._signature("PUT", key, exp, max_bytes, content_type)
        url = self._url(key, f"exp={exp}&max={max_bytes}&ct={quote(content_type, safe='')}&sig={sig}")
        return PresignedPut(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=float(exp),
            max_bytes=max_bytes,
        )

    def verify_presigned(self, method: str, key: str, query: Mapping[str, str]) -> None:
        """Check a presigned URL's query for ``method`` on ``key``; raise ``Forbidden`` if it is forged,
        tampered with or expired. After this, ``query["max"]`` (bytes) and ``query["ct"]`` (content
        type) of a PUT are trusted: store at most that many bytes, with that content type.
        """
        validate_key(key)
        method = "GET" if method.upper() == "HEAD" else method.upper()
        try:
            exp = int(query["exp"])
            max_bytes = int(query["max"]) if method == "PUT" else 0
            content_type = query["ct"] if method == "PUT" else ""
            sig = query["sig"]
        except (KeyError, ValueError, TypeError):
            raise _bad_link() from None
        if method not in ("GET", "PUT") or not isinstance(sig, str):
            raise _bad_link()
        expected = self._signature(method, key, exp, max_bytes, content_type)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise _bad_link()
        if exp < time.time():
            raise Forbidden(
                "This link has expired. Please request a new one.",
                "链接已过期，请重新获取。",
                code="forbidden",
            )


def _bad_link() -> Forbidden:
    return Forbidden("This link is invalid.", "链接无效。", code="forbidden")


# --------------------------------------------------------------------------------------------- S3Store

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
                        raise _unavailable(exc) from exc
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
            params["IfMatch"] = f'"{_unquote_etag(if_match)}"'
        if if_none_match:
            params["IfNoneMatch"] = "*"
        conditional = if_match is not None or if_none_match
        response = self._call("put_object", conditional=conditional, **params)
        return _unquote_etag(response.get("ETag")) or hashlib.md5(data, usedforsecurity=False).hexdigest()

    def get(self, key: str) -> bytes:
        validate_key(key)
        response = self._call("get_object", Key=key)
        try:
            return bytes(response["Body"].read())
        except _s3_exceptions() as exc:  # the connection dropped mid-body
            raise _unavailable(exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            response = self._call("head_object", Key=key)
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=_unquote_etag(response.get("ETag")),
            content_type=str(response.get("ContentType") or DEFAULT_CONTENT_TYPE),
            last_modified=_epoch(response.get("LastModified")),
        )

    def list(
        self, prefix: str, *, cursor: str | None = None, limit: int = MAX_LIST_LIMIT
    ) -> tuple[list[ObjectInfo], str | None]:
        _validate_prefix(prefix)
        _validate_limit(limit)
        after = _validate_cursor(cursor)
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": limit}
        if after is not None:
            params["StartAfter"] = after
        try:
            response = self._call("list_objects_v2", **params)
        except NotFound as exc:  # NoSuchBucket is mapped to unavailable; any other 404 here is odd
            raise _unavailable(exc) from exc
        items = [
            ObjectInfo(
                key=str(o["Key"]),
                size=int(o.get("Size", 0)),
                etag=_unquote_etag(o.get("ETag")),
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
        validate_key(key)
        return self._presign("get_object", {"Key": key}, _check_expiry(expires_s))

    def presign_put(self, key: str, expires_s: int, content_type: str, max_bytes: int) -> PresignedPut:
        validate_key(key)
        validate_content_type(content_type)
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        expires = _check_expiry(expires_s)
        url = self._presign("put_object", {"Key": key, "ContentType": content_type}, expires)
        return PresignedPut(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=time.time() + expires,
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
            raise _unavailable(exc) from exc


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else 0.0


# ------------------------------------------------------------------------------------------ open_store

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


def _file_root(url: str) -> Path:
    rest = url[len("file://") :]
    if not rest:
        raise ValueError("file:// storage URL needs a folder")
    return Path(rest).expanduser()  # relative → from the current directory (resolved by LocalStore)


def open_store(
    url: str,
    *,
    signing_key: bytes = b"",
    public_url: str = "http://127.0.0.1:8000",
    environ: Mapping[str, str] | None = None,
) -> ObjectStore:
    """Open the store a ``XIAOFEI_STORAGE`` URL names. Configuration mistakes raise ``ValueError``
    (at start-up, for the operator); the S3 client is made on first use."""
    if url.startswith("file://"):
        return LocalStore(_file_root(url), signing_key=signing_key, public_url=public_url)
    if url.startswith("s3://"):
        cfg = parse_s3_url(url)
        # The environment is read when the client is made (and remade after credentials expire).
        return S3Store(bucket=cfg.bucket, client_factory=lambda: make_s3_client(cfg, environ))
    raise ValueError("XIAOFEI_STORAGE must start with file:// or s3://")
