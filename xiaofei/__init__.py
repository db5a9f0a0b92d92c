"""Xiaofei (小肺): an AI second opinion for chest X-rays and skin photos, served from cloud functions.

The public surface is ``__all__``: what code outside the package (the functions' entry points, the
infrastructure scripts, the benchmarks, operators' scripts) may use. Each name is loaded on first use
(PEP 562), so ``import xiaofei`` stays cheap: a function that never reads an image loads no image code.
Everything else is internal and may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name → the module that defines it
_ERRORS = (
    "AppError",
    "BadRequest",
    "ImageError",
    "UnsupportedFormat",
    "PayloadTooLarge",
    "ImageTooLarge",
    "CorruptImage",
    "EmptyImage",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "NotReviewer",
    "InvalidShare",
    "ShareClaimed",
    "RecordNotReady",
    "Gone",
    "ShareExpired",
    "ShareRevoked",
    "Unavailable",
    "ModelUnavailable",
    "StorageUnavailable",
    "InternalError",
    "ALL_CODES",
)
_WHERE: dict[str, str] = {
    "App": "xiaofei.app",
    "get_app": "xiaofei.app",
    "set_app": "xiaofei.app",
    "Settings": "xiaofei.config",
    "ENV_VARS": "xiaofei.config",
    "Caller": "xiaofei.identity",
    "handle": "xiaofei.adapters.scf",
    "main": "xiaofei.adapters.cli",
    **{name: "xiaofei.errors" for name in _ERRORS},
}

__all__ = [
    "ALL_CODES",
    "ENV_VARS",
    "App",
    "AppError",
    "BadRequest",
    "Caller",
    "Conflict",
    "CorruptImage",
    "EmptyImage",
    "Forbidden",
    "Gone",
    "ImageError",
    "ImageTooLarge",
    "InternalError",
    "InvalidShare",
    "MethodNotAllowed",
    "ModelUnavailable",
    "NotFound",
    "NotReviewer",
    "PayloadTooLarge",
    "RecordNotReady",
    "Settings",
    "ShareClaimed",
    "ShareExpired",
    "ShareRevoked",
    "StorageUnavailable",
    "Unauthorized",
    "Unavailable",
    "UnsupportedFormat",
    "__version__",
    "get_app",
    "handle",
    "main",
    "set_app",
]

if TYPE_CHECKING:
    from xiaofei.adapters.cli import main
    from xiaofei.adapters.scf import handle
    from xiaofei.app import App, get_app, set_app
    from xiaofei.config import ENV_VARS, Settings
    from xiaofei.errors import (
        ALL_CODES,
        AppError,
        BadRequest,
        Conflict,
        CorruptImage,
        EmptyImage,
        Forbidden,
        Gone,
        ImageError,
        ImageTooLarge,
        InternalError,
        InvalidShare,
        MethodNotAllowed,
        ModelUnavailable,
        NotFound,
        NotReviewer,
        PayloadTooLarge,
        RecordNotReady,
        ShareClaimed,
        ShareExpired,
        ShareRevoked,
        StorageUnavailable,
        Unauthorized,
        Unavailable,
        UnsupportedFormat,
    )
    from xiaofei.identity import Caller


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xiaofei' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
