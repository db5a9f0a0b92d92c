"""The evaluation gate on real packages: a faithful copy of the bundled model passes every check; each
kind of broken or worse package is rejected at its check, with its reason, and is never served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.registry_kit import degrade_onnx, set_input_dims, settings, truncate, variant
from xiaofei.app import App
from xiaofei.lifecycle.evaluation import CHECKS, evaluate
from xiaofei.lifecycle.registry import Registry
from xiaofei.lifecycle.update import update_model

pytestmark = pytest.mark.slow  # runs the evaluation gate over golden sets (real ONNX passes, latency samples)


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(settings(tmp_path, models="pneumonia"))


@pytest.fixture
def registry(app: App) -> Registry:
    registry = app.registry
    registry.bootstrap("pneumonia")
    return registry


def test_a_faithful_copy_passes_every_check(registry: Registry, tmp_path: Path) -> None:
    registry.publish(variant(tmp_path, "1.0.1"), by="test")
    ev = evaluate(registry, "pneumonia", "1.0.1")
    assert ev["verdict"] == "passed", ev["reasons"]
    assert [c["check"] for c in ev["checks"]] == list(CHECKS) and all(c["ok"] for c in ev["checks"])
    metrics = ev["metrics"]
    rows = ev["confusion_matrix"]["rows"]
    assert sum(map(sum, rows)) == metrics["n"] == ev["golden"]["items"] > 0
    assert set(ev["per_class"]) == {"normal", "bacterial", "viral"}
    # same weights as the serving version, on the same images: the same figures
    assert ev["serving"]["metrics"]["accuracy"] == metrics["accuracy"]
    assert ev["serving"]["metrics"]["macro_f1"] == metrics["macro_f1"]
    for key in ("ece", "acceptance_rate", "rejection_rate", "p95_ms", "model_bytes"):
        assert metrics[key] is not None, key
    stored = registry.evaluation("pneumonia", "1.0.1")
    assert stored is not None and stored["verdict"] == "passed" and stored["timings_ms"]["total"] > 0


def _wrong_sha(m: dict[str, Any]) -> None:
    m["sha256"] = "0" * 64


def _missing_field(m: dict[str, Any]) -> None:
    del m["temperature"]


def _swap_labels(m: dict[str, Any]) -> None:
    m["labels"][1], m["labels"][2] = m["labels"][2], m["labels"][1]


def _swap_labels_declared(m: dict[str, Any]) -> None:
    _swap_labels(m)
    m["label_change"] = True


def _wrong_channels(m: dict[str, Any]) -> None:
    # The manifest promises a 3-channel input the network does not take.
    m["input"]["channels"] = 3
    m["input"]["mean"] = m["input"]["mean"] * 3
    m["input"]["std"] = m["input"]["std"] * 3


def _overconfident(m: dict[str, Any]) -> None:
    m["temperature"] = 0.05


BAD: dict[str, tuple[dict[str, Any], str, str]] = {
    "wrong sha256": ({"manifest": _wrong_sha, "reseal": False}, "sha256", "sha256"),
    "truncated onnx": ({"onnx": truncate}, "onnx_load", "ONNX Runtime"),
    "onnx with the wrong input shape": (
        {"onnx": set_input_dims([1, 1, 112, 112])},
        "signature",
        "input shape",
    ),
    "manifest promising other channels": ({"manifest": _wrong_channels}, "signature", "input"),
    "missing field": ({"manifest": _missing_field}, "manifest", "temperature"),
    "swapped labels": ({"manifest": _swap_labels}, "labels", "label_change"),
    "declared label change, but the model did not change": (
        {"manifest": _swap_labels_declared},
        "golden",
        "",
    ),
    "worse than the serving version": ({"onnx": degrade_onnx(0.3)}, "golden", "worse than the serving"),
    "worse than the policy's floor": ({"onnx": degrade_onnx(0.6)}, "golden", "below the policy minimum"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_package_is_rejected_with_its_reason_and_never_served(
    app: App, registry: Registry, tmp_path: Path, case: str
) -> None:
    kwargs, check, words = BAD[case]
    if case == "worse than the serving version":  # no floor reached first: the comparison decides
        _policy(registry, min_accuracy=0.0, min_macro_f1=0.0, min_recall={"*": 0.0})
    registry.publish(variant(tmp_path, "9.0.0", **kwargs), by="test")
    before = registry.pointer("pneumonia")

    summary = update_model(registry, "pneumonia", app.settings)  # the job's path: gate, then act

    ev = registry.evaluation("pneumonia", "9.0.0")
    assert ev is not None and ev["verdict"] == "rejected", ev
    reason = ev["reasons"][0]
    assert reason["check"] == check and words in reason["en"] and reason["zh"], reason
    assert [c["check"] for c in ev["checks"]][-1] == check and not ev["checks"][-1]["ok"]
    assert summary["actions"][0]["verdict"] == "rejected"
    after = registry.pointer("pneumonia")
    assert after is not None and before is not None
    assert (after.version, after.canary, after.seq) == (before.version, None, before.seq)
    assert app.models.get("pneumonia", "anyone").version == before.version


def _policy(registry: Registry, **changes: Any) -> None:
    policy = json.loads(registry.store.get("models/pneumonia/policy.json"))
    policy.update(changes)
    registry.put_policy("pneumonia", policy, by="test")


@pytest.mark.parametrize(
    ("policy", "check", "words"),
    [
        ({"max_p95_ms": 0.001}, "latency", "p95"),
        ({"max_model_bytes": 1000}, "size", "bytes"),
        ({"min_accuracy": 1.0, "max_ece": 1.0}, "golden", "accuracy"),
    ],
)
def test_policy_limits(
    registry: Registry, tmp_path: Path, policy: dict[str, Any], check: str, words: str
) -> None:
    if check == "golden":
        registry.publish(variant(tmp_path, "9.1.0", onnx=degrade_onnx(0.3)), by="test")
    else:
        registry.publish(variant(tmp_path, "9.1.0"), by="test")
    _policy(registry, **policy)
    ev = evaluate(registry, "pneumonia", "9.1.0")
    assert ev["verdict"] == "rejected" and ev["reasons"][0]["check"] == check
    assert words in ev["reasons"][0]["en"]


# Accuracy limits relaxed so that the calibration check is the one that decides.
NO_ACCURACY_LIMITS = {
    "min_accuracy": 0.0,
    "min_macro_f1": 0.0,
    "min_recall": {"*": 0.0},
    "max_regression": 1.0,
}


@pytest.mark.parametrize(("overconfident", "verdict"), [(True, "rejected"), (False, "passed")])
def test_calibration_error_beyond_chance_is_rejected(
    registry: Registry, tmp_path: Path, overconfident: bool, verdict: str
) -> None:
    # GIVEN a somewhat worse model (it confuses neighbouring classes), with its fitted temperature or
    # with the temperature edited so that it claims near-certainty on its mistakes too
    edits: dict[str, Any] = {"onnx": degrade_onnx(0.3)}
    if overconfident:
        edits["manifest"] = _overconfident
    registry.publish(variant(tmp_path, "9.2.0", **edits), by="test")
    _policy(registry, **NO_ACCURACY_LIMITS)
    ev = evaluate(registry, "pneumonia", "9.2.0")
    # THEN only the overconfident one is refused, for its calibration error
    assert ev["verdict"] == verdict, ev
    if overconfident:
        reason = ev["reasons"][0]
        assert reason["check"] == "golden" and reason["metric"] == "ece", reason
        assert "calibration error (ECE)" in reason["en"] and "校准误差" in reason["zh"]


def test_name_mismatch_and_missing_golden_set(app: App, registry: Registry, tmp_path: Path) -> None:
    # published under another name than the manifest's
    registry.publish(variant(tmp_path, "1.0.2"), name="skin", by="test")
    ev = evaluate(registry, "skin", "1.0.2")
    assert ev["reasons"][0]["check"] == "manifest" and "published" in ev["reasons"][0]["en"]
    # no golden set in the store and none bundled
    registry.publish(variant(tmp_path / "b", "1.0.3"), by="test")
    registry.bundled_dir = tmp_path / "nowhere"
    ev = evaluate(registry, "pneumonia", "1.0.3")
    assert ev["reasons"][0]["check"] == "golden" and "golden" in ev["reasons"][0]["en"]
