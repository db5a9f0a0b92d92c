"""A caller's own history: list, get, delete one record, erase everything."""

from __future__ import annotations

from typing import Any

from xiaofei.app import App
from xiaofei.identity import Caller
from xiaofei.usecases.common import public_record


def list_history(app: App, caller: Caller, cursor: str | None, limit: int) -> dict[str, Any]:
    items, next_cursor = app.history.list(caller.uid, cursor=cursor or None, limit=limit)
    return {"items": [public_record(app, r) for r in items], "next_cursor": next_cursor}


def get_record(app: App, caller: Caller, record_id: str) -> dict[str, Any]:
    return public_record(app, app.history.get(caller.uid, record_id))


def delete_record(app: App, caller: Caller, record_id: str) -> dict[str, Any]:
    app.history.delete(caller.uid, record_id)
    return {"deleted": record_id}


def delete_all(app: App, caller: Caller) -> dict[str, Any]:
    return {"deleted": app.history.delete_all(caller.uid)}
