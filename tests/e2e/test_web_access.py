"""The web page on a phone, by keyboard, in both languages; and how it behaves when the network fails."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .webpage import (
    PAGE,
    RESULT_TIMEOUT_MS,
    Server,
    choose_file,
    open_home,
    requires_chromium,
    screenshot,
    wait_result,
)

pytestmark = [pytest.mark.e2e, requires_chromium]

NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_language_follows_the_browser_and_the_toggle(new_page: Any, server: Server) -> None:
    # GIVEN a Chinese browser, THEN the page is in Chinese
    page = new_page(locale="zh-CN")
    open_home(page, server)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#tab-analyze")).to_have_text("分析")
    expect(page.locator('[data-lang="zh"]')).to_have_attribute("aria-pressed", "true")

    # WHEN English is chosen, THEN the text and the lang attribute switch, and the choice survives a reload
    page.locator('[data-lang="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#tab-analyze")).to_have_text("Analyze")
    expect(page.locator("#drop")).to_contain_text("Choose an image")
    expect(page.locator('[data-lang="en"]')).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # AND an English browser starts in English
    english = new_page(locale="en-US")
    open_home(english, server)
    expect(english.locator("html")).to_have_attribute("lang", "en")
    expect(english.locator("#tab-history")).to_have_text("History")


def test_phone_viewport_has_no_horizontal_scroll(new_page: Any, server: Server, drawn_file: Path) -> None:
    # GIVEN a phone-sized screen
    page = new_page(width=375, height=740, mobile=True)
    open_home(page, server)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)

    # WHEN an X-ray is analysed, THEN the answer fits the width too
    choose_file(page, drawn_file)
    wait_result(page)
    page.wait_for_timeout(400)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, "mobile")

    # AND so does the history
    page.locator("#tab-history").click()
    expect(page.get_by_test_id("history-item")).to_have_count(1)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)


def test_keyboard_alone_reaches_and_opens_the_upload_button(
    page: Any, server: Server, drawn_file: Path
) -> None:
    # GIVEN the page, used with the keyboard only
    open_home(page, server)
    reached = False
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "drop":
            reached = True
            break
    assert reached, "Tab never reached the upload button"

    # THEN the focus is visible
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")

    # WHEN Enter is pressed, THEN the file chooser opens and the answer's heading takes the focus
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(drawn_file))
    wait_result(page)
    expect(page.locator("#result .card-title")).to_be_focused()


def test_network_failure_offers_a_retry_that_works(page: Any, server: Server, drawn_file: Path) -> None:
    # GIVEN the connection drops during the first upload
    page.route("**/predict", lambda route: route.abort("internetdisconnected"))
    open_home(page, server)
    choose_file(page, drawn_file)

    # THEN a network error is shown with a retry button, and nothing keeps spinning
    message = page.get_by_test_id("error-message")
    expect(message).to_have_attribute("data-code", "network_error", timeout=RESULT_TIMEOUT_MS)
    expect(message).to_contain_text("无法连接到服务器")
    expect(page.locator("#progress")).to_be_hidden()

    # WHEN the connection is back and retry is pressed, THEN the answer comes
    page.unroute("**/predict")
    page.get_by_test_id("retry").click()
    wait_result(page)
    expect(page.get_by_test_id("error-message")).to_have_count(0)


def test_a_server_that_never_answers_times_out(page: Any, server: Server, drawn_file: Path) -> None:
    # GIVEN a short predict timeout and a server that swallows the request
    page.route(
        "**/config.js",
        lambda route: route.fulfill(
            content_type="text/javascript",
            body='window.XIAOFEI_CONFIG = {apiBase: "", predictTimeoutMs: 1500};',
        ),
    )
    page.route("**/predict", lambda route: None)  # never fulfilled
    open_home(page, server)
    choose_file(page, drawn_file)

    # THEN the wait ends with a timeout message and a retry button
    message = page.get_by_test_id("error-message")
    expect(message).to_have_attribute("data-code", "timeout", timeout=10_000)
    expect(page.get_by_test_id("retry")).to_be_visible()
    expect(page.locator("#progress")).to_be_hidden()


def test_a_stale_session_is_renewed(new_page: Any, server: Server) -> None:
    # GIVEN a browser holding a token the server did not sign
    page = new_page()
    stale = json.dumps({"token": "forged.token.value", "expires_at": "2099-01-01T00:00:00Z"})
    page.add_init_script(f"localStorage.setItem('xiaofei.session', {json.dumps(stale)})")

    # WHEN the history is opened
    page.goto(server.url + PAGE + "#/history")

    # THEN the 401 is answered by a new session, not shown to the user
    expect(page.locator("#history-empty")).to_be_visible()
    expect(page.get_by_test_id("error-message")).to_have_count(0)
    token = page.evaluate("JSON.parse(localStorage.getItem('xiaofei.session')).token")
    assert token and token != "forged.token.value"


def _server_error_codes() -> set[str]:
    """Every code the backend can send: the contract table plus every AppError subclass in the package."""
    import importlib
    import pkgutil

    import xiaofei
    from xiaofei.errors import ALL_CODES, AppError

    for info in pkgutil.iter_modules(xiaofei.__path__):
        if info.name.startswith("_"):  # __main__ would run the command line
            continue
        with contextlib.suppress(Exception):  # an optional dependency missing: ALL_CODES still holds
            importlib.import_module(f"xiaofei.{info.name}")
    codes, todo = set(ALL_CODES), [AppError]
    while todo:
        cls = todo.pop()
        codes.add(cls.code)
        todo.extend(cls.__subclasses__())
    return codes


def test_every_error_code_has_a_friendly_bilingual_message(page: Any, server: Server) -> None:
    # GIVEN the page's own message table (loaded from the page's script folder)
    open_home(page, server)
    table = page.evaluate(
        """async () => {
            const base = document.querySelector('script[type="module"]').src;
            return (await import(new URL('i18n.js', base).href)).errorTable();
        }"""
    )

    # THEN every code the server can send has a message in both languages
    missing = sorted(_server_error_codes() - set(table))
    assert not missing, f"no friendly message for {missing}"
    for code, message in table.items():
        assert re.search(r"[\u4e00-\u9fff]", message["zh"]), code
        assert message["en"].isascii() and message["en"].strip(), code
