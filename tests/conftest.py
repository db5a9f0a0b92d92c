"""Shared fixtures: an App over a LocalStore in a temp folder, platform contexts, sample events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xiaofei.app import App, set_app
from xiaofei.config import Settings

pytest_plugins = ["tests.s3server"]  # s3_server / s3_settings: a local S3 endpoint over real HTTP
EVENTS = Path(__file__).parent / "events"
SECRET = "test-secret-0123456789abcdef0123456789"


def load_event(name: str) -> dict[str, Any]:
    """A recorded / documented platform event from tests/events/."""
    return json.loads((EVENTS / name).read_text())


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    env = {
        "XIAOFEI_STORAGE": f"file://{tmp_path / 'store'}",
        "XIAOFEI_SECRET": SECRET,
        "XIAOFEI_MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "XIAOFEI_CLOUD_ENV": "xiaofei-test-1a2b",
        "XIAOFEI_CLOUD_BUCKET": "7869-xiaofei-test-1a2b-1250000000",
    }
    env.update({f"XIAOFEI_{k.upper()}": str(v) for k, v in overrides.items()})
    return Settings.from_env(env)


@pytest.fixture
def app(tmp_path: Path) -> Any:
    """A fresh App (and the process-wide one, for handlers) over a temp LocalStore."""
    instance = App(make_settings(tmp_path))
    set_app(instance)
    yield instance
    set_app(None)


def wx_context(openid: str = "oABC123-test-openid", appid: str = "wx0123456789abcdef") -> dict[str, Any]:
    """The context a mini program cloud call gets: the platform puts the caller in ``environment``."""
    environment = {
        "SCF_NAMESPACE": "xiaofei-test-1a2b",
        "WX_OPENID": openid,
        "WX_APPID": appid,
        "WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID",
        "TCB_SOURCE": "wx_client",
    }
    return {
        "request_id": "req-" + openid[-6:],
        "memory_limit_in_mb": 1024,
        "time_limit_in_ms": 30000,
        "function_name": "predict",
        "function_version": "$LATEST",
        "namespace": "xiaofei-test-1a2b",
        "environment": json.dumps(environment),
    }
