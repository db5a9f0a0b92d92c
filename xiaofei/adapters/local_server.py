"""The local server: each HTTP request becomes the event the cloud would send, handed to the same
``main_handler`` the cloud calls — so the local path runs the real code, adapters included.

Besides the API it serves the web page (the ``web_dir`` its caller gives: the CLI's ``--web``), the
bundled sample images, and the local object
store's presigned URLs (``/_store/...``); a presigned upload is followed by the COS event the bucket
trigger would send, so the upload → trigger → poll path runs locally too.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import mimetypes
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from xiaofei.adapters.api import function_for
from xiaofei.app import App, get_app, set_app
from xiaofei.errors import AppError, BadRequest, NotFound, PayloadTooLarge
from xiaofei.limits import SCF_SYNC_EVENT_BYTES, event_too_large
from xiaofei.records.keys import UPLOADS_PREFIX

log = logging.getLogger(__name__)
_SAMPLE_NAME = re.compile(r"^(?P<model>[a-z]+)-(?P<label>[a-z_]+)-\d+\.(jpg|jpeg|png)$")
Handler = Callable[[Any, Any], Any]


def load_handler(function: str, functions_dir: Path) -> Handler:
    """``functions/<name>/index.py:main_handler``, imported from its file as the platform does."""
    path = functions_dir / function / "index.py"
    if not re.fullmatch(r"[a-z_]+", function) or not path.is_file():
        raise NotFound(f"No function named '{function[:40]}'.", f"没有名为 '{function[:40]}' 的函数。")
    spec = importlib.util.spec_from_file_location(f"xiaofei_function_{function}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.main_handler
    return handler


__all__ = ["LocalServer", "cos_event", "function_for", "function_url_event", "load_handler", "serve"]

_TEXTUAL = ("application/json", "text/", "application/x-www-form-urlencoded")


def function_url_event(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, client_ip: str
) -> dict[str, Any]:
    """The SCF function-URL event for one request. Its documented shape has no ``isBase64Encoded``
    (tencent-cloud.md §1a): a textual body travels as text, a binary one base64-encoded (inference), and
    the adapter tells them apart by the Content-Type, as it must in the cloud."""
    content_type = headers.get("content-type", "").lower()
    textual = content_type.startswith(_TEXTUAL)
    if body and textual:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode()
    else:
        text = base64.b64encode(body).decode() if body else ""
    return {
        "httpMethod": method,
        "path": path,
        "queryString": query,
        "headers": {**headers, "x-scf-remote-addr": client_ip},
        "body": text,
    }


def event_size(event: dict[str, Any]) -> int:
    """The bytes of the event as the platform serialises it (JSON, UTF-8)."""
    return len(json.dumps(event, ensure_ascii=False).encode())


def local_context(function: str) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "function_name": function,
        "function_version": "$LATEST",
        "namespace": "local",
        "memory_limit_in_mb": 1024,
        "time_limit_in_ms": 30000,
    }


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], app: App, *, functions_dir: Path, web_dir: Path | None
    ) -> None:
        super().__init__(address, RequestHandler)
        self.app = app
        self.web_dir = web_dir
        self.handlers = {name: load_handler(name, functions_dir) for name in ("predict", "history")}


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the handlers log JSON; keep stderr clean
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        web = self.server.web_dir
        try:
            body = self._read_body()
            if path.startswith("/_store/"):
                self._store(path[len("/_store/") :], query, body)
            elif web and self.command == "GET" and path in ("/", "/web/", "/index.html"):
                self._static(web, "index.html")
            elif web and self.command == "GET" and path.startswith("/web/"):
                self._static(web, path[len("/web/") :])
            elif web and self.command == "GET" and "/" not in path[1:] and (web / path[1:]).is_file():
                self._static(web, path[1:])  # the page's own files, linked relative to "/"
            elif self.command == "GET" and path.rstrip("/") == "/samples":
                self._json(200, {"samples": list_samples(self._samples_dir())})
            elif self.command == "GET" and path.startswith("/samples/"):
                self._static(self._samples_dir(), path[len("/samples/") :])
            else:
                self._invoke(path, query, body)
        except AppError as exc:
            self._json(exc.status, exc.to_dict(""))
        except (ConnectionError, TimeoutError):
            pass

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError as exc:
            raise BadRequest() from exc
        # A presigned PUT goes to the store (COS in the cloud): the upload limit. Anything else becomes
        # an event, which SCF refuses over 6 MB: the same limit here, so make run shows it too.
        to_store = urlsplit(self.path).path.startswith("/_store/")
        limit = self.server.app.settings.max_body_bytes + 65536 if to_store else SCF_SYNC_EVENT_BYTES
        if size < 0 or size > limit:
            self.close_connection = True
            self._discard(min(size, 8 * limit))  # so the client reads our 413 instead of a broken pipe
            raise PayloadTooLarge() if to_store else event_too_large(size)
        return self.rfile.read(size)

    def _discard(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 20))
            if not chunk:
                return
            size -= len(chunk)

    def _invoke(self, path: str, query: dict[str, str], body: bytes) -> None:
        function = function_for(path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = function_url_event(self.command, path, query, headers, body, self.client_address[0])
        size = event_size(event)
        if size > SCF_SYNC_EVENT_BYTES:  # what the platform refuses before any code runs
            raise event_too_large(size)
        result = self.server.handlers[function](event, local_context(function))
        payload = (
            base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"].encode()
        )
        self._send(result["statusCode"], payload, result.get("headers", {}))

    def _store(self, key: str, query: dict[str, str], body: bytes) -> None:
        from xiaofei.storage.open import LocalStore

        store = self.server.app.store
        if not isinstance(store, LocalStore):  # S3 presigned URLs point at the bucket, not here
            raise NotFound()
        if self.command == "OPTIONS":
            self._send(204, b"", _store_cors())
            return
        if self.command == "GET":
            store.verify_presigned("GET", key, query)
            info = store.head(key)
            if info is None:
                raise NotFound()
            self._send(200, store.get(key), {"Content-Type": info.content_type, **_store_cors()})
        elif self.command == "PUT":
            store.accept_presigned_put(key, query, body)  # the signed size limit and content type
            self._send(200, b"", _store_cors())
            if key.startswith(UPLOADS_PREFIX):
                threading.Thread(target=self._emulate_cos_trigger, args=(key,), daemon=True).start()
        else:
            raise NotFound()

    def _emulate_cos_trigger(self, key: str) -> None:
        """What the bucket's COS trigger does in the cloud: call ``predict`` with the object-created event."""
        event = cos_event(key)
        try:
            self.server.handlers["predict"](event, local_context("predict"))
        except Exception:
            log.exception("local COS trigger failed")

    def _samples_dir(self) -> Path:
        return Path(self.server.app.settings.bundled_models_dir) / "samples"

    def _static(self, root: Path, name: str) -> None:
        target = (root / name).resolve()
        if not name or root.resolve() not in target.parents or not target.is_file():
            raise NotFound()
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(200, target.read_bytes(), {"Content-Type": content_type, "Cache-Control": "no-cache"})

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, {"Content-Type": "application/json; charset=utf-8"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _store_cors() -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, PUT, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
    }


