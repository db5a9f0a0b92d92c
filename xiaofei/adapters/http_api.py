"""The HTTP surface: a platform-neutral request → a use-case → a platform-neutral response.

``scf`` builds ``HttpRequest`` from whichever HTTP event the platform sent (API Gateway, function URL,
CloudBase HTTP access, or the local server) and turns ``HttpResponse`` back into its shape. The routes
are those of the one table of actions (``api.ACTIONS``); each route reads its fields from the JSON body,
the query string or (``/predict``) the image in any of its forms, adds the path's parameters, and runs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from types import MappingProxyType
from typing import Any

from xiaofei import limits
from xiaofei.adapters.api import ACTIONS, Action, Fields, Reader, Via
from xiaofei.adapters.views import Headers
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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, whichever event brought it; read-only. Its headers are a ``Headers`` view
    (lower-case names; ``repr`` never shows Authorization or cookies), its body is never in ``repr``."""

    method: str
    path: str
    headers: Headers = field(default_factory=Headers)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False)
    request_id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        object.__setattr__(self, "query", MappingProxyType(dict(self.query)))

    def header(self, name: str) -> str:
        value = self.headers.get(name.lower(), "")
        return str(value)

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


# (method, path pattern, action, public): every HTTP route, from the one table of actions.
ROUTES: list[tuple[str, re.Pattern[str], Action[Any], bool]] = [
    (a.http[0], re.compile("^" + a.http[1] + "$"), a, a.auth == "public") for a in ACTIONS if a.http
]


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
    for method, pattern, action, public in ROUTES:
        match = pattern.match(path)
        if not match:
            continue
        allowed = True
        if method != req.method:
            continue
        caller = (
            None if public else caller_from_authorization(req.header("authorization") or None, app.tokens)
        )
        fields = _READERS[action.reader](app, req, caller, match.groupdict())
        return json_response(200, action.invoke(app, caller, fields, Via.HTTP))
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


# --- where each route's fields come from ----------------------------------------------------------


def _json_fields(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Fields:
    body = read_json(req)
    # A client request id may come in the body or as X-Request-Id (the body wins).
    return {**body, "request_id": body.get("request_id") or req.header("x-request-id") or None, **params}


def _query_fields(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Fields:
    return {**req.query, **params}


def _no_fields(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Fields:
    return dict(params)


def _predict_fields(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Fields:
    """The image as multipart, a raw body or JSON (base64 or an upload's key), checked against the
    direct limit before anything is decoded."""
    direct = limits.direct_limit(app.settings.max_body_bytes)
    if len(req.body) > limits.base64_size(direct) + 4096:
        raise limits.too_large_for_direct(direct)
    if caller is None and not app.settings.anonymous_predict:
        raise Unauthorized()
    kind = req.content_type
    model: Any = req.query.get("model")
    request_id: Any = req.header("x-request-id") or req.query.get("request_id")
    if kind == "multipart/form-data":
        fields = read_multipart(req)
        image = fields.get("image")
        if not isinstance(image, bytes) or not image:
            raise EmptyImage()
        if len(image) > direct:
            raise limits.too_large_for_direct(direct)
        model = str(fields.get("model") or model or "") or None
        return {"image": image, "model": model, "request_id": request_id}
    if kind.startswith("image/") or kind in ("application/octet-stream", "application/dicom"):
        if not req.body:
            raise EmptyImage()
        if len(req.body) > direct:
            raise limits.too_large_for_direct(direct)
        return {"image": req.body, "model": model, "request_id": request_id}
    body = read_json(req)
    model = body.get("model", model)
    request_id = body.get("request_id", request_id)
    if body.get("key") is not None:
        return {"key": body["key"], "model": model, "request_id": request_id}
    if body.get("image") in (None, ""):
        raise EmptyImage()
    return {"image": body["image"], "model": model, "request_id": request_id}


_READERS: dict[Reader, Callable[[App, HttpRequest, Caller | None, dict[str, str]], Fields]] = {
    "json": _json_fields,
    "query": _query_fields,
    "none": _no_fields,
    "predict": _predict_fields,
}
