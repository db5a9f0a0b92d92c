"""The served models, as callers see them, and the instance's health."""

from __future__ import annotations

import time
from typing import Any

from xiaofei.app import App


def list_models(app: App) -> dict[str, Any]:
    """The card of each model's serving version: a canary is not advertised until it is promoted."""
    cards = [app.models.serving(name).manifest.public() for name in app.settings.model_names]
    return {"models": cards, "default": app.settings.default_model}


def health(app: App) -> dict[str, Any]:
    started = time.perf_counter()
    versions = app.models.versions()
    return {"ok": True, "models": versions, "ms": round((time.perf_counter() - started) * 1000, 2)}
