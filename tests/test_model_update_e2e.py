"""End to end through the local server over real HTTP: a better model is published, the timer handler
puts it in canary (it takes its share of callers), promotes it after the canary period (the test moves
the registry's clock, nothing sleeps for an hour), then the operator rolls back with the CLI while a
background thread keeps sending requests: the old version is back within one refresh interval and no
request fails."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event
from tests.registry_kit import BUNDLED, FakeClock, degrade_onnx, settings, variant
from xiaofei.adapters import cli
from xiaofei.adapters.local_server import load_handler, serve
from xiaofei.app import App

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # runs the update job under traffic

REFRESH_S = 0.5
WEIGHT = 0.3
CALLERS = 100


def http(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, App]]:
    cfg = settings(tmp_path, models="pneumonia", model_refresh_s=REFRESH_S)
    for key, value in (
        ("XIAOFEI_STORAGE", cfg.storage),
        ("XIAOFEI_SECRET", cfg.secret),
        ("XIAOFEI_MODELS", "pneumonia"),
        ("XIAOFEI_BUNDLED_MODELS_DIR", cfg.bundled_models_dir),
        ("XIAOFEI_MODEL_CACHE_DIR", str(tmp_path / "cli-cache")),
        ("USER", "oncall-alice"),
    ):
        monkeypatch.setenv(key, value)
    app = App(cfg)
    server = serve("127.0.0.1", 0, app, functions_dir=ROOT / "functions")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", app
    server.shutdown()
    server.server_close()


def test_publish_canary_promote_rollback_under_traffic(live: tuple[str, App], tmp_path: Path) -> None:
    base, app = live
    # a small golden image keeps each request cheap (the full path still runs: decode, gate, CAM, history)
    image = sorted((BUNDLED / "pneumonia" / "golden").glob("*.jpg"))[0].read_bytes()
    registry = app.registry
    clock = FakeClock()
    registry.clock = clock

    def predict(token: str = "") -> dict[str, Any]:
        headers = {"Content-Type": "image/jpeg", **({"Authorization": f"Bearer {token}"} if token else {})}
        status, answer = http(base + "/predict", "POST", image, headers)
        assert status == 200, answer
        return answer

    # GIVEN an older, weaker model serving (put there by an operator), and a policy with a 30 % canary
    registry.bootstrap("pneumonia")
    registry.publish(variant(tmp_path / "old", "0.9.0", onnx=degrade_onnx(0.3)), by="operator")
    registry.promote("pneumonia", "0.9.0", by="operator", force=True, reason="an older model")
    policy = json.loads(registry.store.get("models/pneumonia/policy.json"))
    policy["rollout"] = {"canary_weight": WEIGHT, "canary_minutes": 60, "straight_to_serving": False}
    registry.put_policy("pneumonia", policy, by="operator")
    time.sleep(REFRESH_S)
    assert predict()["model"]["version"] == "0.9.0"
    tokens = [
        http(base + "/session", "POST", b"{}", {"Content-Type": "application/json"})[1]["token"]
        for _ in range(CALLERS)
    ]

    # WHEN a better model is published and the timer fires
    registry.publish(variant(tmp_path / "new", "1.1.0"), by="operator", reason="retrained")
    handler = load_handler("model_update", ROOT / "functions")
    summary = handler(load_event("timer.json"), {"request_id": "t1"})
    assert summary["models"]["pneumonia"]["canary"]["version"] == "1.1.0", summary

    # THEN after one refresh interval the canary takes about its share of the callers, each stably
    time.sleep(REFRESH_S)
    seen = [predict(token)["model"]["version"] for token in tokens]
    share = seen.count("1.1.0") / len(seen)
    assert set(seen) == {"0.9.0", "1.1.0"} and abs(share - WEIGHT) < 0.15, share
    assert [predict(token)["model"]["version"] for token in tokens[:10]] == seen[:10]

    # WHEN the canary period has passed and the timer fires again THEN the new version serves everyone
    clock.advance(61 * 60)
    summary = handler(load_event("timer.json"), {"request_id": "t2"})
    assert summary["models"]["pneumonia"]["serving"] == "1.1.0", summary
    time.sleep(REFRESH_S)
    assert {predict(token)["model"]["version"] for token in tokens[:20]} == {"1.1.0"}

    # WHEN the operator rolls back while traffic flows
    failures: list[Any] = []
    answers: list[tuple[float, str]] = []
    stop = threading.Event()

    def traffic(worker: int) -> None:
        i = worker
        while not stop.is_set():
            try:
                answers.append((time.monotonic(), predict(tokens[i % len(tokens)])["model"]["version"]))
            except BaseException as exc:  # any failed request fails the test
                failures.append(exc)
            i += 2

    workers = [threading.Thread(target=traffic, args=(w,)) for w in range(2)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    assert cli.main(["model", "rollback", "pneumonia", "--reason", "complaints"]) == 0
    rolled_back_at = time.monotonic()
    deadline = rolled_back_at + REFRESH_S + 5.0
    while time.monotonic() < deadline and not any(v == "0.9.0" and t > rolled_back_at for t, v in answers):
        time.sleep(0.05)
    time.sleep(REFRESH_S)
    stop.set()
    for w in workers:
        w.join()

    # THEN the old version is back within one refresh interval (plus loading it), and nothing failed
    assert failures == []
    first_old = min(t for t, v in answers if v == "0.9.0" and t > rolled_back_at)
    assert first_old - rolled_back_at < REFRESH_S + 3.0
    assert {v for t, v in answers if t > first_old + 0.5} == {"0.9.0"}
    assert [v for _, v in answers[-5:]] == ["0.9.0"] * 5
    audit = next(e for e in registry.audit_log(model="pneumonia") if e["action"] == "rollback")
    assert (audit["by"], audit["reason"], audit["version"]) == ("oncall-alice", "complaints", "0.9.0")