def cos_event(key: str, appid: str = "1250000000", bucket: str = "xiaofei-local") -> dict[str, Any]:
    """The COS trigger's event for one created object (the documented shape; key is /appid/bucket/key)."""
    return {
        "Records": [
            {
                "cos": {
                    "cosSchemaVersion": "1.0",
                    "cosObject": {
                        "url": f"http://{bucket}-{appid}.cos.local/{key}",
                        "meta": {},
                        "vid": "",
                        "key": f"/{appid}/{bucket}/{key}",
                        "size": 0,
                    },
                    "cosBucket": {"region": "local", "name": bucket, "appid": appid},
                    "cosNotificationId": "local",
                },
                "event": {
                    "eventName": "cos:ObjectCreated:Put",
                    "eventVersion": "1.0",
                    "eventSource": "qcs::cos",
                    "eventQueue": "local",
                    "reservedInfo": "",
                    "reqid": 0,
                },
            }
        ]
    }


def list_samples(root: Path) -> list[dict[str, str]]:
    if not root.is_dir():
        return []
    samples = []
    for path in sorted(root.iterdir()):
        match = _SAMPLE_NAME.match(path.name)
        if match:
            samples.append(
                {
                    "file": path.name,
                    "url": f"/samples/{path.name}",
                    "model": match["model"],
                    "label": match["label"],
                }
            )
    return samples


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    app: App | None = None,
    *,
    functions_dir: Path,
    web_dir: Path | None = None,
) -> LocalServer:
    """Build the server (not started); ``serve_forever()`` runs it. Its handlers use the same ``app``.

    ``functions_dir``: the folder of the functions' entry points (``<name>/index.py``); ``web_dir``: the
    web page's folder (None: the API only). The CLI passes the checkout's when run from one."""
    app = app or get_app()
    set_app(app)
    return LocalServer((host, port), app, functions_dir=functions_dir, web_dir=web_dir)
