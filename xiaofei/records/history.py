"""Per-user prediction records over the object store (their keys: ``records.keys``).

The record key is derived from the id alone (its time part), so get and delete need no listing, and a
caller's id can only ever address that caller's own prefix. Ids, uids, cursors and upload keys are
validated before they become part of a key; an invalid or foreign id is simply ``NotFound``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from xiaofei import clock
from xiaofei.errors import BadRequest, Conflict, NotFound
from xiaofei.ids import is_valid_id
from xiaofei.records.keys import (
    RECORD_NAME_RE,
    USER_PREFIXES,
    check_uid,
    idem_key,
    is_own_media_key,
    keys_for,
    record_key,
    user_prefix,
)
from xiaofei.storage.open import ObjectStore, validate_key

log = logging.getLogger(__name__)

MAX_PAGE = 50
STATUSES = ("pending", "done", "failed")
IDEM_STALE_S = 300.0  # an idempotency claim whose record never appeared may be taken over after this
_JSON = "application/json; charset=utf-8"


def _bad_cursor() -> BadRequest:
    return BadRequest("Invalid cursor.", "分页游标无效。")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise _bad_cursor()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None


class HistoryRepo:
    """Records of one store. With a ``secret``, list cursors are also HMAC-signed (then a cursor is
    valid only for the user it was given to and cannot be edited at all); without one they are still
    checked to point inside the caller's own prefix."""

    erase_page = 1000  # keys per LIST + DeleteObjects round in delete_all (the S3 maximum)

    def __init__(self, store: ObjectStore, *, secret: bytes | None = None) -> None:
        self.store = store
        self._cursor_key = (
            hmac.new(secret, b"xiaofei-history-cursor", hashlib.sha256).digest() if secret else None
        )

    def record_key(self, uid: str, record_id: str) -> str:
        return record_key(uid, record_id)

    # -- records

    def put(self, record: dict[str, Any]) -> None:
        """Write (or overwrite: pending → done) a record. Write it last, after its image and heatmap."""
        if not isinstance(record, dict):
            raise TypeError("record must be a dict")
        uid, record_id = record.get("uid"), record.get("id")
        if not isinstance(uid, str) or not isinstance(record_id, str) or not is_valid_id(record_id):
            raise ValueError("record needs a valid uid and id")
        if record.get("status") not in STATUSES:
            raise ValueError(f"record status must be one of {STATUSES}")
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        self.store.put(self.record_key(uid, record_id), body, _JSON)

    def get(self, uid: str, record_id: str) -> dict[str, Any]:
        record = self._read(self.record_key(uid, record_id))
        if record is None or record.get("uid") != uid or record.get("id") != record_id:
            raise NotFound()
        return record

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            data = self.store.get(key)
        except NotFound:
            return None
        try:
            record = json.loads(data)
        except ValueError:
            log.warning("history: unreadable record %s", key)
            return None
        return record if isinstance(record, dict) else None

    # -- listing

    def list(self, uid: str, *, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. The cursor names the last record of the previous page, so records added while
        someone pages (always newer, so sorted before it) never shift the pages still to come."""
        check_uid(uid)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be 1..{MAX_PAGE}.", f"limit 必须在 1 到 {MAX_PAGE} 之间。")
        prefix = user_prefix("history", uid)
        after = self._decode_cursor(uid, cursor) if cursor else None
        infos, more = self.store.list(prefix, cursor=after, limit=limit)
        infos = [i for i in infos if RECORD_NAME_RE.match(i.key[len(prefix) :])]
        if len(infos) > 1:
            with ThreadPoolExecutor(max_workers=min(8, len(infos))) as pool:
                fetched = list(pool.map(self._read, [i.key for i in infos]))
        else:
            fetched = [self._read(i.key) for i in infos]
        # A record deleted between LIST and GET is skipped, and so is one whose uid is not its owner's.
        records = [r for r in fetched if r is not None and r.get("uid") == uid]
        next_cursor = self._encode_cursor(uid, infos[-1].key) if more and infos else None
        return records, next_cursor

    def _sign(self, payload: str) -> str:
        assert self._cursor_key is not None
        return _b64(hmac.new(self._cursor_key, payload.encode(), hashlib.sha256).digest()[:16])

    def _encode_cursor(self, uid: str, key: str) -> str:
        payload = _b64(key.encode())
        return f"{payload}.{self._sign(uid + payload)}" if self._cursor_key else payload

    def _decode_cursor(self, uid: str, cursor: str) -> str:
        if not isinstance(cursor, str) or len(cursor) > 256:
            raise _bad_cursor()
        payload, _, sig = cursor.partition(".")
        if self._cursor_key is not None and not hmac.compare_digest(
            sig.encode(), self._sign(uid + payload).encode()
        ):
            raise _bad_cursor()
        try:
            key = _unb64(payload).decode("ascii")
        except UnicodeDecodeError:
            raise _bad_cursor() from None
        prefix = user_prefix("history", uid)
        match = RECORD_NAME_RE.match(key[len(prefix) :]) if key.startswith(prefix) else None
        if not match or not is_valid_id(match.group(2)) or key != self.record_key(uid, match.group(2)):
            raise _bad_cursor()
        return validate_key(key)

    # -- deletion

    def delete(self, uid: str, record_id: str) -> None:
        """Delete a record with its upload, image and heatmap (and its idempotency entry). The record
        goes last: if anything fails, it is still there and a retry finishes the job."""
        record = self.get(uid, record_id)
        keys = keys_for(uid, record_id)
        owned = {keys["image"], keys["heatmap"]}
        for field in ("image_key", "heatmap_key", "upload_key"):
            key = record.get(field)
            # Only keys inside this user's own prefixes: a record can never make us delete anything else.
            if isinstance(key, str) and is_own_media_key(uid, key):
                owned.add(validate_key(key))
        crid = record.get("client_request_id")
        if isinstance(crid, str) and crid:
            with contextlib.suppress(BadRequest):
                owned.add(idem_key(uid, crid))
        self.store.delete_many(sorted(owned))
        self.store.delete(keys["record"])

    def delete_all(self, uid: str) -> int:
        """Erase everything of this user under every prefix; returns the number of records deleted."""
        check_uid(uid)
        records = 0
        for area in USER_PREFIXES:
            prefix = user_prefix(area, uid)
            cursor: str | None = None
            while True:
                infos, cursor = self.store.list(prefix, cursor=cursor, limit=self.erase_page)
                if infos:
                    self.store.delete_many([i.key for i in infos])
                if area == "history":
                    records += len(infos)
                if cursor is None:
                    break
        return records

    # -- idempotent retries

    def find_by_client_request_id(self, uid: str, client_request_id: str) -> dict[str, Any] | None:
        """The record an earlier request with this client request id made, or None."""
        entry = self._read(idem_key(uid, client_request_id))
        record_id = entry.get("id") if entry else None
        if not isinstance(record_id, str) or not is_valid_id(record_id):
            return None
        try:
            return self.get(uid, record_id)
        except NotFound:
            return None

    def remember_client_request_id(self, uid: str, client_request_id: str, record_id: str) -> None:
        """Claim ``client_request_id`` for ``record_id`` (create-only, so concurrent retries agree).

        Idempotent for the same record id. Raises ``Conflict`` when the id is already claimed by another
        record that exists, or by a claim younger than ``IDEM_STALE_S`` whose record is not written yet
        (an in-flight twin): the caller should then return ``find_by_client_request_id``'s record, or
        ask the client to retry. An older claim whose record never appeared is taken over.
        """
        key = idem_key(uid, client_request_id)
        if not is_valid_id(record_id):
            raise ValueError("invalid record id")
        body = json.dumps({"id": record_id, "created_at": clock.now()}).encode()
        try:
            self.store.put(key, body, _JSON, if_none_match=True)
            return
        except Conflict:
            pass
        info = self.store.head(key)
        entry = self._read(key) or {}
        if entry.get("id") == record_id:
            return
        other = entry.get("id")
        if isinstance(other, str) and is_valid_id(other):
            try:
                self.get(uid, other)
                raise Conflict()
            except NotFound:
                pass
        created = entry.get("created_at")
        if info is None or (isinstance(created, (int, float)) and clock.now() - created < IDEM_STALE_S):
            raise Conflict()
        self.store.put(key, body, _JSON, if_match=info.etag)  # Conflict if someone else took it over first
