"""The registry over a real LocalStore: the pointer's conditional writes, publishing, promote / rollback,
the audit log, the lease, the policy and the metrics. (Model packages here are fakes: nothing is loaded.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.registry_kit import (
    FakeClock,
    FaultyStore,
    IgnoresIfMatchStore,
    fake_package,
    race_pointer_writers,
    settings,
)
from xiaofei.app import App
from xiaofei.errors import BadRequest, Conflict, NotFound, PolicyError, StorageUnavailable
from xiaofei.lifecycle.metrics import classification_metrics, expected_calibration_error
from xiaofei.lifecycle.policy import Policy
from xiaofei.lifecycle.registry import Pointer, Registry, pointer_key, pointer_prefix, pointer_seq_key
from xiaofei.lifecycle.source import in_canary, parse_pins
from xiaofei.lifecycle.update import acquire_lease, release_lease


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(App(settings(tmp_path)).store, clock=FakeClock())


def publish(registry: Registry, tmp_path: Path, version: str, name: str = "pneumonia") -> str:
    return registry.publish(fake_package(tmp_path / "pkgs", name, version), by="test")[1]


def test_publish_then_promote_canary_promote_rollback(registry: Registry, tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish(registry, tmp_path, version)
    assert [v["version"] for v in registry.versions("pneumonia")] == ["1.0.0", "1.1.0", "1.2.0"]

    # an unevaluated version needs --force
    with pytest.raises(Conflict):
        registry.promote("pneumonia", "1.0.0", by="op")
    p = registry.promote("pneumonia", "1.0.0", by="op", force=True, reason="first")
    assert (p.version, p.canary, p.previous, p.by, p.reason) == ("1.0.0", None, None, "op", "first")

    p = registry.promote("pneumonia", "1.1.0", by="op", force=True, canary_weight=0.25)
    assert (
        p.version == "1.0.0"
        and p.canary is not None
        and (p.canary.version, p.canary.weight) == ("1.1.0", 0.25)
    )
    p = registry.promote("pneumonia", "1.1.0", by="op", expect_canary=True)  # the canary needs no --force
    assert (p.version, p.canary, p.previous) == ("1.1.0", None, "1.0.0")

    # the job's precondition: a canary that is no longer there is not promoted
    with pytest.raises(Conflict):
        registry.promote("pneumonia", "1.2.0", by="job", expect_canary=True, force=True)
    with pytest.raises(Conflict):
        registry.promote("pneumonia", "1.2.0", by="job", expect_serving="1.0.0", force=True)

    p = registry.rollback("pneumonia", by="op", reason="bad")
    assert (p.version, p.previous) == ("1.0.0", "1.1.0")
    assert registry.evaluation("pneumonia", "1.1.0") is None  # fakes have no evaluation; nothing to mark

    # the stored pointer is exactly the documented shape
    stored = json.loads(registry.store.get(pointer_key("pneumonia")))
    assert set(stored) == {"version", "canary", "previous", "updated_at", "by", "reason"}

    # rollback with a canary ends the canary only
    registry.promote("pneumonia", "1.2.0", by="op", force=True, canary_weight=0.1)
    p = registry.rollback("pneumonia", by="op")
    assert (p.version, p.canary) == ("1.0.0", None)


def test_publish_refuses_bad_input_and_live_versions(registry: Registry, tmp_path: Path) -> None:
    publish(registry, tmp_path, "1.0.0")
    registry.promote("pneumonia", "1.0.0", by="op", force=True)
    with pytest.raises(Conflict):  # the serving version cannot be replaced
        publish(registry, tmp_path / "again", "1.0.0")
    for bad in ("../x", "golden", "", "a" * 65, "1.0 beta"):
        folder = fake_package(tmp_path / "bad", "pneumonia", f"tmp{len(bad)}")
        (folder / "manifest.json").write_text(json.dumps({"name": "pneumonia", "version": bad}))
        with pytest.raises(BadRequest):
            registry.publish(folder, by="op")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadRequest):
        registry.publish(empty, by="op")
    with pytest.raises(NotFound):
        registry.promote("pneumonia", "9.9.9", by="op", force=True)
    with pytest.raises(BadRequest):
        registry.promote("pneumonia", "1.0.0", by="op", force=True, canary_weight=1.5)


def test_republishing_a_rejected_version_makes_it_a_candidate_again(
    registry: Registry, tmp_path: Path
) -> None:
    publish(registry, tmp_path, "2.0.0")
    registry.write_evaluation("pneumonia", "2.0.0", {"verdict": "rejected", "reasons": []})
    assert registry.versions("pneumonia")[0]["evaluated"] is True
    publish(registry, tmp_path / "again", "2.0.0")
    assert registry.evaluation("pneumonia", "2.0.0") is None


def test_concurrent_pointer_writers_never_lose_an_update(registry: Registry, tmp_path: Path) -> None:
    """Each writer appends its mark to the reason: with conditional writes none is lost."""
    publish(registry, tmp_path, "1.0.0")
    registry.promote("pneumonia", "1.0.0", by="op", force=True, reason="")
    marks = race_pointer_writers(registry, "pneumonia", writers=4, rounds=5)
    pointer = registry.pointer("pneumonia")
    assert pointer is not None and sorted(pointer.reason.split()) == sorted(marks)


def test_pointer_writers_do_not_need_if_match_on_a_folder(tmp_path: Path) -> None:
    # GIVEN a store that ignores If-Match on PUT (COS documents only x-cos-forbid-overwrite)
    store = IgnoresIfMatchStore(App(settings(tmp_path)).store)
    registry = Registry(store)  # type: ignore[arg-type]
    registry.change_pointer("pneumonia", lambda p: Pointer("1.0.0"))
    # WHEN four writers race
    marks = race_pointer_writers(registry, "pneumonia", writers=4, rounds=5)
    # THEN no update is lost, every change made one numbered pointer object, and none used If-Match
    pointer = registry.pointer("pneumonia")
    assert pointer is not None and sorted(pointer.reason.split()) == sorted(marks)
    assert pointer.seq == 1 + len(marks)
    keys = [i.key for i in store.list(pointer_prefix("pneumonia"))[0]]
    assert keys == [pointer_seq_key("pneumonia", n) for n in range(pointer.seq, 0, -1)]  # newest first
    assert store.if_match_keys == []
    # AND the CURRENT.json copy says the same
    assert json.loads(store.get(pointer_key("pneumonia")))["reason"] == pointer.reason


def test_a_store_from_before_pointer_objects_is_read_and_then_continued(tmp_path: Path) -> None:
    store = App(settings(tmp_path)).store
    legacy = {
        "version": "1.0.0",
        "canary": None,
        "previous": None,
        "updated_at": "",
        "by": "old",
        "reason": "",
    }
    store.put(pointer_key("pneumonia"), json.dumps(legacy).encode(), "application/json")
    registry = Registry(store)
    first = registry.pointer("pneumonia")
    assert first is not None and (first.version, first.seq) == ("1.0.0", 0)
    assert registry.names() == ["pneumonia"]
    registry.change_pointer("pneumonia", lambda p: replace(p, version="1.1.0", previous="1.0.0"))  # type: ignore[arg-type]
    after = registry.pointer("pneumonia")
    assert after is not None and (after.version, after.previous, after.seq) == ("1.1.0", "1.0.0", 1)
    assert store.head(pointer_seq_key("pneumonia", 1)) is not None
    registry.change_pointer("pneumonia", lambda p: replace(p, reason="again"))  # type: ignore[arg-type]
    assert registry.names() == ["pneumonia"]  # once, however many pointer objects it has


def test_a_storage_error_mid_promotion_leaves_the_previous_pointer(tmp_path: Path) -> None:
    store = App(settings(tmp_path)).store
    registry = Registry(store)
    publish(registry, tmp_path, "1.0.0")
    publish(registry, tmp_path, "1.1.0")
    registry.promote("pneumonia", "1.0.0", by="op", force=True)
    before = store.get(pointer_key("pneumonia"))
    faulty = Registry(FaultyStore(store, lambda key: "/pointer/" in key))
    with pytest.raises(StorageUnavailable):
        faulty.promote("pneumonia", "1.1.0", by="op", force=True)
    assert store.get(pointer_key("pneumonia")) == before
    assert registry.pointer("pneumonia").version == "1.0.0"  # type: ignore[union-attr]


def test_audit_log_is_append_only_and_newest_first(registry: Registry, tmp_path: Path) -> None:
    clock = registry.clock
    assert isinstance(clock, FakeClock)
    publish(registry, tmp_path, "1.0.0")
    clock.advance(1)
    registry.promote("pneumonia", "1.0.0", by="alice", force=True, reason="why not")
    clock.advance(40 * 86400)  # next month: another folder
    registry.audit("note", by="bob", reason="later", model="skin")
    entries = registry.audit_log(limit=10)
    assert [e["action"] for e in entries] == ["note", "promote", "publish"]
    assert (
        entries[1]["by"] == "alice" and entries[1]["reason"] == "why not" and entries[1]["version"] == "1.0.0"
    )
    assert [e["action"] for e in registry.audit_log(model="pneumonia")] == ["promote", "publish"]
    keys = [i.key for i in registry.iter_keys("audit/")]
    assert len(keys) == 3 and all(k.count("/") == 3 for k in keys)


def test_lease_excludes_a_second_run_until_released_or_expired(registry: Registry) -> None:
    clock = registry.clock
    assert isinstance(clock, FakeClock)
    first = acquire_lease(registry, "pneumonia", ttl_s=60)
    assert first is not None
    assert acquire_lease(registry, "pneumonia", ttl_s=60) is None
    release_lease(registry, first)
    second = acquire_lease(registry, "pneumonia", ttl_s=60)
    assert second is not None
    clock.advance(61)  # the holder died: its lease expires and is taken over
    third = acquire_lease(registry, "pneumonia", ttl_s=60)
    assert third is not None
    release_lease(registry, second)  # a stale holder cannot release the new lease
    assert acquire_lease(registry, "pneumonia", ttl_s=60) is None


def test_policy_parsing() -> None:
    policy = Policy.parse({"min_recall": {"viral": 0.5, "*": 0.7}, "rollout": {"canary_weight": 0.3}})
    assert policy.recall_floor("viral") == 0.5 and policy.recall_floor("normal") == 0.7
    assert policy.rollout.canary_weight == 0.3 and policy.rollout.straight_to_serving is False
    assert Policy.parse({"min_recall": 0.4}).recall_floor("x") == 0.4
    assert Policy.parse(Policy().to_json()) == Policy()
    bad: Any
    for bad in (
        {"min_accuracy": 2},
        {"max_p95_ms": 0},
        {"rollout": {"canary_weight": 1}},
        {"min_recall": "x"},
        {"rollout": {"straight_to_serving": "yes"}},
        {"min_macro_f1": True},
        [],
    ):
        with pytest.raises(PolicyError):
            Policy.parse(bad)


def test_metrics_against_hand_computed_values() -> None:
    truth = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.8, 0.1],
            [0.3, 0.3, 0.4],
            [0.6, 0.2, 0.2],
        ]
    )
    m = classification_metrics(truth, probs, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert m["confusion_matrix"]["rows"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3, abs=1e-4),
        "recall": 1.0,
        "f1": pytest.approx(0.8, abs=1e-4),
        "support": 2,
    }
    f1s = [2 * 0.5 * 0.5 / 1.0, 0.8, 2 * 1 * 0.5 / 1.5]
    assert m["macro_f1"] == pytest.approx(np.mean(f1s), abs=1e-4)
    # perfectly calibrated: in each bin, accuracy equals confidence
    conf = np.array([0.8] * 5 + [0.6] * 5)
    correct = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 0], dtype=bool)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-9)
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([False, False])) == pytest.approx(0.9)


def test_canary_routing_is_stable_and_weighted() -> None:
    keys = [f"{i:032x}" for i in range(4000)]
    share = sum(in_canary("pneumonia", k, 0.2) for k in keys) / len(keys)
    assert 0.17 < share < 0.23
    assert all(in_canary("pneumonia", k, 0.2) == in_canary("pneumonia", k, 0.2) for k in keys[:200])
    assert not any(in_canary("pneumonia", k, 0.0) for k in keys[:200])
    assert parse_pins(" pneumonia=1.2.0, skin=1.0.0,bad") == {"pneumonia": "1.2.0", "skin": "1.0.0"}


def test_pointer_round_trip_and_bad_pointer() -> None:
    p = Pointer.from_json(
        {
            "version": "1",
            "canary": {"version": "2", "weight": 0.1, "started_at": "x"},
            "previous": None,
            "updated_at": "t",
            "by": "b",
            "reason": "r",
        }
    )
    assert Pointer.from_json(p.to_json()) == p and p.live_versions() == ["1", "2"]
    with pytest.raises(ValueError):
        Pointer.from_json({"version": "1", "canary": {"version": "2", "weight": 2}})
