"""Use-cases: plain functions that take the App, a caller and parsed arguments, and return a dict.

They know nothing about SCF, WeChat or HTTP: the adapters in ``events`` and ``api`` parse requests
into arguments and render the returned dicts (or raised ``AppError``s) into each platform's shape.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from xiaofei.app import App, unknown_model
from xiaofei.clock import now_iso
from xiaofei.errors import (
    AppError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
)
from xiaofei.identity import Caller
from xiaofei.ids import is_valid_id, new_id
from xiaofei.log import append_keys
from xiaofei.records.history import idem_key, keys_for, parse_upload_key

log = logging.getLogger(__name__)
# Threads for the store writes of one prediction (image ∥ heatmap). Idle between requests; SCF freezes
# them with the instance. The request's log context travels with each write (contextvars).
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="xiaofei-store")

UPLOAD_EXTS = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "dcm": "application/dicom",
}
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


@dataclass(frozen=True)
class ImageSource:
    """Where the image of a prediction comes from: bytes in the request, or an upload the caller made."""

    data: bytes | None = None
    key: str | None = None  # uploads/{uid}/{id}.{ext} (presigned PUT)
    file_id: str | None = None  # cloud://env.bucket/uploads/{uid}/{id}.{ext} (WeChat cloud storage)


def decode_base64_image(text: Any, max_bytes: int) -> bytes:
    """Strict base64 (data-URL prefix allowed); the size is checked before decoding."""
    if not isinstance(text, str) or not text:
        raise BadRequest(
            "Field 'image' must be a base64 string.",
            "字段 image 必须是 base64 字符串。",
            code="empty_image" if text in ("", None) else "bad_request",
        )
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > max_bytes * 4 // 3 + 8:
        from xiaofei.limits import too_large_for_direct

        raise too_large_for_direct(max_bytes)
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("Field 'image' is not valid base64.", "字段 image 不是有效的 base64。") from exc


def resolve_model_name(app: App, name: Any) -> str:
    names = app.settings.model_names
    if name in (None, ""):
        return app.settings.default_model
    if not isinstance(name, str) or name not in names:
        raise unknown_model(str(name), names)
    return name


def validate_client_request_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _CLIENT_REQUEST_ID.match(value):
        raise BadRequest(
            "request_id must be 8–128 letters, digits or _.:-", "request_id 须为 8–128 位字母、数字或 _.:-"
        )
    return value


# --- predict ----------------------------------------------------------------------------------------


def predict(
    app: App,
    caller: Caller | None,
    source: ImageSource,
    model_name: Any = None,
    client_request_id: Any = None,
    record_id: str | None = None,
) -> dict[str, Any]:
    """Read one image and return the answer; for a known caller, store image, heatmap and record."""
    name = resolve_model_name(app, model_name)
    request_key = validate_client_request_id(client_request_id)
    data = read_source(app, caller, source)
    if caller is None or caller.anonymous:  # nothing is kept: the heatmap travels inline
        answer, _, heatmap_png = _answer(app, name, new_id(), data)
        answer["heatmap"] = {"data_url": "data:image/png;base64," + base64.b64encode(heatmap_png).decode()}
        answer["image"] = None
        return answer
    if source.key or source.file_id:  # an upload's record id is its own: the trigger and this agree
        record_id = parse_upload_key(caller.uid, upload_key_from(app, caller, source))[0]
    record_id = record_id or new_id()
    if request_key and not _claim(app, caller, request_key, record_id):
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
            _release(app, caller, request_key)
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


def _claim(app: App, caller: Caller, request_key: str, record_id: str) -> bool:
    """Claim a client request id before doing the work, so concurrent retries make one record."""
    try:
        app.history.remember_client_request_id(caller.uid, request_key, record_id)
        return True
    except Conflict:
        return False


def _release(app: App, caller: Caller, request_key: str) -> None:
    try:
        app.store.delete(idem_key(caller.uid, request_key))
    except AppError:
        log.warning("could not release a client request id")


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
    """The caller's own upload key, from a key or a WeChat fileID; anything else → not_found."""
    key = _key_from_file_id(app, source.file_id) if source.file_id is not None else source.key
    _, ext = parse_upload_key(caller.uid, key if isinstance(key, str) else "")
    if ext not in UPLOAD_EXTS:
        raise NotFound()
    return str(key)


_APPID_SUFFIX = re.compile(r"-\d{5,}$")


def bucket_without_appid(bucket: str) -> str:
    """``7465-env-1258717764`` → ``7465-env``: fileIDs carry the bucket with or without ``-<appid>``."""
    return _APPID_SUFFIX.sub("", bucket)


def key_from_file_id(file_id: Any, cloud_env: str, cloud_bucket: str = "") -> str:
    """The object key of a WeChat cloud-storage fileID, or "" if it is not this deployment's.

    ``cloud://{env}.{bucket}/{key}``, where WeChat's own examples write the bucket both with and without
    its ``-<appid>`` suffix: both are accepted. The env must be ``cloud_env``; the bucket, when
    ``cloud_bucket`` is configured, must be it (compared without the suffix); the key is everything after
    the first ``/``.
    """
    if not (isinstance(file_id, str) and cloud_env and file_id.startswith("cloud://")):
        return ""
    host, slash, key = file_id[len("cloud://") :].partition("/")
    env, dot, bucket = host.partition(".")
    if not (slash and dot and key and bucket) or env != cloud_env:
        return ""
    if cloud_bucket and bucket_without_appid(bucket) != bucket_without_appid(cloud_bucket):
        return ""
    return key


