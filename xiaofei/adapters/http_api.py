"""The HTTP surface: a platform-neutral request → a use-case → a platform-neutral response.

``events`` builds ``HttpRequest`` from whichever HTTP event the platform sent (API Gateway, function
URL, CloudBase HTTP access, or the local server) and turns ``HttpResponse`` back into its shape.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from xiaofei import limits
from xiaofei.app import App
from xiaofei.errors import (
    AppError,
    BadRequest,
    EmptyImage,
    InternalError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from xiaofei.identity import Caller, caller_from_authorization
from xiaofei.usecases import service

log = logging.getLogger(__name__)


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()


@dataclass
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(status, json.dumps(payload, ensure_ascii=False).encode())


def error_response(exc: AppError, request_id: str) -> HttpResponse:
    return json_response(exc.status, exc.to_dict(request_id))


def cors_headers(app: App) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": app.settings.cors_origin,
        "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-Id",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


Handler = Callable[[App, HttpRequest, Caller | None, dict[str, str]], Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = []


def route(method: str, pattern: str, *, public: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler; ``public`` routes ignore the Authorization header (a stale token must not
    stop a browser from getting a new session)."""

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile("^" + pattern + "$"), fn, public))
        return fn

    return register


def handle_http(app: App, req: HttpRequest) -> HttpResponse:
    """Route, authenticate, run the use-case, render; every failure becomes the error shape."""
    try:
        if req.method == "OPTIONS":
            response = HttpResponse(204, b"", content_type="text/plain")
        else:
            response = _dispatch(app, req)
    except AppError as exc:
        response = error_response(exc, req.request_id)
    except Exception:  # a bug: log it with its trace, show the caller nothing internal
        log.exception("unhandled error", extra={"path": req.path[:80], "method": req.method})
        response = error_response(InternalError(), req.request_id)
    response.headers = {**cors_headers(app), "X-Request-Id": req.request_id, **response.headers}
    return response


def _dispatch(app: App, req: HttpRequest) -> HttpResponse:
    path = req.path.rstrip("/") or "/"
    allowed = False
    for method, pattern, fn, public in ROUTES:
        match = pattern.match(path)
        if not match:
            continue
        allowed = True
        if method != req.method:
            continue
        caller = (
            None if public else caller_from_authorization(req.header("authorization") or None, app.tokens)
        )
        result = fn(app, req, caller, match.groupdict())
        return result if isinstance(result, HttpResponse) else json_response(200, result)
    raise MethodNotAllowed() if allowed else NotFound()


def read_json(req: HttpRequest) -> dict[str, Any]:
    if not req.body:
        return {}
    try:
        data = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON.", "请求体不是有效的 JSON。") from exc
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", "请求体必须是 JSON 对象。")
    return data


def read_multipart(req: HttpRequest) -> dict[str, bytes | str]:
    """Fields of a multipart/form-data body: files as bytes, plain fields as text."""
    head = f"Content-Type: {req.header('content-type')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + req.body)
    if not message.is_multipart():
        raise BadRequest("The multipart body is malformed.", "multipart 请求体格式错误。")
    fields: dict[str, bytes | str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        fields[name] = (
            payload
            if part.get_filename() is not None or name == "image"
            else payload.decode("utf-8", "replace")
        )
    return fields


# --- routes -----------------------------------------------------------------------------------------


@route("POST", "/predict")
def _predict(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    direct = limits.direct_limit(app.settings.max_body_bytes)
    if len(req.body) > limits.base64_size(direct) + 4096:
        raise limits.too_large_for_direct(direct)
    if caller is None and not app.settings.anonymous_predict:
        raise Unauthorized()
    kind = req.content_type
    model = req.query.get("model")
    request_id = req.header("x-request-id") or req.query.get("request_id")
    if kind == "multipart/form-data":
        fields = read_multipart(req)
        image = fields.get("image")
        if not isinstance(image, bytes) or not image:
            raise EmptyImage()
        if len(image) > direct:
            raise limits.too_large_for_direct(direct)
        model = str(fields.get("model") or model or "") or None
        source = service.ImageSource(data=image)
    elif kind.startswith("image/") or kind in ("application/octet-stream", "application/dicom"):
        if not req.body:
            raise EmptyImage()
        if len(req.body) > direct:
            raise limits.too_large_for_direct(direct)
        source = service.ImageSource(data=req.body)
    else:
        body = read_json(req)
        model = body.get("model", model)
        request_id = body.get("request_id", request_id)
        if body.get("key") is not None:
            source = service.ImageSource(key=body["key"])
        elif body.get("image") in (None, ""):
            raise EmptyImage()
        else:
            source = service.ImageSource(data=service.decode_base64_image(body["image"], direct))
    return service.predict(app, caller, source, model, request_id)


@route("POST", "/session", public=True)
def _session(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return service.create_session(app)


@route("POST", "/uploads")
def _uploads(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    body = read_json(req)
    request_id = body.get("request_id") or req.header("x-request-id") or None
    return service.create_upload(app, caller, body.get("ext"), body.get("model"), request_id)


@route("GET", "/history")
def _history_list(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return service.list_history(app, caller, req.query.get("cursor"), req.query.get("limit"))


@route("DELETE", "/history")
def _history_delete_all(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return service.delete_all(app, caller)


@route("GET", r"/history/(?P<id>[^/]+)")
def _history_get(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Any:
    return service.get_record(app, caller, params["id"])


@route("DELETE", r"/history/(?P<id>[^/]+)")
def _history_delete(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Any:
    return service.delete_record(app, caller, params["id"])


@route("GET", "/models", public=True)
def _models(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return service.list_models(app)


@route("GET", "/healthz", public=True)
def _healthz(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return service.health(app)


# The doctor's read (share links, reviews, consent): its routes live in their own module.
from xiaofei.adapters import http_reviews  # noqa: E402, F401
