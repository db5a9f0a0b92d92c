"""Platform adapters: SCF / CloudBase events in, the platform's response shape out. Identity lives here.

Event kinds (see shared/reference/tencent-cloud.md §1):

* HTTP — API Gateway (``requestContext.serviceId``), function URL (no ``requestContext``), CloudBase
  HTTP access (``requestContext.envId``): all carry ``httpMethod``; the body may be base64-encoded.
  Answered in the integrated-response shape ``{isBase64Encoded, statusCode, headers, body}``.
* Timer — ``{"Type": "Timer"|"timer", "TriggerName", "Time", "Message"}``.
* COS — ``{"Records": [{"cos": {...}, "event": {...}}]}``.
* Mini program cloud call — anything else: ``event`` is the client's ``data``; the caller is the openid
  the platform put in ``context`` (never anything inside ``event``). The action is looked up in the one
  table of actions (``api.CALLS``); WeChat's own details (a ``fileID``, the ``cloud_path`` to upload to)
  are translated here and in ``api``, never in the use-cases.

The ``context`` is read through ``views.ScfContext``: read-only, and its ``repr`` never shows the
credentials it may carry.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from xiaofei.adapters.api import CALL_DEFAULTS, CALLS, HTTP_PREFIXES, Fields, Via
from xiaofei.adapters.http_api import HttpRequest, HttpResponse, error_response, handle_http
from xiaofei.adapters.views import Headers, ScfContext
from xiaofei.app import App, get_app
from xiaofei.errors import AppError, BadRequest, InternalError, Unauthorized
from xiaofei.identity import Caller, wx_caller_from_context
from xiaofei.log import configure, request_context

log = logging.getLogger(__name__)
_cold = True
_BASE64 = re.compile(rb"^[A-Za-z0-9+/\r\n]*={0,2}\s*$")


def kind_of(event: Any) -> str:
    if not isinstance(event, dict):
        return "invalid"
    if "httpMethod" in event:
        return "http"
    if str(event.get("Type", "")).lower() == "timer":
        return "timer"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict) and "cos" in records[0]:
        return "cos"
    return "call"


def handle(function: str, event: Any, context: Any, app: App | None = None) -> Any:
    """The whole body of every ``main_handler``: adapt the event, run the use-case, adapt the answer."""
    global _cold
    app = app or get_app()
    configure(app.settings.log_level)
    ctx = ScfContext(context)  # read-only; its repr never shows the credentials it may carry
    request_id = ctx.request_id or str(uuid.uuid4())
    kind = kind_of(event)
    started = time.perf_counter()
    with request_context(function=function, request_id=request_id, cold_start=_cold, trigger=kind):
        _cold = False
        result: Any = None
        try:
            result = _HANDLERS.get(kind, _handle_invalid)(app, function, event, ctx, request_id)
        finally:
            # One line per invocation with what CLS needs to count errors: the status and the error code.
            status, code = outcome(result)
            log.info(
                "handled",
                extra={
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    "status": status,
                    "error_code": code,
                },
            )
    return result


def outcome(result: Any) -> tuple[int, str | None]:
    """(HTTP-like status, error code or None) of a handler's result, whatever its channel; an exception
    that escaped (result None) counts as 500 internal_error."""
    if not isinstance(result, dict):
        return 500, "internal_error"
    if "statusCode" in result:  # an integrated HTTP response: the code is in its JSON body
        status = int(result.get("statusCode") or 500)
        code = None
        if status >= 400 and not result.get("isBase64Encoded"):
            try:
                code = json.loads(result.get("body") or "{}").get("error", {}).get("code")
            except (ValueError, AttributeError):
                code = None
        return status, code if isinstance(code, str) else (None if status < 400 else "error")
    error = result.get("error")
    if isinstance(error, dict):  # a cloud call's error shape
        return int(error.get("status") or 500), str(error.get("code") or "error")
    if result.get("ok") is False:  # the timer job's summary (COS failures are kept in their records)
        return 500, "job_failed"
    return 200, None


# --- HTTP -------------------------------------------------------------------------------------------


def http_request_from_event(event: dict[str, Any], request_id: str) -> HttpRequest:
    headers = Headers(event.get("headers") or {})
    context: dict[str, Any] = event["requestContext"] if isinstance(event.get("requestContext"), dict) else {}
    method = str(event.get("httpMethod") or context.get("httpMethod") or "GET").upper()
    return HttpRequest(
        method=method,
        path=_path_of(event),
        headers=headers,
        query=_query_of(event),
        body=_body_of(event, headers),
        request_id=str(context.get("requestId") or request_id),
    )


def _path_of(event: dict[str, Any]) -> str:
    path = str(event.get("path") or "/")
    # API Gateway delivers the full path, service prefix included (e.g. /release/predict): route on the tail.
    for known in HTTP_PREFIXES:
        index = path.find(known)
        if index > 0:
            return path[index:]
    return path


def _query_of(event: dict[str, Any]) -> dict[str, str]:
    raw = event.get("queryString") or event.get("queryStringParameters") or {}
    query: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, list):  # API Gateway: repeated keys arrive as a list
                value = value[-1] if value else ""
            elif isinstance(value, bool):  # API Gateway: a bare key arrives as true
                value = ""
            query[str(key)] = str(value)
    return query


def _body_of(event: dict[str, Any], headers: Headers) -> bytes:
    body = event.get("body")
    if body in (None, ""):
        return b""
    if not isinstance(body, str):
        body = json.dumps(body)
    raw = body.encode("utf-8", "surrogatepass")
    declared = event.get("isBase64Encoded")
    content_type = headers.get("content-type", "")
    textual = content_type.startswith(("application/json", "text/", "application/x-www-form-urlencoded"))
    # API Gateway can base64 the body without saying so (an API option): binary types arrive that way.
    if declared is True or (declared is None and not textual and content_type and _BASE64.match(raw[:4096])):
        try:
            return base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("The body is not valid base64.", "请求体不是有效的 base64。") from exc
    return raw


def integrated_response(resp: HttpResponse) -> dict[str, Any]:
    textual = resp.content_type.startswith(("application/json", "text/"))
    return {
        "isBase64Encoded": not textual,
        "statusCode": resp.status,
        "headers": {"Content-Type": resp.content_type, **resp.headers},
        "body": resp.body.decode() if textual else base64.b64encode(resp.body).decode(),
    }


def _handle_http(app: App, function: str, event: dict[str, Any], ctx: ScfContext, request_id: str) -> Any:
    try:
        req = http_request_from_event(event, request_id)
    except AppError as exc:
        return integrated_response(error_response(exc, request_id))
    return integrated_response(handle_http(app, req))


# --- mini program cloud calls -----------------------------------------------------------------------


def wx_caller(app: App, context: Mapping[str, Any]) -> Caller | None:
    return wx_caller_from_context(context, os.environ, app.secret)


def call_fields(app: App, function: str, action: str, event: dict[str, Any]) -> Fields:
    """The arguments of a cloud call: its ``data``, with a WeChat ``fileID`` turned into the upload's
    key (``""`` when it is not a file of this deployment's environment and bucket: then not_found)."""
    if (function, action) == ("predict", "predict") and event.get("fileID") is not None:
        settings = app.settings
        key = key_from_file_id(event["fileID"], settings.cloud_env, settings.cloud_bucket)
        return MappingProxyType({**event, "key": key})
    return MappingProxyType(event)


def _handle_call(app: App, function: str, event: dict[str, Any], ctx: ScfContext, request_id: str) -> Any:
    try:
        action = event.get("action") or CALL_DEFAULTS.get(function, "")
        handler = CALLS.get((function, action)) if isinstance(action, str) else None
        if handler is None:
            raise BadRequest("Unknown action.", "未知的操作。", code="unknown_action")
        caller = wx_caller(app, ctx)
        if caller is None:
            raise Unauthorized()
        return handler.invoke(app, caller, call_fields(app, function, action, event), Via.CALL)
    except AppError as exc:
        return exc.to_dict(request_id)
    except Exception:
        log.exception("unhandled error in cloud call")
        return InternalError().to_dict(request_id)


_APPID_SUFFIX = re.compile(r"-\d{5,}$")


def bucket_without_appid(bucket: str) -> str:
    """``7465-env-1258717764`` → ``7465-env``: fileIDs carry the bucket with or without ``-<appid>``."""
    return _APPID_SUFFIX.sub("", bucket)


def key_from_file_id(file_id: object, cloud_env: str, cloud_bucket: str = "") -> str:
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


# --- timer, COS, invalid ----------------------------------------------------------------------------


def _handle_timer(app: App, function: str, event: dict[str, Any], ctx: ScfContext, request_id: str) -> Any:
    from xiaofei.adapters.rollout_scf import run_model_update  # only the timer function needs the job

    return run_model_update(app, event)


def cos_keys(event: dict[str, Any]) -> list[str]:
    """Object keys of a COS event: ``cosObject.key`` is ``/<appid>/<bucket>/<key>`` (URL-encoded)."""
    keys = []
    for record in event.get("Records", []):
        obj = (record.get("cos") or {}).get("cosObject") or {}
        parts = str(obj.get("key", "")).lstrip("/").split("/", 2)
        if len(parts) == 3:
            keys.append(unquote(parts[2]))
    return keys


def _handle_cos(app: App, function: str, event: dict[str, Any], ctx: ScfContext, request_id: str) -> Any:
    from xiaofei.usecases.uploads import complete_uploads  # the async path

    return complete_uploads(app, cos_keys(event))


def _handle_invalid(app: App, function: str, event: Any, ctx: ScfContext, request_id: str) -> Any:
    return BadRequest("The event is not an object.", "事件格式错误。").to_dict(request_id)


EventHandler = Callable[[App, str, Any, ScfContext, str], Any]
_HANDLERS: dict[str, EventHandler] = {
    "http": _handle_http,
    "call": _handle_call,
    "timer": _handle_timer,
    "cos": _handle_cos,
}
