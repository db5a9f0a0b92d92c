"""Browser tests: the real local server (`xiaofei serve`) and Debian's Chromium driven by Playwright.

Nothing is downloaded at test time: the browser is the system's ``chromium`` (never ``playwright
install``), and the server runs with a fresh file store in a temp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import films

from .webpage import CHROMIUM, LAUNCH_ARGS, REPO, Server

SERVER_START_S = 90.0  # the first start publishes the bundled models into the fresh store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("xiaofei")
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "xiaofei"]
    return [*prefix, "serve", "--host", "127.0.0.1", "--port", str(port)]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"xiaofei serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2) as res:
            if res.status == 200 and json.load(res).get("ok"):
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"xiaofei serve did not become healthy in {SERVER_START_S}s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("xiaofei-e2e")
    running = os.environ.get("XIAOFEI_E2E_URL", "").rstrip("/")
    if running:  # an already running server (e.g. `make run`); the tests delete only their own records
        yield Server(url=running, store=root, log=root / "server.log")
        return
    store, log = root / "store", root / "server.log"
    port = _free_port()
    env = {
        **os.environ,
        "XIAOFEI_STORAGE": f"file://{store}",
        "XIAOFEI_MODEL_CACHE_DIR": str(root / "model-cache"),
        "XIAOFEI_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _server_command(port), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url=url, store=store, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname in ("127.0.0.1", "localhost")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A factory of pages, each in a fresh context (own localStorage = own anonymous session).

    Uncaught script errors fail the test: the page must never crash, whatever the server answers.
    """
    contexts: list[Any] = []
    errors: list[str] = []
    foreign: list[str] = []

    def make(*, locale: str = "zh-CN", width: int = 1100, height: int = 900, mobile: bool = False) -> Any:
        context = browser.new_context(
            locale=locale,
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            is_mobile=mobile,
            has_touch=mobile,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        context.on("request", lambda req: None if _is_local(req.url) else foreign.append(req.url))
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Intercept file choosers from the start: expect_file_chooser() alone subscribes asynchronously,
        # and a chooser opened by a fast key press could slip past it (and be cancelled).
        page.on("filechooser", lambda chooser: None)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not foreign, f"the page fetched from outside the local server: {foreign}"


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


@pytest.fixture(scope="session")
def models(server: Server) -> dict[str, Any]:
    body = server.get_json("/models")
    return {m["name"]: m for m in body["models"]}


@pytest.fixture(scope="session")
def samples(server: Server) -> list[dict[str, str]]:
    """The bundled samples (the skin demo's: real films may not ship, see model/samples)."""
    listed = server.get_json("/samples")["samples"]
    assert listed, "the server lists no bundled sample (model/samples/)"
    return listed


@pytest.fixture(scope="session")
def xray_file() -> Path:
    """A real chest film, read in place from ../shared/data (skipped without it)."""
    return films.real_path(0)


@pytest.fixture(scope="session")
def drawn_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drawn chest film on disk, for what does not depend on the answer (progress, cancel)."""
    path = tmp_path_factory.mktemp("picked") / "film.jpg"
    path.write_bytes(films.drawn("viral", 3, (1200, 1000)))
    return path
