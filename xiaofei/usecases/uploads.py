"""Uploads, the async path: a client asks for a place to upload one image (``create_upload``), uploads it
(a presigned PUT, or WeChat cloud storage), the bucket's COS trigger runs the prediction
(``complete_uploads``), and the client polls ``history get`` until ``status`` is done or failed.
"""

from __future__ import annotations

import logging
from typing import Any

from xiaofei.app import App
from xiaofei.clock import now_iso
from xiaofei.errors import AppError, Conflict, NotFound
from xiaofei.identity import Caller
from xiaofei.ids import new_id
from xiaofei.records.keys import split_upload_key, upload_key
from xiaofei.usecases.common import UPLOAD_EXTS, claim, resolve_model_name
from xiaofei.usecases.predict import ImageSource, predict

log = logging.getLogger(__name__)


def create_upload(
    app: App, caller: Caller, ext: str, model: str, request_key: str | None, *, presign: bool
) -> dict[str, Any]:
    """A place for the caller to upload one image: the upload's ``key`` and, with ``presign`` (HTTP
    clients), a presigned PUT to it; without (the mini program), the adapter tells the client where to
    put it in its own cloud storage.

    ``ext`` is one of ``UPLOAD_EXTS``, ``model`` a served model's name. With a ``request_key`` (the
    client's request id), a retry of the same request gets the same upload (same id and key, a fresh
    URL) instead of a second pending record: a client that lost the answer can retry safely.
    """
    record_id = new_id()
    key = upload_key(caller.uid, record_id, ext)
    existing = None
    if request_key and not claim(app, caller, request_key, record_id):
        existing = app.history.find_by_client_request_id(caller.uid, request_key)
        if existing is None or not isinstance(existing.get("upload_key"), str):
            raise Conflict()  # a twin request is still in flight: the client retries shortly
        record_id, key = existing["id"], existing["upload_key"]
        ext = key.rsplit(".", 1)[-1]
    settings = app.settings
    out: dict[str, Any] = {"id": record_id, "key": key, "model": model, "max_bytes": settings.max_body_bytes}
    if existing is not None:
        out["status"] = existing.get("status", "pending")
        out["model"] = (existing.get("model") or {}).get("name", model)
    else:
        # A pending record first: the client polls it while the COS trigger predicts the upload.
        app.history.put(
            {
                "id": record_id,
                "uid": caller.uid,
                "status": "pending",
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "model": {"name": model},
                "upload_key": key,
                **({"client_request_id": request_key} if request_key else {}),
            }
        )
    if not presign:
        return out
    put = app.store.presign_put(key, settings.url_ttl_s, UPLOAD_EXTS[ext], settings.max_body_bytes)
    out.update(
        {"url": put.url, "method": put.method, "headers": put.headers, "expires_at": int(put.expires_at)}
    )
    return out


def complete_uploads(app: App, keys: list[str]) -> dict[str, Any]:
    """Predict each uploaded object whose record is still pending; anything else is skipped."""
    results = {"done": 0, "failed": 0, "skipped": 0}
    for key in keys:
        results[_complete_one(app, key)] += 1
    log.info("uploads completed", extra=results)
    return results


def _complete_one(app: App, key: str) -> str:
    parts = split_upload_key(key)
    if parts is None:
        return "skipped"
    uid, record_id, _ = parts
    try:
        record = app.history.get(uid, record_id)
    except NotFound:
        return "skipped"  # not an upload this service handed out (or already erased)
    if record.get("status") != "pending":
        return "skipped"  # already answered, e.g. by a synchronous predict of the same upload
    owner = Caller(provider="trigger", subject=uid, uid=uid)
    try:
        name = record.get("model", {}).get("name")
        model = resolve_model_name(app, None if name is None else str(name))
        predict(app, owner, ImageSource(key=key), model, record_id=record_id)
        return "done"
    except AppError as exc:
        failed = {
            **record,
            "status": "failed",
            "error": exc.to_dict()["error"],
            "updated_at": now_iso(),
        }
        app.history.put(failed)
        return "failed"
