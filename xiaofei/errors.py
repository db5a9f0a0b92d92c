"""Every error of the package, in one tree: a stable machine code, an HTTP status, a bilingual message.

The hierarchy (catch the base to handle a whole family)::

    Exception
    ├── AppError                      code, status, en, zh: what a caller (or an operator) may see
    │   ├── BadRequest          400   malformed request: bad JSON, missing field, bad id, limit out of range
    │   │   └── PolicyError     400   invalid_policy: a model's rollout policy (operator paths)
    │   ├── ImageError          4xx   the image cannot be read
    │   │   ├── UnsupportedFormat 415 · PayloadTooLarge 413 · ImageTooLarge 413
    │   │   └── CorruptImage    400 · EmptyImage 400
    │   ├── Unauthorized        401   no trusted identity, or a forged / expired token
    │   ├── Forbidden           403   not allowed: a forged or expired presigned link
    │   │   └── NotReviewer · InvalidShare (forged / tampered share link) · ShareClaimed
    │   ├── NotFound            404   no such thing *for this caller* (another user's id is also 404)
    │   ├── MethodNotAllowed    405
    │   ├── Conflict            409   a concurrent writer won (registry pointer)
    │   │   └── RecordNotReady
    │   ├── Gone                410   the share link was valid once
    │   │   └── ShareExpired · ShareRevoked
    │   ├── ManifestError       422   invalid_manifest: a model package's manifest (operator's error)
    │   ├── Unavailable         503   retry later
    │   │   └── ModelUnavailable · StorageUnavailable · RolloutError (rollout_failed, SCF API)
    │   └── InternalError       500   anything unexpected, rendered without details
    ├── Rejected                      a candidate model failed a check of the evaluation gate (a verdict)
    └── NoChange                      a registry pointer already says what the caller wanted

``Rejected`` and ``NoChange`` are signals between the model lifecycle's own functions, caught there and
never shown to a caller. Anything that is not an ``AppError`` and escapes a use-case is rendered as
``internal_error`` (500) with a generic message: stack traces, paths and bucket names never reach a
caller (they go to the log).
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error with a stable ``code``, an HTTP ``status`` and a message in English and Chinese."""

    code = "internal_error"
    status = 500
    en = "Something went wrong on our side. Please try again later."
    zh = "服务内部错误，请稍后重试。"

    def __init__(
        self,
        en: str | None = None,
        zh: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.en = en or self.en
        self.zh = zh or self.zh
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        super().__init__(f"{self.code}: {self.en}")

    def to_dict(self, request_id: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "status": self.status,
            "message": {"en": self.en, "zh": self.zh},
            "request_id": request_id,
        }
        if self.details:
            body["details"] = self.details
        return {"error": body}


class BadRequest(AppError):
    """The request is malformed: bad JSON, a missing or invalid field."""

    code = "bad_request"
    status = 400
    en = "The request is malformed."
    zh = "请求格式不正确。"


class PolicyError(BadRequest):
    code = "invalid_policy"
    en = "The model policy is invalid."
    zh = "模型策略无效。"


class ImageError(AppError):
    """The image cannot be used; the subclass says why."""

    code = "corrupt_image"
    status = 400
    en = "The image file is damaged or incomplete."
    zh = "图片文件已损坏或不完整。"


class UnsupportedFormat(ImageError):
    code = "unsupported_format"
    status = 415
    en = "Unsupported file type. Please send a JPEG, PNG, WebP, BMP or DICOM image."
    zh = "不支持的文件类型，请上传 JPEG、PNG、WebP、BMP 或 DICOM 图片。"


class PayloadTooLarge(ImageError):
    code = "payload_too_large"
    status = 413
    en = "The file is too large."
    zh = "文件太大。"


class ImageTooLarge(ImageError):
    code = "image_too_large"
    status = 413
    en = "The image has too many pixels."
    zh = "图片像素过多。"


class CorruptImage(ImageError):
    code = "corrupt_image"
    status = 400


class EmptyImage(ImageError):
    code = "empty_image"
    status = 400
    en = "No image was sent."
    zh = "没有收到图片。"


class Unauthorized(AppError):
    code = "unauthorized"
    status = 401
    en = "Please sign in again: the session is missing, invalid or expired."
    zh = "身份验证失败或已过期，请重新登录。"


class Forbidden(AppError):
    code = "forbidden"
    status = 403
    en = "You are not allowed to do this."
    zh = "没有执行此操作的权限。"


class NotFound(AppError):
    code = "not_found"
    status = 404
    en = "Not found."
    zh = "未找到。"


class MethodNotAllowed(AppError):
    code = "method_not_allowed"
    status = 405
    en = "This method is not allowed here."
    zh = "不支持该请求方法。"


class Conflict(AppError):
    code = "conflict"
    status = 409
    en = "Someone else changed this at the same time. Please retry."
    zh = "数据已被同时修改，请重试。"


class NotReviewer(Forbidden):
    code = "not_reviewer"
    en = "Only doctors on this site's reviewer list can open shared records."
    zh = "只有本站审阅医生名单中的医生才能查看分享的记录。"


class InvalidShare(Forbidden):
    code = "invalid_share"
    en = "This share link is not valid."
    zh = "分享链接无效。"


class ShareClaimed(Forbidden):
    code = "share_claimed"
    en = "This share link has already been opened by another doctor."
    zh = "该分享链接已被另一位医生打开。"


class RecordNotReady(Conflict):
    code = "record_not_ready"
    en = "This record has no finished answer yet."
    zh = "该记录尚未完成分析。"


class Gone(AppError):
    code = "gone"
    status = 410
    en = "This is no longer available."
    zh = "已不再可用。"


class ShareExpired(Gone):
    code = "share_expired"
    en = "This share link has expired. Ask the patient for a new one."
    zh = "分享链接已过期，请让患者重新分享。"


class ShareRevoked(Gone):
    code = "share_revoked"
    en = "The patient has withdrawn this share link."
    zh = "患者已撤回该分享链接。"


class ManifestError(AppError):
    """A manifest is missing a field or has a malformed one (an operator's error, not a caller's)."""

    code = "invalid_manifest"
    status = 422
    en = "The model manifest is invalid."
    zh = "模型清单无效。"


class Unavailable(AppError):
    code = "unavailable"
    status = 503
    en = "The service is temporarily unavailable. Please try again shortly."
    zh = "服务暂时不可用，请稍后重试。"


class ModelUnavailable(Unavailable):
    code = "model_unavailable"
    en = "The model is temporarily unavailable. Please try again shortly."
    zh = "模型暂时不可用，请稍后重试。"


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"
    en = "Storage is temporarily unavailable. Please try again shortly."
    zh = "存储服务暂时不可用，请稍后重试。"


class RolloutError(Unavailable):
    code = "rollout_failed"
    en = "The function rollout could not be completed; it will be retried."
    zh = "函数版本发布未能完成，将自动重试。"


class InternalError(AppError):
    """Anything unexpected, rendered without details."""


class Rejected(Exception):
    """A candidate failed one check of the evaluation gate: the check's name and why, in both languages."""

    def __init__(self, check: str, en: str, zh: str, **details: Any) -> None:
        super().__init__(en)
        self.check, self.en, self.zh, self.details = check, en, zh, details


class NoChange(Exception):
    """Raised by a pointer change function: the pointer already says what the caller wanted."""


def unknown_model(name: str, names: list[str]) -> BadRequest:
    """A request (or a model source) named a model this deployment does not serve."""
    return BadRequest(
        f"Unknown model '{name[:40]}'. Choose one of: {', '.join(names)}.",
        f"未知的模型 '{name[:40]}'，可选：{', '.join(names)}。",
        code="unknown_model",
        details={"models": names},
    )


ALL_CODES: dict[str, int] = {
    cls.code: cls.status
    for cls in (
        BadRequest,
        UnsupportedFormat,
        PayloadTooLarge,
        ImageTooLarge,
        CorruptImage,
        EmptyImage,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        NotReviewer,
        InvalidShare,
        ShareClaimed,
        RecordNotReady,
        ShareExpired,
        ShareRevoked,
        ModelUnavailable,
        StorageUnavailable,
        InternalError,
    )
}
