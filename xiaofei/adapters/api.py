"""The API surface, declared once: every action with its typed arguments, mapped onto an HTTP route
``(method, path)`` and a mini program cloud call ``(function, action)``.

Each action parses a request mapping (the JSON body with the path's parameters, the query string, or the
cloud call's ``data``) into a frozen dataclass, then runs its use-case. The HTTP adapter (``http_api``),
the SCF adapter (``scf``: its path prefixes) and the local server (``local_server.function_for``) all
read this table; docs/API.md describes the same actions.

Checks run in one order on every channel: the HTTP body is read (bad JSON → 400), then a caller is
required where ``auth`` is ``"known"`` (401), then the arguments are parsed (the documented 400/404/415
errors), then the use-case runs.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from xiaofei.app import App
from xiaofei.errors import BadRequest, NotFound
from xiaofei.identity import Caller
from xiaofei.ids import is_valid_id
from xiaofei.limits import direct_limit, too_large_for_direct
from xiaofei.usecases import history, models, reviews, sessions, uploads
from xiaofei.usecases.common import (
    UPLOAD_EXTS,
    WRONG,
    Wrong,
    known,
    resolve_model_name,
    validate_client_request_id,
)
from xiaofei.usecases.predict import ImageSource, predict

Fields = Mapping[str, Any]
A = TypeVar("A")


class Via(enum.Enum):
    """The channel a request came by: HTTP (web page, API clients) or a mini program cloud call."""

    HTTP = "http"
    CALL = "call"


# --- field parsers ---------------------------------------------------------------------------------


def _text(value: object) -> str | Wrong | None:
    return value if value is None or isinstance(value, str) else WRONG


def _model(value: object) -> str | None:
    # A model name that is not text is reported by its text (unknown_model), as it always was.
    return None if value is None else str(value)


def _record_id(value: object) -> str:
    if not isinstance(value, str) or not is_valid_id(value):
        raise NotFound()
    return value


def decode_base64_image(text: object, max_bytes: int) -> bytes:
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
        raise too_large_for_direct(max_bytes)
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("Field 'image' is not valid base64.", "字段 image 不是有效的 base64。") from exc


def parse_limit(value: object, default: int = 20) -> int:
    """A whole number from 1 to 50 (an int, or its decimal digits as text)."""
    if value in (None, ""):
        return default
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= 50:
        raise BadRequest("limit must be a whole number from 1 to 50.", "limit 必须是 1 到 50 的整数。")
    return int(text)


# --- arguments, one dataclass per action -----------------------------------------------------------


@dataclass(frozen=True)
class NoArgs:
    @classmethod
    def parse(cls, app: App, fields: Fields) -> NoArgs:
        return cls()


@dataclass(frozen=True)
class PredictArgs:
    """``key`` (an upload; the SCF adapter turns a ``fileID`` into it) or ``image`` (bytes, or base64
    text), ``model``, ``request_id``."""

    source: ImageSource
    model: str
    request_key: str | None

    @classmethod
    def parse(cls, app: App, fields: Fields) -> PredictArgs:
        key, image = fields.get("key"), fields.get("image")
        if key is not None:
            source = ImageSource(key=key if isinstance(key, str) else "")
        elif isinstance(image, bytes):
            source = ImageSource(data=image)
        else:
            source = ImageSource(data=decode_base64_image(image, direct_limit(app.settings.max_body_bytes)))
        model = resolve_model_name(app, _model(fields.get("model")))
        return cls(source, model, validate_client_request_id(fields.get("request_id")))


@dataclass(frozen=True)
class UploadArgs:
    ext: str
    model: str
    request_key: str | None

    @classmethod
    def parse(cls, app: App, fields: Fields) -> UploadArgs:
        ext = fields.get("ext")
        ext = ext.lower().lstrip(".") if isinstance(ext, str) else ""
        if ext not in UPLOAD_EXTS:
            raise BadRequest(
                "Field 'ext' must be one of: " + ", ".join(UPLOAD_EXTS),
                "字段 ext 必须是：" + "、".join(UPLOAD_EXTS),
                code="unsupported_format",
                status=415,
            )
        model = resolve_model_name(app, _model(fields.get("model")))
        return cls(ext, model, validate_client_request_id(fields.get("request_id")))


@dataclass(frozen=True)
class ListArgs:
    cursor: str | None
    limit: int

    @classmethod
    def parse(cls, app: App, fields: Fields) -> ListArgs:
        cursor = fields.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise BadRequest("cursor is invalid.", "cursor 无效。")
        return cls(cursor, parse_limit(fields.get("limit")))


@dataclass(frozen=True)
class RecordArgs:
    id: str

    @classmethod
    def parse(cls, app: App, fields: Fields) -> RecordArgs:
        return cls(_record_id(fields.get("id")))


@dataclass(frozen=True)
class ShareArgs:
    id: str
    hours: int

    @classmethod
    def parse(cls, app: App, fields: Fields) -> ShareArgs:
        hours = reviews.parse_hours(fields.get("expires_in_hours"))
        return cls(_record_id(fields.get("id")), hours)


@dataclass(frozen=True)
class UnshareArgs:
    id: str
    share_id: str

    @classmethod
    def parse(cls, app: App, fields: Fields) -> UnshareArgs:
        share_id = _record_id(fields.get("share_id"))
        return cls(_record_id(fields.get("id")), share_id)


@dataclass(frozen=True)
class ConsentArgs:
    id: str
    export: bool

    @classmethod
    def parse(cls, app: App, fields: Fields) -> ConsentArgs:
        export = fields.get("export")
        if not isinstance(export, bool):
            raise reviews.bad_export()
        return cls(_record_id(fields.get("id")), export)


@dataclass(frozen=True)
class OpenShareArgs:
    share: str  # checked after the caller's reviewer entry: not here (InvalidShare says nothing early)

    @classmethod
    def parse(cls, app: App, fields: Fields) -> OpenShareArgs:
        share = fields.get("share")
        return cls(share if isinstance(share, str) else "")


@dataclass(frozen=True)
class ReviewArgs:
    """The read's fields are checked against the record (its labels): a wrong type is kept as ``WRONG``
    and reported there, in its place."""

    share: str
    verdict: str | Wrong | None
    label: str | Wrong | None
    note: str | Wrong | None

    @classmethod
    def parse(cls, app: App, fields: Fields) -> ReviewArgs:
        share = fields.get("share")
        return cls(
            share if isinstance(share, str) else "",
            _text(fields.get("verdict")),
            _text(fields.get("label")),
            _text(fields.get("note")),
        )


# --- the table -------------------------------------------------------------------------------------

Auth = Literal["public", "optional", "known"]
# Where an HTTP route's fields come from (the path's parameters are added to each):
Reader = Literal["json", "query", "none", "predict"]


@dataclass(frozen=True)
class Action(Generic[A]):
    name: str
    parse: Callable[[App, Fields], A]
    run: Callable[[App, Caller | None, A, Via], Any]
    auth: Auth
    http: tuple[str, str] | None = None  # (method, path regex with named groups)
    reader: Reader = "json"
    call: tuple[str, str] | None = None  # (function, action)
    call_default: bool = False  # the function's action when a call names none

    @property
    def function(self) -> str:
        """The SCF function that serves this action (its cloud-call function; HTTP is routed the same)."""
        return self.call[0] if self.call else "predict"

    def invoke(self, app: App, caller: Caller | None, fields: Fields, via: Via) -> Any:
        if self.auth == "known":
            known(caller)
        return self.run(app, caller, self.parse(app, fields), via)


def _upload(app: App, who: Caller | None, a: UploadArgs, via: Via) -> Any:
    out = uploads.create_upload(app, known(who), a.ext, a.model, a.request_key, presign=via is Via.HTTP)
    if via is Via.CALL:
        out["cloud_path"] = out["key"]  # wx.cloud.uploadFile({cloudPath}) into the environment's bucket
    return out


_ID = r"(?P<id>[^/]+)"

ACTIONS: tuple[Action[Any], ...] = (
    Action(
        "predict",
        PredictArgs.parse,
        lambda app, who, a, via: predict(app, who, a.source, a.model, a.request_key),
        "optional",
        ("POST", "/predict"),
        "predict",
        ("predict", "predict"),
        call_default=True,
    ),
    Action(
        "session",
        NoArgs.parse,
        lambda app, who, a, via: sessions.create_session(app),
        "public",
        ("POST", "/session"),
        "none",
    ),
    Action("upload", UploadArgs.parse, _upload, "known", ("POST", "/uploads"), "json", ("predict", "upload")),
    Action(
        "list",
        ListArgs.parse,
        lambda app, who, a, via: history.list_history(app, known(who), a.cursor, a.limit),
        "known",
        ("GET", "/history"),
        "query",
        ("history", "list"),
        call_default=True,
    ),
    Action(
        "delete_all",
        NoArgs.parse,
        lambda app, who, a, via: history.delete_all(app, known(who)),
        "known",
        ("DELETE", "/history"),
        "none",
        ("history", "delete_all"),
    ),
    Action(
        "get",
        RecordArgs.parse,
        lambda app, who, a, via: history.get_record(app, known(who), a.id),
        "known",
        ("GET", f"/history/{_ID}"),
        "none",
        ("history", "get"),
    ),
    Action(
        "delete",
        RecordArgs.parse,
        lambda app, who, a, via: history.delete_record(app, known(who), a.id),
        "known",
        ("DELETE", f"/history/{_ID}"),
        "none",
        ("history", "delete"),
    ),
    Action(
        "share",
        ShareArgs.parse,
        lambda app, who, a, via: reviews.create_share(app, known(who), a.id, a.hours),
        "known",
        ("POST", f"/history/{_ID}/share"),
        "json",
        ("history", "share"),
    ),
    Action(
        "unshare",
        UnshareArgs.parse,
        lambda app, who, a, via: reviews.revoke_share(app, known(who), a.id, a.share_id),
        "known",
        ("DELETE", f"/history/{_ID}/share/(?P<share_id>[^/]+)"),
        "none",
        ("history", "unshare"),
    ),
    Action(
        "consent",
        ConsentArgs.parse,
        lambda app, who, a, via: reviews.set_consent(app, known(who), a.id, a.export),
        "known",
        ("POST", f"/history/{_ID}/consent"),
        "json",
        ("history", "consent"),
    ),
    Action(
        "models",
        NoArgs.parse,
        lambda app, who, a, via: models.list_models(app),
        "public",
        ("GET", "/models"),
        "none",
        ("predict", "models"),
    ),
    Action(
        "healthz",
        NoArgs.parse,
        lambda app, who, a, via: models.health(app),
        "public",
        ("GET", "/healthz"),
        "none",
    ),
    Action(
        "shared",
        OpenShareArgs.parse,
        lambda app, who, a, via: reviews.open_share(app, known(who), a.share),
        "known",
        ("POST", "/shared"),
        "json",
        ("history", "shared"),
    ),
    Action(
        "review",
        ReviewArgs.parse,
        lambda app, who, a, via: reviews.review_share(app, known(who), a.share, a.verdict, a.label, a.note),
        "known",
        ("POST", "/shared/review"),
        "json",
        ("history", "review"),
    ),
    Action(
        "reviewer",
        NoArgs.parse,
        lambda app, who, a, via: reviews.whoami(app, known(who)),
        "known",
        ("GET", "/reviewer"),
        "none",
        ("history", "reviewer"),
    ),
)

CALLS: dict[tuple[str, str], Action[Any]] = {a.call: a for a in ACTIONS if a.call}
CALL_DEFAULTS: dict[str, str] = {a.call[0]: a.call[1] for a in ACTIONS if a.call and a.call_default}


def _prefix(pattern: str) -> str:
    return "/" + pattern.strip("/").split("/")[0]


# The first segment of every HTTP path, in the table's order (API Gateway prepends its stage to them).
HTTP_PREFIXES: tuple[str, ...] = tuple(dict.fromkeys(_prefix(a.http[1]) for a in ACTIONS if a.http))
_HTTP_PATTERNS = [(re.compile("^" + a.http[1] + "$"), a) for a in ACTIONS if a.http]


def function_for(path: str) -> str:
    """The function whose HTTP route answers ``path`` (what API Gateway routes it to); else predict."""
    path = path.rstrip("/") or "/"
    for pattern, action in _HTTP_PATTERNS:
        if pattern.match(path):
            return action.function
    return "history" if path.startswith("/history") else "predict"
