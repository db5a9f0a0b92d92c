"""What several use-cases share: the caller check, model names, client request ids, the public record.

Use-cases are plain functions that take the App, a caller and typed, already-parsed arguments, and return
a dict. They know nothing about SCF, WeChat or HTTP: the adapters (``adapters.api``) parse requests into
arguments and render the returned dicts (or raised ``AppError``s) into each platform's shape.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from xiaofei.app import App
from xiaofei.errors import AppError, BadRequest, Conflict, Unauthorized, unknown_model
from xiaofei.identity import Caller
from xiaofei.records.keys import idem_key

log = logging.getLogger(__name__)

# What a caller may upload: the extension (of the upload key) → the content type a presigned PUT signs.
UPLOAD_EXTS: Final = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "dcm": "application/dicom",
}
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class Wrong:
    """A field that was given with the wrong type, whose error the use-case reports at its own point
    (after the checks that come first), exactly as if the raw value had reached it."""

    _instance: Wrong | None = None

    def __new__(cls) -> Wrong:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WRONG"


WRONG: Final = Wrong()


def known(caller: Caller | None) -> Caller:
    """The caller, who must have an identity (a session or a WeChat openid)."""
    if caller is None or caller.anonymous:
        raise Unauthorized()
    return caller


def resolve_model_name(app: App, name: str | None) -> str:
    names = app.settings.model_names
    if name in (None, ""):
        return app.settings.default_model
    if not isinstance(name, str) or name not in names:
        raise unknown_model(str(name), names)
    return name


def validate_client_request_id(value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _CLIENT_REQUEST_ID.match(value):
        raise BadRequest(
            "request_id must be 8–128 letters, digits or _.:-", "request_id 须为 8–128 位字母、数字或 _.:-"
        )
    return value


def claim(app: App, caller: Caller, request_key: str, record_id: str) -> bool:
    """Claim a client request id before doing the work, so concurrent retries make one record."""
    try:
        app.history.remember_client_request_id(caller.uid, request_key, record_id)
        return True
    except Conflict:
        return False


def release(app: App, caller: Caller, request_key: str) -> None:
    try:
        app.store.delete(idem_key(caller.uid, request_key))
    except AppError:
        log.warning("could not release a client request id")


def public_record(app: App, record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as a caller sees it: short-lived URLs instead of internal fields."""
    ttl = app.settings.url_ttl_s
    out = {
        k: v
        for k, v in record.items()
        if k not in {"uid", "image_key", "heatmap_key", "upload_key", "client_request_id"}
    }
    for field, key_field in (("image", "image_key"), ("heatmap", "heatmap_key")):
        key = record.get(key_field)
        out[field] = {"key": key, "url": app.store.presign_get(key, ttl)} if key else None
    return out