def _key_from_file_id(app: App, file_id: Any) -> str:
    return key_from_file_id(file_id, app.settings.cloud_env, app.settings.cloud_bucket)


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
        if source.key or source.file_id:
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


# --- sessions, uploads ------------------------------------------------------------------------------


def create_session(app: App) -> dict[str, Any]:
    token, expires_at = app.tokens.issue()
    return {"token": token, "token_type": "Bearer", "expires_at": int(expires_at)}


def create_upload(
    app: App, caller: Caller | None, ext: Any, model_name: Any = None, client_request_id: Any = None
) -> dict[str, Any]:
    """A place for the caller to upload one image: a presigned PUT (HTTP) or a cloud path (mini program).

    With a ``client_request_id``, a retry of the same request gets the same upload (same id and key, a
    fresh URL) instead of a second pending record: a client that lost the answer can retry safely.
    """
    if caller is None or caller.anonymous:
        raise Unauthorized()
    ext = ext.lower().lstrip(".") if isinstance(ext, str) else ""
    if ext not in UPLOAD_EXTS:
        raise BadRequest(
            "Field 'ext' must be one of: " + ", ".join(UPLOAD_EXTS),
            "字段 ext 必须是：" + "、".join(UPLOAD_EXTS),
            code="unsupported_format",
            status=415,
        )
    name = resolve_model_name(app, model_name)
    request_key = validate_client_request_id(client_request_id)
    record_id = new_id()
    key = f"uploads/{caller.uid}/{record_id}.{ext}"
    existing = None
    if request_key and not _claim(app, caller, request_key, record_id):
        existing = app.history.find_by_client_request_id(caller.uid, request_key)
        if existing is None or not isinstance(existing.get("upload_key"), str):
            raise Conflict()  # a twin request is still in flight: the client retries shortly
        record_id, key = existing["id"], existing["upload_key"]
        ext = key.rsplit(".", 1)[-1]
    settings = app.settings
    out: dict[str, Any] = {"id": record_id, "key": key, "model": name, "max_bytes": settings.max_body_bytes}
    if existing is not None:
        out["status"] = existing.get("status", "pending")
        out["model"] = (existing.get("model") or {}).get("name", name)
    else:
        # A pending record first: the client polls it while the COS trigger predicts the upload.
        app.history.put(
            {
                "id": record_id,
                "uid": caller.uid,
                "status": "pending",
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "model": {"name": name},
                "upload_key": key,
                **({"client_request_id": request_key} if request_key else {}),
            }
        )
    if caller.provider == "wx":
        out["cloud_path"] = key  # wx.cloud.uploadFile({cloudPath}) into the environment's bucket
        return out
    put = app.store.presign_put(key, settings.url_ttl_s, UPLOAD_EXTS[ext], settings.max_body_bytes)
    out.update(
        {"url": put.url, "method": put.method, "headers": put.headers, "expires_at": int(put.expires_at)}
    )
    return out


# --- history ----------------------------------------------------------------------------------------


def _known(caller: Caller | None) -> Caller:
    if caller is None or caller.anonymous:
        raise Unauthorized()
    return caller


def parse_limit(value: Any, default: int = 20) -> int:
    """A whole number from 1 to 50 (an int, or its decimal digits as text)."""
    if value in (None, ""):
        return default
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= 50:
        raise BadRequest("limit must be a whole number from 1 to 50.", "limit 必须是 1 到 50 的整数。")
    return int(text)


def list_history(app: App, caller: Caller | None, cursor: Any = None, limit: Any = None) -> dict[str, Any]:
    who = _known(caller)
    if cursor is not None and not isinstance(cursor, str):
        raise BadRequest("cursor is invalid.", "cursor 无效。")
    items, next_cursor = app.history.list(who.uid, cursor=cursor or None, limit=parse_limit(limit))
    return {"items": [public_record(app, r) for r in items], "next_cursor": next_cursor}


def get_record(app: App, caller: Caller | None, record_id: Any) -> dict[str, Any]:
    who = _known(caller)
    if not is_valid_id(record_id):
        raise NotFound()
    return public_record(app, app.history.get(who.uid, record_id))


def delete_record(app: App, caller: Caller | None, record_id: Any) -> dict[str, Any]:
    who = _known(caller)
    if not is_valid_id(record_id):
        raise NotFound()
    app.history.delete(who.uid, record_id)
    return {"deleted": record_id}


def delete_all(app: App, caller: Caller | None) -> dict[str, Any]:
    who = _known(caller)
    return {"deleted": app.history.delete_all(who.uid)}


# --- models, health ---------------------------------------------------------------------------------


def list_models(app: App) -> dict[str, Any]:
    """The card of each model's serving version: a canary is not advertised until it is promoted."""
    cards = [app.models.serving(name).manifest.public() for name in app.settings.model_names]
    return {"models": cards, "default": app.settings.default_model}


def health(app: App) -> dict[str, Any]:
    started = time.perf_counter()
    versions = app.models.versions()
    return {"ok": True, "models": versions, "ms": round((time.perf_counter() - started) * 1000, 2)}
