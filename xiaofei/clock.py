"""The one clock: wall time as epoch seconds, and the one timestamp format of records, answers, the
registry and the audit trail (UTC, ISO 8601 with milliseconds and a Z: ``2026-12-04T01:02:03.456Z``).

Everything that needs "now" asks ``now()`` here, so a test moves time for the whole package at once.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now() -> float:
    """Wall-clock time, epoch seconds."""
    return time.time()


def iso(epoch_s: float) -> str:
    """``epoch_s`` in the package's timestamp format."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    return iso(now())


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO 8601 timestamp (``Z`` or an offset); ValueError if it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
