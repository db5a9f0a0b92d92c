"""``LocalStore``: the object store as a folder (the embedded default and the test store)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mimetypes
import os
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from xiaofei import clock
from xiaofei.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from xiaofei.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MAX_LIST_LIMIT,
    ObjectInfo,
    PresignedPut,
    bad_key,
    check_cursor,
    check_limit,
    check_prefix,
    check_presign_get,
    check_presign_put,
    unavailable,
    unquote_etag,
    validate_key,
)

try:  # advisory cross-process lock for writes (POSIX); threads are covered by a Lock anyway
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


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
            raise unavailable(exc) from exc
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
            raise bad_key()
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
        cutoff = clock.now() - 3600
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
            raise unavailable(exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            with self._lock:  # the data file and its sidecar are replaced together under this lock
                return self._info(key, path)
        except OSError as exc:
            raise unavailable(exc) from exc

    def list(
        self, prefix: str, *, cursor: str | None = None, limit: int = MAX_LIST_LIMIT
    ) -> tuple[list[ObjectInfo], str | None]:
        check_prefix(prefix)
        check_limit(limit)
        after = check_cursor(cursor)
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
            raise unavailable(exc) from exc
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
                if if_match is not None and (current is None or current.etag != unquote_etag(if_match)):
                    raise Conflict()
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_meta, self._meta_path(path))
                os.replace(tmp_data, path)
                tmp_data = tmp_meta = None
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            # "a" is a file and "a/b" is asked for (or the reverse): S3 allows it, a folder cannot.
            raise Conflict() from None
        except OSError as exc:
            raise unavailable(exc) from exc
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
            raise unavailable(exc) from exc

    def delete_many(self, keys: Iterable[str]) -> None:
        paths = [self._path(k) for k in keys]  # validate all before deleting any
        try:
            with self._write_lock():
                for path in paths:
                    self._delete_locked(path)
        except OSError as exc:
            raise unavailable(exc) from exc

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
        exp = int(clock.now()) + check_presign_get(key, expires_s)
        return self._url(key, f"exp={exp}&sig={self._signature('GET', key, exp)}")

    def presign_put(self, key: str, expires_s: int, content_type: str, max_bytes: int) -> PresignedPut:
        exp = int(clock.now()) + check_presign_put(key, expires_s, content_type, max_bytes)
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
        if exp < clock.now():
            raise Forbidden(
                "This link has expired. Please request a new one.",
                "链接已过期，请重新获取。",
                code="forbidden",
            )

    def accept_presigned_put(self, key: str, query: Mapping[str, str], body: bytes) -> str:
        """What the local server's ``PUT /_store/{key}`` does: verify the link, refuse a body over its
        signed size limit (``payload_too_large``), store it with its signed content type; the etag."""
        self.verify_presigned("PUT", key, query)
        if len(body) > int(query["max"]):
            raise PayloadTooLarge()
        return self.put(key, body, query["ct"])


def _bad_link() -> Forbidden:
    return Forbidden("This link is invalid.", "链接无效。", code="forbidden")
