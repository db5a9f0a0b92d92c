"""Predict: read one image and answer; for a known caller, keep the image, heatmap and record."""

from __future__ import annotations

import base64
import contextvars
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from xiaofei.app import App
from xiaofei.clock import now_iso
from xiaofei.errors import (
    AppError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
)
from xiaofei.identity import Caller
from xiaofei.ids import new_id
from xiaofei.log import append_keys
from xiaofei.records.keys import keys_for, parse_upload_key
from xiaofei.usecases.common import UPLOAD_EXTS, claim, public_record, release

log = logging.getLogger(__name__)
# Threads for the store writes of one prediction (image ∥ heatmap). Idle between requests; SCF freezes
# them with the instance. The request's log context travels with each write (contextvars).
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="xiaofei-store")


@dataclass(frozen=True)
class ImageSource:
    """Where the image of a prediction comes from: bytes in the request, or an upload the caller made
    (its key, ``uploads/{uid}/{id}.{ext}``: the adapters turn a WeChat fileID into it)."""

    data: bytes | None = None
    key: str | None = None


def predict(
    app: App,
    caller: Caller | None,
    source: ImageSource,
    model: str,
    request_key: str | None = None,
    record_id: str | None = None,
) -> dict[str, Any]:
    """Read one image and return the answer; for a known caller, store image, heatmap and record.

    ``model``: a served model's name (``common.resolve_model_name``); ``request_key``: the client's
    request id (``common.validate_client_request_id``), which makes retries return the same record.
    """
    name = model
    data = read_source(app, caller, source)
    if caller is None or caller.anonymous:  # nothing is kept: the heatmap travels inline
        answer, _, heatmap_png = _answer(app, name, new_id(), data)
        answer["heatmap"] = {"data_url": "data:image/png;base64," + base64.b64encode(heatmap_png).decode()}
        answer["image"] = None
        return answer
    if source.key:  # an upload's record id is its own: the trigger and this agree
        record_id = parse_upload_key(caller.uid, upload_key_from(app, caller, source))[0]
    record_id = record_id or new_id()
    if request_key and not claim(app, caller, request_key, record_id):
        existing = app.history.find_by_client_request_id(caller.uid, request_key)
        if existing is None:
            raise Conflict()  # a twin request is still in flight: the client retries shortly
        return public_record(app, existing)
    # A client's small upright JPEG is stored as it came (minus metadata): its write can start now and
    # run beside the model instead of after it. If the prediction then fails, it is removed again.
    early = _start_image_write(app, caller.uid, record_id, data)
    try:
        answer, image, heatmap_png = _answer(app, name, caller.uid, data)
        answer["id"] = record_id
        if request_key:  # kept in the record, so deleting it also frees its idempotency entry
            answer["client_request_id"] = request_key
        record = store_prediction(app, caller, answer, image, heatmap_png, source, data, early=early)
    except BaseException as exc:
        if early is not None:
            _abandon(app, early)
        if isinstance(exc, AppError) and request_key:  # let a retry of this failed request run again
            release(app, caller, request_key)
        raise
    return public_record(app, record)


@dataclass
class _EarlyWrite:
    key: str
    future: Future[Any]
    settled: bool = False


def _start_image_write(app: App, uid: str, record_id: str, data: bytes) -> _EarlyWrite | None:
    from xiaofei.imaging.jpegclean import clean_jpeg

    if data[:3] != b"\xff\xd8\xff":
        return None
    cleaned = clean_jpeg(data, STORED_PASSTHROUGH_MAX_SIDE)
    if cleaned is None:
        return None
    key = keys_for(uid, record_id)["image"]
    run = contextvars.copy_context().run
    return _EarlyWrite(key, _WRITERS.submit(run, app.store.put, key, cleaned, "image/jpeg"))


def _abandon(app: App, early: _EarlyWrite) -> None:
    """The prediction failed after its image write started: wait for the write, then remove it."""
    if early.settled:
        return
    early.settled = True
    try:
        early.future.result()
    except Exception:
        return  # nothing was written
    _remove_quietly(app, [early.key])


def _answer(app: App, name: str, routing_key: str, data: bytes) -> tuple[dict[str, Any], Any, bytes]:
    # Imported here: numpy, Pillow and the model code stay off the cold start of the functions that never
    # read an image (history, model_update).
    from xiaofei.inference.reading import answer_of, read_image

    model = app.models.get(name, routing_key)
    append_keys(model=name, model_version=model.version)
    s = app.settings
    reading = read_image(model, data, max_bytes=s.max_body_bytes, max_pixels=s.max_pixels, heatmap=True)
    assert reading.heatmap_png is not None
    return answer_of(reading), reading.image, reading.heatmap_png


