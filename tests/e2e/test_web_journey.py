"""The web page's main journey, in a real browser against the real local server."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from .webpage import (
    RESULT_TIMEOUT_MS,
    Server,
    choose_file,
    open_home,
    requires_chromium,
    screenshot,
    wait_result,
)

pytestmark = [pytest.mark.e2e, requires_chromium]

LOADED = "img => img.complete && img.naturalWidth > 0"


def analyze_sample(page: Any, file: str) -> str:
    """Click a bundled sample image; return the new record's id."""
    page.locator(f'.sample[data-file="{file}"]').click()
    expect(page.get_by_test_id("result-card")).to_have_count(0)  # the previous answer goes at once
    card = wait_result(page)
    record_id = card.get_attribute("data-id")
    assert record_id
    return record_id


def image_loaded(page: Any, locator: Any) -> bool:
    return bool(page.wait_for_function(LOADED, arg=locator.element_handle(), timeout=10_000))


def test_upload_xray_shows_result_bars_and_heatmap(
    page: Any, server: Server, xray_file: Path, models: dict[str, Any]
) -> None:
    # GIVEN the page with the chest X-ray model chosen, and a real film
    open_home(page, server)
    page.locator('input[name="model"][value="pneumonia"]').check()

    # WHEN the film is picked with the file chooser
    choose_file(page, xray_file)

    # THEN the answer shows a label, its confidence and one bar per class, sorted, the top one first
    card = wait_result(page)
    assert card.get_attribute("data-state") in ("confident", "uncertain")
    label = card.get_by_test_id("result-label").inner_text()
    assert label.strip()
    expect(card.get_by_test_id("result-confidence")).to_contain_text("%")
    bars = card.get_by_test_id("prob-bars").locator("li")
    expect(bars).to_have_count(len(models["pneumonia"]["labels"]))
    probs = [float(bars.nth(i).get_attribute("data-p") or "nan") for i in range(bars.count())]
    assert probs == sorted(probs, reverse=True)
    assert abs(sum(probs) - 1.0) < 1e-3
    assert bars.first.locator(".bar-name").inner_text() in label

    # AND the heatmap is drawn over the image, can be hidden, and its opacity follows the slider
    heatmap = card.get_by_test_id("heatmap")
    assert image_loaded(page, heatmap)
    assert image_loaded(page, card.get_by_test_id("result-image"))
    card.get_by_test_id("heatmap-toggle").uncheck()
    expect(heatmap).to_be_hidden()
    card.get_by_test_id("heatmap-toggle").check()
    expect(heatmap).to_be_visible()
    card.get_by_test_id("heatmap-opacity").fill("40")
    expect(heatmap).to_have_css("opacity", "0.4")
    card.get_by_test_id("heatmap-opacity").fill("80")

    # AND the disclaimer, and what the model is: the demo banner for a demo model, otherwise whom it was
    # trained on and that it is not clinically validated
    expect(card).to_contain_text("本产品仅作辅助诊断使用，如有不适请及时就医")
    demo = bool(models["pneumonia"].get("demo"))
    expect(card.get_by_test_id("demo-banner")).to_have_count(1 if demo else 0)
    expect(card.get_by_test_id("model-notice")).to_have_count(0 if demo else 1)
    if not demo:
        expect(card.get_by_test_id("model-notice")).to_contain_text("未经临床验证")
        expect(card.get_by_test_id("model-notice")).to_contain_text(models["pneumonia"]["trained_on"]["zh"])
    page.wait_for_timeout(400)  # let the smooth scroll settle before the picture
    screenshot(page, "result")


def test_history_open_delete_and_empty_state(
    page: Any, server: Server, samples: list[dict[str, str]]
) -> None:
    # GIVEN one analysed sample
    open_home(page, server)
    record_id = analyze_sample(page, samples[0]["file"])

    # WHEN the history is opened
    page.locator("#tab-history").click()

    # THEN it lists that record
    items = page.get_by_test_id("history-item")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-id", record_id)
    expect(page.locator("#history-empty")).to_be_hidden()
    screenshot(page, "history")

    # WHEN the record is opened, THEN its image and heatmap load from the record's short-lived URLs
    items.first.get_by_test_id("history-open").click()
    detail = page.locator("#detail")
    card = wait_result(page, detail)
    expect(card).to_have_attribute("data-id", record_id)
    assert image_loaded(page, card.get_by_test_id("heatmap"))
    assert image_loaded(page, card.get_by_test_id("result-image"))
    page.locator("#detail-close").click()
    expect(detail).to_be_hidden()

    # WHEN it is deleted, the confirmation is cancelled first, then accepted
    items.first.get_by_test_id("history-delete").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.locator('#confirm button[value="cancel"]').click()
    expect(items).to_have_count(1)
    items.first.get_by_test_id("history-delete").click()
    page.locator("#confirm-ok").click()

    # THEN the list shows the empty state, and the server agrees after a reload
    expect(items).to_have_count(0)
    expect(page.locator("#history-empty")).to_be_visible()
    page.reload()
    expect(page.locator("#history-empty")).to_be_visible()
    expect(items).to_have_count(0)


