"""The scheduled model_update job through its function entry point: candidate → canary → serving on the
policy's clock, rejections that stick, idempotence, concurrent runs, and failures half-way."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event
from tests.registry_kit import FakeClock, FaultyStore, settings, truncate, variant
from xiaofei.adapters.local_server import load_handler
from xiaofei.adapters.rollout_scf import run_model_update
from xiaofei.app import App, set_app
from xiaofei.lifecycle.registry import Registry, pointer_key

pytestmark = pytest.mark.slow  # runs the update job, the evaluation gate included

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(tmp_path: Path) -> Any:
    instance = App(settings(tmp_path, models="pneumonia"))
    instance.models.registry.clock = FakeClock()  # type: ignore[attr-defined]
    set_app(instance)
    yield instance
    set_app(None)


def registry_of(app: App) -> Registry:
    return app.registry


def timer(event: str = "timer.json") -> dict[str, Any]:
    result: dict[str, Any] = load_handler("model_update", ROOT / "functions")(
        load_event(event), {"request_id": "timer-1"}
    )
    return result


@pytest.mark.parametrize("event", ["timer.json", "timer_cloudbase.json"])
def test_a_run_with_nothing_new_bootstraps_and_does_nothing(app: App, event: str) -> None:
    summary = timer(event)
    assert summary["ok"] and summary["trigger"]
    assert summary["models"]["pneumonia"]["actions"] == []
    again = timer(event)
    assert again["models"]["pneumonia"] == summary["models"]["pneumonia"]


def test_candidate_goes_to_canary_then_serving_on_the_policy_clock(app: App, tmp_path: Path) -> None:
    registry = registry_of(app)
    clock = registry.clock
    assert isinstance(clock, FakeClock)
    registry.bootstrap("pneumonia")
    old = registry.pointer("pneumonia").version  # type: ignore[union-attr]
    registry.publish(variant(tmp_path, "1.1.0"), by="test")

    first = timer()["models"]["pneumonia"]
    assert [a["action"] for a in first["actions"]] == ["evaluate", "canary"]
    assert first["canary"]["version"] == "1.1.0" and first["canary"]["weight"] == 0.1
    assert first["serving"] == old

    clock.advance(30 * 60)
    second = timer()["models"]["pneumonia"]
    assert second["actions"] == [] and second["canary_remaining_minutes"] == pytest.approx(30, abs=0.1)

    clock.advance(31 * 60)
    third = timer()["models"]["pneumonia"]
    assert third["actions"] == [{"action": "promote", "version": "1.1.0", "from": "canary"}]
    pointer = registry.pointer("pneumonia")
    assert pointer is not None and (pointer.version, pointer.canary, pointer.previous) == ("1.1.0", None, old)
    assert registry.evaluation("pneumonia", "1.1.0")["rollout"] == "serving"  # type: ignore[index]

    assert timer()["models"]["pneumonia"]["actions"] == []  # idempotent
    # newest first (entries of one fake-clock instant come in any order)
    actions = [(e["action"], e["by"]) for e in registry.audit_log(model="pneumonia")]
    assert actions[0] == ("promote", "model_update")
    assert {("canary", "model_update"), ("evaluate", "model_update"), ("publish", "test")} <= set(actions)


def test_straight_to_serving_and_a_rejection_that_sticks(app: App, tmp_path: Path) -> None:
    registry = registry_of(app)
    registry.bootstrap("pneumonia")
    policy = json.loads(registry.store.get("models/pneumonia/policy.json"))
    policy["rollout"]["straight_to_serving"] = True
    registry.put_policy("pneumonia", policy, by="test")
    registry.publish(variant(tmp_path, "3.0.0", onnx=truncate), by="test")
    registry.publish(variant(tmp_path / "good", "2.0.1"), by="test")

    summary = timer()["models"]["pneumonia"]
    assert [(a["action"], a["version"]) for a in summary["actions"]] == [
        ("evaluate", "3.0.0"),
        ("evaluate", "2.0.1"),
        ("promote", "2.0.1"),
    ]
    assert summary["serving"] == "2.0.1"
    rejected = registry.evaluation("pneumonia", "3.0.0")
    assert rejected is not None and rejected["reasons"][0]["check"] == "onnx_load"

    assert timer()["models"]["pneumonia"]["actions"] == []  # never touched again...
    assert registry.evaluation("pneumonia", "3.0.0") == rejected
    registry.publish(variant(tmp_path / "fixed", "3.0.0"), by="test")  # ...unless re-published
    again = timer()["models"]["pneumonia"]
    assert (again["actions"][0]["action"], again["actions"][0]["verdict"]) == ("evaluate", "passed")


def test_two_concurrent_runs_leave_one_consistent_pointer(app: App, tmp_path: Path) -> None:
    registry = registry_of(app)
    registry.bootstrap("pneumonia")
    registry.publish(variant(tmp_path, "3.0.0"), by="test")
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(run_model_update(app, load_event("timer.json")))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r["ok"] for r in results)
    outcomes = [r["models"]["pneumonia"] for r in results]
    evaluations = [a for o in outcomes for a in o.get("actions", []) if a["action"] == "evaluate"]
    skipped = [o for o in outcomes if "skipped" in o]
    # one run gated and started the canary; the other either waited for the lease or found it done
    assert len(evaluations) == 1 and len(skipped) + len(evaluations) >= 1
    pointer = json.loads(registry.store.get(pointer_key("pneumonia")))
    assert pointer["canary"]["version"] == "3.0.0"
    assert [e["action"] for e in registry.audit_log(model="pneumonia")].count("canary") == 1


def test_a_storage_error_mid_promotion_leaves_the_pointer_and_the_next_run_finishes(
    app: App, tmp_path: Path
) -> None:
    registry = registry_of(app)
    registry.bootstrap("pneumonia")
    before = registry.store.get(pointer_key("pneumonia"))
    registry.publish(variant(tmp_path, "4.0.0"), by="test")
    healthy = registry.store
    registry.store = FaultyStore(healthy, lambda key: "/pointer/" in key)

    summary = timer()
    assert not summary["ok"] and summary["models"]["pneumonia"]["error"] == "storage_unavailable"
    assert healthy.get(pointer_key("pneumonia")) == before
    assert registry.evaluation("pneumonia", "4.0.0")["verdict"] == "passed"  # type: ignore[index]

    registry.store = healthy
    done = timer()["models"]["pneumonia"]
    assert [a["action"] for a in done["actions"]] == ["canary"]  # not gated twice
    assert done["canary"]["version"] == "4.0.0"


def test_a_canary_withdrawn_by_the_operator_is_not_promoted(app: App, tmp_path: Path) -> None:
    registry = registry_of(app)
    clock = registry.clock
    assert isinstance(clock, FakeClock)
    registry.bootstrap("pneumonia")
    registry.publish(variant(tmp_path, "5.0.0"), by="test")
    timer()
    registry.rollback("pneumonia", by="operator", reason="complaints")
    clock.advance(2 * 3600)
    summary = timer()["models"]["pneumonia"]
    assert summary["actions"] == [] and summary["canary"] is None
    assert registry.evaluation("pneumonia", "5.0.0")["rollout"] == "rolled_back"  # type: ignore[index]


def test_an_operator_change_during_the_run_stands(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job decided on one state; an operator moved the pointer before the job wrote: the job yields."""
    registry = registry_of(app)
    registry.bootstrap("pneumonia")
    registry.publish(variant(tmp_path, "6.0.0"), by="test")
    registry.publish(variant(tmp_path / "op", "6.1.0"), by="test")
    import xiaofei.lifecycle.update as job

    original = job._gate

    def gate_then_operator(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = original(*args, **kwargs)
        registry.promote("pneumonia", "6.1.0", by="operator", force=True, reason="manual")
        return result

    monkeypatch.setattr(job, "_gate", gate_then_operator)
    summary = timer()["models"]["pneumonia"]
    assert summary["actions"][-1]["action"] == "stopped" and summary["serving"] == "6.1.0"
    evaluation = registry.evaluation("pneumonia", "6.0.0")
    assert summary["canary"] is None and evaluation is not None and evaluation["verdict"] == "passed"
    # the next run judges the candidate again, against what serves now
    again = timer()["models"]["pneumonia"]
    assert again["actions"][0]["action"] == "evaluate" and again["canary"]["version"] == "6.0.0"