def read_source(app: App, caller: Caller | None, source: ImageSource) -> bytes:
    if source.data is not None:
        if len(source.data) > app.settings.max_body_bytes:
            raise PayloadTooLarge()
        return source.data
    if caller is None or caller.anonymous:
        raise Unauthorized()
    key = upload_key_from(app, caller, source)
    info = app.store.head(key)
    if info is None:
        raise NotFound("The upload was not found.", "未找到上传的文件。")
    if info.size > app.settings.max_body_bytes:
        raise PayloadTooLarge()
    data: bytes = app.store.get(key)
    return data


def upload_key_from(app: App, caller: Caller, source: ImageSource) -> str:
    """The caller's own upload key; anything else (another user's, a foreign fileID) → not_found."""
    key = source.key
    _, ext = parse_upload_key(caller.uid, key if isinstance(key, str) else "")
    if ext not in UPLOAD_EXTS:
        raise NotFound()
    return str(key)


def stored_image_bytes(image: Any, data: bytes | None) -> bytes:
    """The stored copy of the image: the caller's own JPEG minus its metadata when it is already small
    and upright (what both clients send: no decode, no re-encode), else a fresh metadata-free JPEG of the
    decoded image (``encode_for_storage``)."""
    from xiaofei.imaging.image_io import encode_for_storage  # see _answer
    from xiaofei.imaging.jpegclean import clean_jpeg

    if data is not None and data[:3] == b"\xff\xd8\xff":
        cleaned = clean_jpeg(data, STORED_PASSTHROUGH_MAX_SIDE)
        if cleaned is not None:
            return cleaned
    return encode_for_storage(image)


# The longest side of a client's JPEG stored as it came (the clients downscale to this).
STORED_PASSTHROUGH_MAX_SIDE = 2048


def store_prediction(
    app: App,
    caller: Caller,
    answer: dict[str, Any],
    image: Any,
    heatmap_png: bytes,
    source: ImageSource,
    data: bytes | None = None,
    *,
    early: _EarlyWrite | None = None,
) -> dict[str, Any]:
    """Image and heatmap, then the record last: a failure never leaves a record pointing at nothing.

    ``early``: the image's write, already started (``_start_image_write``); it is waited for here.
    """
    keys = keys_for(caller.uid, answer["id"])
    written: list[str] = []
    try:
        objects = [(keys["heatmap"], heatmap_png, "image/png")]
        if early is None:
            objects.insert(0, (keys["image"], stored_image_bytes(image, data), "image/jpeg"))
        written = _put_together(app, objects, early)
        record = {
            **answer,
            "uid": caller.uid,
            "image_key": keys["image"],
            "heatmap_key": keys["heatmap"],
            "updated_at": now_iso(),
        }
        if source.key:
            record["upload_key"] = upload_key_from(app, caller, source)
        app.history.put(record)
    except AppError as exc:
        _remove_quietly(app, written)
        if isinstance(exc, StorageUnavailable):
            raise
        raise StorageUnavailable() from exc
    return record


def _put_together(
    app: App, objects: list[tuple[str, bytes, str]], early: _EarlyWrite | None = None
) -> list[str]:
    """Write ``objects`` (key, data, content type) side by side: one store round trip instead of one each
    (with ``early``, a write already under way, waited for with them).

    Returns the keys; if any write fails, the others are removed and the first error is raised.
    """
    futures = [
        (key, _WRITERS.submit(contextvars.copy_context().run, app.store.put, key, data, content_type))
        for key, data, content_type in objects
    ]
    if early is not None:
        early.settled = True  # from here on its outcome is handled with the others
        futures.insert(0, (early.key, early.future))
    written, errors = [], []
    for key, future in futures:
        try:
            future.result()
            written.append(key)
        except Exception as exc:  # any failure, a bug included, must not leave orphans
            errors.append(exc)
    if errors:
        _remove_quietly(app, written)
        raise errors[0]
    return written


def _remove_quietly(app: App, keys: list[str]) -> None:
    try:
        app.store.delete_many(keys)
    except AppError:
        log.warning("could not remove partial prediction objects", extra={"count": len(keys)})