def test_history_pages_with_load_more_then_delete_all(
    page: Any, server: Server, samples: list[dict[str, str]]
) -> None:
    # GIVEN a deploy configured with two records per page (config.js is the one replaceable file)
    page.route(
        "**/config.js",
        lambda route: route.fulfill(
            content_type="text/javascript", body='window.XIAOFEI_CONFIG = {apiBase: "", historyPageSize: 2};'
        ),
    )
    open_home(page, server)
    ids = [analyze_sample(page, samples[i % len(samples)]["file"]) for i in range(3)]

    # WHEN the history opens, THEN the newest two show, and "load more" brings the third
    page.locator("#tab-history").click()
    items = page.get_by_test_id("history-item")
    expect(items).to_have_count(2)
    assert [items.nth(i).get_attribute("data-id") for i in range(2)] == ids[::-1][:2]
    page.locator("#load-more").click()
    expect(items).to_have_count(3)
    expect(page.locator("#load-more")).to_be_hidden()

    # WHEN everything is deleted (confirmed), THEN the empty state shows, also after a reload
    page.locator("#delete-all").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#history-empty")).to_be_visible()
    expect(items).to_have_count(0)
    page.reload()
    expect(page.locator("#history-empty")).to_be_visible()


def test_non_image_shows_bilingual_unsupported_format(page: Any, server: Server, tmp_path: Path) -> None:
    # GIVEN a text file
    note = tmp_path / "notes.txt"
    note.write_text("not an image, just words\n")
    open_home(page, server)

    # WHEN it is uploaded
    choose_file(page, note)

    # THEN the server's code is shown as a friendly message, in Chinese, then in English
    message = page.get_by_test_id("error-message")
    expect(message).to_have_attribute("data-code", "unsupported_format", timeout=RESULT_TIMEOUT_MS)
    expect(message).to_contain_text("不支持的文件类型")
    expect(page.get_by_test_id("result-card")).to_have_count(0)
    expect(page.get_by_test_id("retry")).to_have_count(0)  # retrying the same file cannot help
    screenshot(page, "error", full_page=False)
    page.locator('[data-lang="en"]').click()
    expect(message).to_contain_text("Unsupported file type")


def throttle_uploads(page: Any, bytes_per_s: int) -> Any:
    """Slow the page's uploads down (Chromium's own network emulation), so progress can be watched."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": bytes_per_s},
    )
    return cdp


def test_upload_progress_is_shown_and_can_be_cancelled(page: Any, server: Server, drawn_file: Path) -> None:
    # GIVEN a slow connection: the sample takes a few seconds to upload
    open_home(page, server)
    cdp = throttle_uploads(page, max(1, drawn_file.stat().st_size // 3))

    # WHEN an image is picked, THEN the progress bar counts up, with a cancel button
    choose_file(page, drawn_file)
    seen = page.wait_for_function(
        """() => {
            const bar = document.getElementById("progress-bar");
            const text = document.getElementById("progress-text").textContent;
            return bar.hasAttribute("value") && bar.value > 0 && bar.value < 1 && [bar.value, text];
        }""",
        timeout=10_000,
    ).json_value()
    assert re.fullmatch(r"正在上传… [1-9]\d?%", seen[1]), seen
    expect(page.locator("#cancel")).to_be_visible()

    # WHEN it is cancelled, THEN the page is back to idle: no spinner, no error, no answer
    page.locator("#cancel").click()
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.get_by_test_id("error-message")).to_have_count(0)
    expect(page.get_by_test_id("result-card")).to_have_count(0)

    # AND at full speed the same file goes through
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    choose_file(page, drawn_file)
    wait_result(page)


def drop_file(page: Any, path: Path, mime: str) -> None:
    """Drop a file on the drop zone, as a drag from the desktop would (a real DataTransfer with a File)."""
    page.locator("#drop").evaluate(
        """(zone, [b64, name, type]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, {type}));
            for (const kind of ["dragenter", "dragover", "drop"]) {
                const init = {dataTransfer: data, bubbles: true, cancelable: true};
                zone.dispatchEvent(new DragEvent(kind, init));
            }
        }""",
        [base64.b64encode(path.read_bytes()).decode(), path.name, mime],
    )


def test_blank_image_is_refused_without_a_diagnosis(page: Any, server: Server, tmp_path: Path) -> None:
    # GIVEN a flat grey picture: an image, but no radiograph
    blank = tmp_path / "blank.png"
    buffer = io.BytesIO()
    Image.new("L", (512, 512), 128).save(buffer, format="PNG")
    blank.write_bytes(buffer.getvalue())
    open_home(page, server)

    # WHEN it is dropped on the drop zone
    drop_file(page, blank, "image/png")

    # THEN the input gate's refusal is shown: a reason, no label, probabilities marked as not a diagnosis
    card = wait_result(page)
    expect(card).to_have_attribute("data-state", "refused")
    expect(card.get_by_test_id("refused-reason")).not_to_be_empty()
    expect(card.get_by_test_id("result-label")).to_have_count(0)
    expect(card.get_by_test_id("probabilities-note")).to_be_visible()
