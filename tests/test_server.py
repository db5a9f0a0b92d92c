"""The local server over real HTTP: the same handlers as the cloud, the web page, the samples, the
local store's presigned URLs, and the upload → emulated COS trigger → poll path."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import films
from xiaofei.adapters.local_server import serve
from xiaofei.app import App

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def base_url(app: App) -> Iterator[str]:
    server = serve("127.0.0.1", 0, app, functions_dir=ROOT / "functions", web_dir=ROOT / "web")
    port = server.server_address[1]
    # presigned URLs must point at this server
    object.__setattr__(app.settings, "public_url", f"http://127.0.0.1:{port}")
    app.__dict__.pop("store", None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def api(url: str, method: str = "GET", payload: Any = None, token: str = "") -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload).encode() if payload is not None else None
    status, _, data = request(url, method, body, headers)
    return status, json.loads(data)


def test_health_models_page_and_samples(base_url: str) -> None:
    assert api(base_url + "/healthz")[0] == 200
    status, models = api(base_url + "/models")
    assert status == 200 and {m["name"] for m in models["models"]} == {"pneumonia", "skin"}
    status, headers, page = request(base_url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<html" in page.lower()
    status, samples = api(base_url + "/samples")
    assert status == 200 and {s["model"] for s in samples["samples"]} == {"skin"}  # real films may not ship
    status, headers, image = request(base_url + samples["samples"][0]["url"])
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and image[:2] == b"\xff\xd8"
    assert request(base_url + "/samples/../../pyproject.toml")[0] == 404
    assert request(base_url + "/web/../xiaofei/config.py")[0] == 404


def test_predict_over_http_multipart_free_raw_body(base_url: str) -> None:
    status, _, body = request(
        base_url + "/predict?model=pneumonia",
        "POST",
        films.drawn("viral"),
        {"Content-Type": "image/jpeg"},
    )
    answer = json.loads(body)
    assert status == 200 and answer["model"]["name"] == "pneumonia"


def test_oversized_body_refused_before_reading(base_url: str) -> None:
    status, _, body = request(
        base_url + "/predict", "POST", b"\x00" * 14_000_000, {"Content-Type": "image/jpeg"}
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def _jpeg_of_size(size: int) -> bytes:
    """A real JPEG padded to ``size`` bytes (junk after the end marker, as some cameras write)."""
    data = films.drawn("viral")
    return data + b"\x00" * (size - len(data))


@pytest.mark.parametrize("kind", ["raw", "json"])
def test_the_6mb_event_limit_is_enforced_as_scf_would(base_url: str, kind: str) -> None:
    # GIVEN images just under and just over what fits in one 6 MB synchronous event once base64-encoded
    from xiaofei.adapters.local_server import event_size, function_url_event
    from xiaofei.limits import DIRECT_MAX_BYTES, SCF_SYNC_EVENT_BYTES

    def send(size: int) -> tuple[int, dict[str, Any]]:
        image = _jpeg_of_size(size)
        if kind == "raw":
            body, headers = image, {"Content-Type": "image/jpeg"}
        else:
            body = json.dumps({"image": base64.b64encode(image).decode()}).encode()
            headers = {"Content-Type": "application/json"}
        event = function_url_event(
            "POST", "/predict", {}, {k.lower(): v for k, v in headers.items()}, body, ""
        )
        status, _, answer = request(base_url + "/predict", "POST", body, headers)
        # THEN the local server refuses exactly the events SCF would refuse
        if event_size(event) > SCF_SYNC_EVENT_BYTES:
            assert status == 413
        return status, json.loads(answer)

    ok_status, ok = send(DIRECT_MAX_BYTES)
    assert ok_status == 200, ok  # the largest inline image is answered
    status, refused = send(SCF_SYNC_EVENT_BYTES * 3 // 4 + 1000)  # its base64 alone is over 6 MB
    assert status == 413 and refused["error"]["code"] == "payload_too_large"
    assert refused["error"]["details"]["upload"] == "/uploads"  # and it says where big files go
    assert "/uploads" in refused["error"]["message"]["en"] and refused["error"]["message"]["zh"]
    # AND an image between the inline limit and the event limit is refused by the handler itself
    status, between = send(DIRECT_MAX_BYTES + 10_000)
    assert status == 413 and between["error"]["details"]["max_bytes"] == DIRECT_MAX_BYTES


def test_local_function_url_events_have_the_documented_shape() -> None:
    from xiaofei.adapters.local_server import function_url_event

    # The function URL event carries no isBase64Encoded (tencent-cloud.md §1a): text as text, binary as base64
    text = function_url_event("POST", "/predict", {}, {"content-type": "application/json"}, b'{"a": 1}', "")
    binary = function_url_event("POST", "/predict", {}, {"content-type": "image/jpeg"}, b"\xff\xd8", "")
    assert "isBase64Encoded" not in text and "isBase64Encoded" not in binary
    assert text["body"] == '{"a": 1}' and base64.b64decode(binary["body"]) == b"\xff\xd8"


def test_upload_trigger_poll_over_http(base_url: str) -> None:
    token = api(base_url + "/session", "POST", {})[1]["token"]
    # GIVEN a presigned upload
    status, upload = api(base_url + "/uploads", "POST", {"ext": "jpg", "model": "pneumonia"}, token)
    assert status == 200 and upload["method"] == "PUT"
    # WHEN the browser PUTs the file to the presigned URL
    status, _, _ = request(upload["url"], "PUT", films.drawn("bacterial"), upload["headers"])
    assert status == 200
    # THEN polling the record sees pending, then done (the local server emulates the COS trigger)
    deadline = time.time() + 30
    record: dict[str, Any] = {}
    while time.time() < deadline:
        status, record = api(base_url + f"/history/{upload['id']}", token=token)
        assert status == 200
        if record["status"] != "pending":
            break
        time.sleep(0.1)
    # A drawn film (tests/films.py): whether the gate accepts it is not this test's business; the
    # answer is there either way, labelled or refused with its reason.
    assert record["status"] == "done" and (record["label"] or record["quality"]["reason"])
    # AND the record's short-lived image URL serves the stored JPEG; a tampered one does not
    status, _, image = request(record["image"]["url"])
    assert status == 200 and image[:2] == b"\xff\xd8"
    assert request(record["image"]["url"].replace("sig=", "sig=0"))[0] in (401, 403)
    # AND the presigned URL cannot be reused to overwrite someone else's key
    other = upload["url"].replace(upload["key"], upload["key"].replace(upload["id"], "0" * 26))
    assert request(other, "PUT", b"x")[0] in (401, 403)
