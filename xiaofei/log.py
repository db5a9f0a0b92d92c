"""Structured logs: one JSON line per record, with per-request keys from a context variable.

Never log image bytes, raw openids, tokens or secrets: callers appear by their keyed ``uid`` only.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SERVICE = "xiaofei"
_keys: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_keys", default={})  # noqa: B039
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "service": SERVICE,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_keys.get())
        line.update(
            {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


@contextmanager
def request_context(**keys: Any) -> Iterator[dict[str, Any]]:
    """Keys added to every log line inside the block (request_id, function, uid, model_version …)."""
    merged = {**_keys.get(), **keys}
    token = _keys.set(merged)
    try:
        yield merged
    finally:
        _keys.reset(token)


def append_keys(**keys: Any) -> None:
    _keys.set({**_keys.get(), **keys})


class Stopwatch:
    """Named laps in milliseconds: ``with sw.lap("decode"): ...``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.laps: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = round(self.laps.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 2)

    def total(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 2)
