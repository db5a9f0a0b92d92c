"""Big photos from the web page, in real Chromium against the real local server: downscaled before they
leave the browser (long side <= 2048, upright, no metadata), sent through the upload path when they are
over the direct limit (with progress), and retried without ever making two records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests import imagegen

from .webpage import Server, choose_file, open_home, requires_chromium, wait_result

pytestmark = [pytest.mark.e2e, requires_chromium]


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP phone JPEG stored landscape with EXIF orientation 6 (upright it is portrait) and GPS."""
    path = tmp_path_factory.mktemp("photos") / "IMG_0001.jpg"
    path.write_bytes(imagegen.phone_photo())
    return path


def prepared_in_page(page: Any, path: Path, mime: str = "image/jpeg") -> bytes:
    """What the page's prepare.js makes of a file, run in the page itself."""
    import base64

    b64 = page.evaluate(
        """async ([b64, name, type]) => {
            const {prepareImage} = await import("./prepare.js");
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const {file, prepared} = await prepareImage(new File([bytes], name, {type}));
            if (!prepared) return null;
            const out = new Uint8Array(await file.arrayBuffer());
            let text = "";
            const step = 32768;
            for (let i = 0; i < out.length; i += step) {
                text += String.fromCharCode(...out.subarray(i, i + step));
            }
            return btoa(text);
        }""",
        [base64.b64encode(path.read_bytes()).decode(), path.name, mime],
    )
    assert b64, "prepare.js did not prepare the image"
    return base64.b64decode(b64)


def with_config(page: Any, **config: Any) -> None:
    body = "window.XIAOFEI_CONFIG = " + json.dumps({"apiBase": "", **config}) + ";"
    page.route("**/config.js", lambda route: route.fulfill(content_type="text/javascript", body=body))


def test_a_12mp_photo_leaves_the_browser_small_upright_and_without_metadata(
    page: Any, server: Server, phone_photo: Path
) -> None:
    open_home(page, server)
    # WHEN the page prepares a 12 MP phone photo
    data = prepared_in_page(page, phone_photo)
    # THEN it is a JPEG of at most 2048 px, portrait (orientation applied), with no EXIF/GPS, much smaller
    assert len(data) < phone_photo.stat().st_size / 2
    with Image.open(io.BytesIO(data)) as sent_image:
        assert sent_image.format == "JPEG" and max(sent_image.size) == 2048
        assert sent_image.height > sent_image.width  # upright: 1536 × 2048
        assert not sent_image.getexif() and "exif" not in sent_image.info
    assert b"Exif" not in data and b"XiaofeiPhone" not in data
    # AND choosing it sends that (with a request id), and the server stores it as it came: no re-encode
    with page.expect_request("**/predict") as sent:
        choose_file(page, phone_photo)
    card = wait_result(page)
    assert sent.value.headers.get("x-request-id")
    token = json.loads(page.evaluate("() => localStorage.getItem('xiaofei.session')"))["token"]
    record = page.evaluate(HISTORY_GET, [token, card.get_attribute("data-id")])
    stored = page.evaluate(FETCH_SIZE, record["image"]["url"])
    assert stored["width"] == 1536 and stored["height"] == 2048


HISTORY_GET = """async ([token, id]) =>
    (await fetch(`/history/${id}`, {headers: {Authorization: `Bearer ${token}`}})).json()"""
HISTORY_LIST = """async (token) =>
    (await fetch("/history?limit=50", {headers: {Authorization: `Bearer ${token}`}})).json()"""
FETCH_SIZE = """async (url) => {
    const bitmap = await createImageBitmap(await (await fetch(url)).blob());
    return {width: bitmap.width, height: bitmap.height};
}"""


def test_an_image_over_the_direct_limit_goes_through_the_upload_path(
    page: Any, server: Server, xray_file: Path
) -> None:
    # GIVEN a direct limit smaller than the image (the real one is 4.45 MB: SCF's 6 MB event)
    with_config(page, directMaxBytes=1000)
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url.split("?")[0].replace(server.url, ""))))
    open_home(page, server)
    # WHEN it is chosen
    choose_file(page, xray_file)
    card = wait_result(page)
    # THEN it went POST /uploads → PUT to the presigned URL → POST /predict {key}, and was answered
    calls = [(m, p) for m, p in seen if p.startswith(("/uploads", "/_store/uploads/", "/predict"))]
    assert [m for m, _ in calls] == ["POST", "PUT", "POST"], calls
    assert (
        calls[0][1] == "/uploads" and calls[1][1].startswith("/_store/uploads/") and calls[2][1] == "/predict"
    )
    assert card.get_attribute("data-id")


def test_a_lost_answer_is_retried_into_the_same_single_record(
    page: Any, server: Server, xray_file: Path
) -> None:
    # GIVEN the first answer to /predict is lost on the way back (the server did the work)
    state = {"dropped": 0, "ids": []}

    def lose_first(route: Any) -> None:
        state["ids"].append(route.request.headers.get("x-request-id"))
        response = route.fetch()
        if state["dropped"] == 0:
            state["dropped"] = 1
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/predict", lose_first)
    open_home(page, server)
    token_before = page.evaluate("() => localStorage.getItem('xiaofei.session')")
    assert token_before is None or token_before
    # WHEN an image is chosen: the page retries by itself
    choose_file(page, xray_file)
    card = wait_result(page)
    # THEN both sends carried the same request id, and the history holds that one record only
    assert len(state["ids"]) == 2 and state["ids"][0] == state["ids"][1] and state["ids"][0]
    token = json.loads(page.evaluate("() => localStorage.getItem('xiaofei.session')"))["token"]
    listing = page.evaluate(HISTORY_LIST, token)
    assert [item["id"] for item in listing["items"]] == [card.get_attribute("data-id")]


def test_upload_path_shows_progress(page: Any, server: Server, xray_file: Path) -> None:
    with_config(page, directMaxBytes=1000)
    open_home(page, server)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    slow = {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 40_000}
    cdp.send("Network.emulateNetworkConditions", slow)
    choose_file(page, xray_file)
    page.wait_for_function(
        """() => { const bar = document.getElementById("progress-bar");
                   return bar.hasAttribute("value") && bar.value > 0 && bar.value < 1; }""",
        timeout=20_000,
    )
    expect(page.locator("#cancel")).to_be_visible()
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})  # fmt: skip
    wait_result(page)


def test_a_server_with_a_smaller_inline_limit_is_met_through_the_upload_path(
    page: Any, server: Server, xray_file: Path
) -> None:
    # GIVEN a server that refuses the image inline (as one with a smaller limit would)
    def refuse(route: Any) -> None:
        if route.request.method == "POST" and "multipart/form-data" in route.request.headers.get(
            "content-type", ""
        ):
            message = {"en": "too large", "zh": "太大"}
            error = {"code": "payload_too_large", "status": 413, "message": message, "request_id": "r"}
            body = {"error": {**error, "details": {"upload": "/uploads"}}}
            route.fulfill(status=413, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    page.route("**/predict", refuse)
    open_home(page, server)
    # WHEN an image is chosen, THEN the page falls back to the upload path and gets the answer
    with page.expect_request("**/uploads"):
        choose_file(page, xray_file)
    wait_result(page)
