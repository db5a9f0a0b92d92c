"""Helpers for the browser tests: the server handle, the browser's launch options, page actions."""

from __future__ import annotations

import io
import json
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


requires_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@dataclass(frozen=True)
class Server:
    url: str
    store: Path
    log: Path

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as res:
            return json.load(res)

    def download(self, path: str, dest: Path) -> Path:
        with urllib.request.urlopen(self.url + path, timeout=10) as res:
            dest.write_bytes(res.read())
        return dest


RESULT_TIMEOUT_MS = 30_000
PAGE = "/"  # where `xiaofei serve` serves the web page


def open_home(page: Any, server: Server) -> None:
    page.goto(server.url + PAGE)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def choose_file(page: Any, path: Path) -> None:
    """Pick a file the way a user does: click the drop zone, answer the browser's file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator("#drop").click()
    chooser.value.set_files(str(path))


def wait_result(page: Any, scope: Any = None) -> Any:
    card = (scope or page).get_by_test_id("result-card")
    expect(card).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    return card


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot to docs/screenshots/, quantised to a palette to keep it small."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    raw = page.screenshot(full_page=full_page, animations="disabled", caret="hide")
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = SCREENSHOTS / f"{name}.png"
    image.save(path, optimize=True)
    return path
