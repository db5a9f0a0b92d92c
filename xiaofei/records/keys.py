"""Every per-user object key, built and parsed here and nowhere else.

Layout (DESIGN.md)::

    uploads/{uid}/{id}.{ext}                  raw upload (presigned PUT / cloud storage)
    images/{uid}/{id}.jpg                     stored image, metadata stripped
    heatmaps/{uid}/{id}.png                   CAM overlay
    history/{uid}/{inverted-ms}-{id}.json     the record; keys sort newest first
    idem/{uid}/{sha256(client_request_id)[:32]}.json   → {"id": record id}: retries return the same record
    reviewers/{uid}.json                      a reviewer (the doctor's keyed uid hash only)

The record key is derived from the id alone (its time part), so get and delete need no listing, and a
caller's id can only ever address that caller's own prefix. Ids, uids and extensions are validated before
they become part of a key; an invalid or foreign upload key is simply ``NotFound``.
"""

from __future__ import annotations

import hashlib
import re

from xiaofei.errors import BadRequest, NotFound
from xiaofei.ids import id_time_ms, inverted_ms, is_valid_id

USER_PREFIXES = ("uploads", "images", "heatmaps", "idem", "history")  # history last: see delete_all
REVIEWERS_PREFIX = "reviewers/"
UPLOADS_PREFIX = "uploads/"  # every user's uploads (the COS trigger's filter)
HISTORY_PREFIX = "history/"  # every user's records (the operator's export and agreement)
_UID_RE = re.compile(r"^[0-9a-f]{32}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,5}$")
_UPLOAD_RE = re.compile(r"uploads/([0-9a-f]{32})/([0-9a-z]{26})\.([a-z0-9]{1,5})")
RECORD_NAME_RE = re.compile(r"^(\d{15})-([0-9a-z]{26})\.json$")


def is_uid(value: object) -> bool:
    """A uid is 32 hexadecimal characters (``identity.uid_for``); a reviewer code is a uid."""
    return isinstance(value, str) and bool(_UID_RE.match(value))


def check_uid(uid: str) -> str:
    # uids are made by identity.uid_for; anything else is a bug upstream, never a path component.
    if not is_uid(uid):
        raise BadRequest("Invalid user.", "用户标识无效。")
    return uid


def user_prefix(area: str, uid: str) -> str:
    """``{area}/{uid}/``: one user's part of one of ``USER_PREFIXES``."""
    if area not in USER_PREFIXES:
        raise ValueError(f"unknown area {area!r}")
    return f"{area}/{check_uid(uid)}/"


def record_name(record_id: str) -> str:
    return f"{inverted_ms(id_time_ms(record_id))}-{record_id}.json"


def record_owner(key: str) -> str | None:
    """The uid of a ``history/{uid}/{name}.json`` key as listed under ``HISTORY_PREFIX``, else None."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "history" or not parts[2].endswith(".json"):
        return None
    return parts[1]


def record_key(uid: str, record_id: str) -> str:
    """The record's key; ``NotFound`` for an invalid id."""
    check_uid(uid)
    if not is_valid_id(record_id):
        raise NotFound()
    return f"history/{uid}/{record_name(record_id)}"


def keys_for(uid: str, record_id: str, ext: str = "jpg") -> dict[str, str]:
    """The object keys of one prediction: ``upload`` (with ``ext``), ``image``, ``heatmap``, ``record``."""
    check_uid(uid)
    if not is_valid_id(record_id):
        raise BadRequest("Invalid id.", "编号无效。")
    if not isinstance(ext, str) or not _EXT_RE.match(ext):
        raise BadRequest("Invalid file extension.", "文件扩展名无效。")
    return {
        "upload": f"uploads/{uid}/{record_id}.{ext}",
        "image": f"images/{uid}/{record_id}.jpg",
        "heatmap": f"heatmaps/{uid}/{record_id}.png",
        "record": f"history/{uid}/{record_name(record_id)}",
    }


def upload_key(uid: str, record_id: str, ext: str) -> str:
    return keys_for(uid, record_id, ext)["upload"]


def split_upload_key(key: object) -> tuple[str, str, str] | None:
    """``(uid, record_id, ext)`` of any well-formed ``uploads/{uid}/{id}.{ext}``, else None."""
    match = _UPLOAD_RE.fullmatch(key) if isinstance(key, str) else None
    if not match or not is_valid_id(match.group(2)):
        return None
    return match.group(1), match.group(2), match.group(3)


def parse_upload_key(uid: str, key: object) -> tuple[str, str]:
    """``(record_id, ext)`` of ``uploads/{uid}/{id}.{ext}``; ``NotFound`` for anything else, including
    another user's upload (existence is never confirmed)."""
    check_uid(uid)
    parts = split_upload_key(key)
    if parts is None or parts[0] != uid:
        raise NotFound()
    return parts[1], parts[2]


def is_own_media_key(uid: str, key: str) -> bool:
    """Whether ``key`` lies in this user's uploads, images or heatmaps (what a record may point at)."""
    return key.split("/")[:2] in ([p, uid] for p in USER_PREFIXES[:3])


def idem_key(uid: str, client_request_id: str) -> str:
    check_uid(uid)
    if (
        not isinstance(client_request_id, str)
        or not 1 <= len(client_request_id) <= 128
        or not client_request_id.isprintable()
    ):
        raise BadRequest("Invalid request id.", "请求编号无效。")
    digest = hashlib.sha256(client_request_id.encode()).hexdigest()[:32]
    return f"idem/{uid}/{digest}.json"


def reviewer_key(uid: str) -> str:
    if not is_uid(uid):
        raise BadRequest(
            "A reviewer code is 32 hexadecimal characters.", "审阅医生编码应为 32 位十六进制字符。"
        )
    return f"{REVIEWERS_PREFIX}{uid}.json"


def reviewer_of_key(key: str) -> str:
    """The uid of a ``reviewers/{uid}.json`` key (as listed)."""
    return key[len(REVIEWERS_PREFIX) :].removesuffix(".json")
