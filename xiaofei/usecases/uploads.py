"""The async path: a client uploads with a presigned PUT (or to cloud storage), the bucket's COS
trigger runs the prediction, and the client polls ``history get`` until ``status`` is done or failed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from xiaofei.app import App
from xiaofei.clock import now_iso
from xiaofei.errors import AppError, NotFound
from xiaofei.identity import Caller
from xiaofei.usecases import service

log = logging.getLogger(__name__)
_UPLOAD_KEY = re.compile(r"^uploads/(?P<uid>[0-9a-f]{32})/(?P<id>[0-9a-z]{26})\.(?P<ext>[a-z]+)$")


def complete_uploads(app: App, keys: list[str]) -> dict[str, Any]:
    """Predict each uploaded object whose record is still pending; anything else is skipped."""
    results = {"done": 0, "failed": 0, "skipped": 0}
    for key in keys:
        results[_complete_one(app, key)] += 1
    log.info("uploads completed", extra=results)
    return results


def _complete_one(app: App, key: str) -> str:
    match = _UPLOAD_KEY.match(key)
    if not match:
        return "skipped"
    uid, record_id = match["uid"], match["id"]
    try:
        record = app.history.get(uid, record_id)
    except NotFound:
        return "skipped"  # not an upload this service handed out (or already erased)
    if record.get("status") != "pending":
        return "skipped"  # already answered, e.g. by a synchronous predict of the same upload
    owner = Caller(provider="trigger", subject=uid, uid=uid)
    try:
        service.predict(
            app, owner, service.ImageSource(key=key), record.get("model", {}).get("name"), record_id=record_id
        )
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
