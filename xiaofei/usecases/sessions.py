"""Sessions: a bearer token for a browser (``POST /session``)."""

from __future__ import annotations

from typing import Any

from xiaofei.app import App


def create_session(app: App) -> dict[str, Any]:
    token, expires_at = app.tokens.issue()
    return {"token": token, "token_type": "Bearer", "expires_at": int(expires_at)}
