"""The append-only audit log of registry actions: ``audit/{yyyy}/{mm}/{inverted-ms}-{id}.json``.

One object per action (publish, golden, policy, evaluate, canary, promote, rollback, bootstrap,
scf_rollout) with who, when, what and why. Keys are written create-only, so an entry is never replaced;
the inverted time sorts each month's listing newest first.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from xiaofei import clock
from xiaofei.ids import inverted_ms, new_id

if TYPE_CHECKING:
    from xiaofei.storage.open import ObjectStore

PREFIX = "audit/"


def append(
    store: ObjectStore,
    now: float,
    action: str,
    *,
    by: str,
    reason: str = "",
    model: str | None = None,
    version: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Write one entry at wall-clock time ``now`` (epoch seconds); returns its key."""
    when = datetime.fromtimestamp(now, timezone.utc)  # the key's year and month folders
    ms = int(now * 1000)
    entry_id = new_id(ms)
    key = f"{PREFIX}{when:%Y}/{when:%m}/{inverted_ms(ms)}-{entry_id}.json"
    entry = {
        "id": entry_id,
        "at": clock.iso(now),
        "by": by,
        "action": action,
        "model": model,
        "version": version,
        "reason": reason,
        "details": details or {},
    }
    body = json.dumps(entry, ensure_ascii=False, indent=2, sort_keys=True).encode()
    store.put(key, body, "application/json", if_none_match=True)
    return key


def _keys(store: ObjectStore, prefix: str) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        items, cursor = store.list(prefix, cursor=cursor)
        keys.extend(info.key for info in items)
        if cursor is None:
            return keys


def recent(store: ObjectStore, *, limit: int = 20, model: str | None = None) -> list[dict[str, Any]]:
    """The newest entries first (months newest first; within a month the keys already sort that way)."""
    months = sorted({"/".join(key.split("/")[:3]) for key in _keys(store, PREFIX)}, reverse=True)
    entries: list[dict[str, Any]] = []
    for month in months:
        for key in _keys(store, month + "/"):
            try:
                entry = json.loads(store.get(key))
            except ValueError:
                continue  # never written by us: skip rather than hide the rest of the log
            if model is None or entry.get("model") == model:
                entries.append(entry)
                if len(entries) >= limit:
                    return entries
    return entries
