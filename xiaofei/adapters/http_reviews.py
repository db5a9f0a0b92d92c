"""The HTTP routes of the doctor's read (``reviews``), registered on the router in ``api``.

    POST   /history/{id}/share              {expires_in_hours?}  → {share, token, url, mp_path}
    DELETE /history/{id}/share/{share_id}   → {revoked}
    POST   /history/{id}/consent            {export: bool}       → {id, consent}
    GET    /reviewer                        → {code, reviewer, name}
    POST   /shared                          {share}              → the shared record, for a reviewer
    POST   /shared/review                   {share, verdict, label?, note?} → {review}

Share tokens travel in request bodies, never in a URL the server sees (the web link keeps the token in
the fragment), so they stay out of access logs.
"""

from __future__ import annotations

from typing import Any

from xiaofei.adapters.http_api import HttpRequest, read_json, route
from xiaofei.app import App
from xiaofei.identity import Caller
from xiaofei.usecases import reviews


@route("POST", r"/history/(?P<id>[^/]+)/share")
def _share(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Any:
    body = read_json(req)
    return reviews.create_share(app, caller, params["id"], body.get("expires_in_hours"))


@route("DELETE", r"/history/(?P<id>[^/]+)/share/(?P<share>[^/]+)")
def _unshare(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Any:
    return reviews.revoke_share(app, caller, params["id"], params["share"])


@route("POST", r"/history/(?P<id>[^/]+)/consent")
def _consent(app: App, req: HttpRequest, caller: Caller | None, params: dict[str, str]) -> Any:
    return reviews.set_consent(app, caller, params["id"], read_json(req).get("export"))


@route("GET", "/reviewer")
def _whoami(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return reviews.whoami(app, caller)


@route("POST", "/shared")
def _open(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    return reviews.open_share(app, caller, read_json(req).get("share"))


@route("POST", "/shared/review")
def _review(app: App, req: HttpRequest, caller: Caller | None, _: dict[str, str]) -> Any:
    body = read_json(req)
    return reviews.review_share(
        app, caller, body.get("share"), body.get("verdict"), body.get("label"), body.get("note")
    )
