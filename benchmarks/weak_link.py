"""From choosing a 12 MP photo to the answer on a weak link: the web page's old path against the new one.

Run on demand (``make bench`` runs it; never part of the tests):
``.venv/bin/python -m benchmarks.weak_link [--runs N]``. It starts the local server (``xiaofei serve``,
a fresh folder store), opens the web page in Debian's headless Chromium, and has Chromium emulate the
link through the DevTools protocol (``Network.emulateNetworkConditions``): **1 Mbit/s up, 150 ms round
trip**, 10 Mbit/s down. The time is from the file being chosen to the answer card on screen.

- ``old``: the page before this change (``clientPath: "legacy"``): the photo posted as chosen.
- ``new``: downscaled in the browser first (long side 2048, upright, no metadata: web/prepare.js),
  then posted (or, over 4.45 MB, sent through the upload path).

The photo: 4000×3000, EXIF orientation 6 and GPS, 3.9 MB: what a phone camera writes (under the
direct limit, so the old path still gets an answer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UP_BYTES_PER_S = 1_000_000 // 8  # 1 Mbit/s
DOWN_BYTES_PER_S = 10_000_000 // 8
RTT_MS = 150
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def camera_photo(path: Path) -> Path:
    """A 12 MP phone JPEG (noise like a sensor's, so it weighs what a camera's does)."""
    sys.path.insert(0, str(ROOT))
    from tests.imagegen import phone_photo

    path.write_bytes(phone_photo(noise_level=40, quality=90))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_server(root: Path) -> Any:
    port = free_port()
    env = {**os.environ, "XIAOFEI_STORAGE": f"file://{root / 'store'}",
           "XIAOFEI_MODEL_CACHE_DIR": str(root / "cache"), "XIAOFEI_LOG_LEVEL": "WARNING"}  # fmt: skip
    script = Path(sys.executable).with_name("xiaofei")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "xiaofei"]
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2) as res:
                if json.load(res).get("ok"):
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError("the local server did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def one_run(browser: Any, url: str, photo: Path, client_path: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        config = {"apiBase": "", "clientPath": client_path, "predictTimeoutMs": 300000}
        body = "window.XIAOFEI_CONFIG = " + json.dumps(config) + ";"
        page.route("**/config.js", lambda route: route.fulfill(content_type="text/javascript", body=body))
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]")
        sent = {"bytes": 0}
        page.on(
            "request", lambda r: sent.__setitem__("bytes", sent["bytes"] + len(r.post_data_buffer or b""))
        )
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": RTT_MS,
                 "downloadThroughput": DOWN_BYTES_PER_S, "uploadThroughput": UP_BYTES_PER_S})  # fmt: skip
        started = time.perf_counter()
        page.locator("#file").set_input_files(str(photo))
        page.get_by_test_id("result-card").wait_for(state="visible", timeout=300_000)
        seconds = time.perf_counter() - started
        return {"seconds": seconds}
    finally:
        context.close()


def measure(runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    root = Path(tempfile.mkdtemp(prefix="xiaofei-weak-link-"))
    times: dict[str, list[float]] = {"old": [], "new": []}
    try:
        photo = camera_photo(root / "IMG_0001.jpg")
        with local_server(root) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
            try:
                one_run(browser, url, photo, "")  # warm-up: model load, first requests
                for _ in range(runs):
                    for name, client_path in (("old", "legacy"), ("new", "")):
                        times[name].append(one_run(browser, url, photo, client_path)["seconds"])
            finally:
                browser.close()
        times["photo_mb"] = [photo.stat().st_size / 1e6]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    times = measure(args.runs)
    print(
        f"\nChoosing a 12 MP photo ({times['photo_mb'][0]:.1f} MB) to the answer on screen, "
        "headless Chromium,"
    )
    print(f"{UP_BYTES_PER_S * 8 / 1e6:.0f} Mbit/s up, {DOWN_BYTES_PER_S * 8 / 1e6:.0f} Mbit/s down, "
          f"{RTT_MS} ms RTT (CDP emulation), median of {args.runs}\n")  # fmt: skip
    print("| client path | median s | runs s |")
    print("|---|---|---|")
    for name, label in (("old", "old: posted as chosen"), ("new", "new: downscaled in the browser")):
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        print(f"| {label} | {statistics.median(times[name]):.1f} | {runs} |")
    ratio = statistics.median(times["old"]) / statistics.median(times["new"])
    print(f"\nnew path {ratio:.1f}× faster")


if __name__ == "__main__":
    main()
