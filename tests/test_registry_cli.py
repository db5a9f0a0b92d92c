"""``xiaofei model …``: every command, against the store the environment names, each action audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.registry_kit import settings, truncate, variant
from xiaofei.adapters import cli


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = settings(tmp_path, models="pneumonia")
    monkeypatch.setenv("XIAOFEI_STORAGE", cfg.storage)
    monkeypatch.setenv("XIAOFEI_SECRET", cfg.secret)
    monkeypatch.setenv("XIAOFEI_MODELS", "pneumonia")
    monkeypatch.setenv("XIAOFEI_BUNDLED_MODELS_DIR", cfg.bundled_models_dir)
    monkeypatch.setenv("XIAOFEI_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("USER", "bob")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = cli.main(["model", *args, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else out.err


def test_operator_flow(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, listed = run(capsys, "list")
    assert code == 0 and listed["models"]["pneumonia"]["pointer"]["by"] == "bootstrap"
    bundled = listed["models"]["pneumonia"]["pointer"]["version"]

    code, out = run(capsys, "publish", str(variant(env, "1.5.0")), "--reason", "retrained")
    assert code == 0 and out["published"] == {"name": "pneumonia", "version": "1.5.0"}
    code, out = run(capsys, "evaluate", "pneumonia", "1.5.0")
    assert code == 0 and out["evaluation"]["verdict"] == "passed"

    code, out = run(capsys, "promote", "pneumonia", "1.5.0", "--canary", "0.2")
    assert code == 0 and out["pointer"]["canary"]["version"] == "1.5.0"
    code, out = run(capsys, "promote", "pneumonia", "1.5.0")
    assert out["pointer"]["version"] == "1.5.0" and out["pointer"]["previous"] == bundled
    code, out = run(capsys, "rollback", "pneumonia", "--reason", "why not")
    assert out["pointer"]["version"] == bundled

    code, status = run(capsys, "status", "pneumonia")
    versions = {v["version"]: (v["verdict"], v["rollout"]) for v in status["versions"]}
    assert versions["1.5.0"] == ("passed", "rolled_back")
    assert status["policy"]["rollout"]["canary_weight"] > 0
    code, audit = run(capsys, "audit", "--model", "pneumonia")
    actions = [(e["action"], e["by"]) for e in audit["audit"] if e["by"] == "bob"]
    assert actions == [
        ("rollback", "bob"),
        ("promote", "bob"),
        ("canary", "bob"),
        ("evaluate", "bob"),
        ("publish", "bob"),
    ]
    assert audit["audit"][0]["reason"] == "why not"


def test_refusals_are_bilingual_and_exit_non_zero(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "list")
    run(capsys, "publish", str(variant(env, "3.0.0", onnx=truncate)))
    code, out = run(capsys, "evaluate", "pneumonia", "3.0.0")
    assert code == 1 and out["evaluation"]["reasons"][0]["check"] == "onnx_load"
    code, err = run(capsys, "promote", "pneumonia", "3.0.0")
    assert code == 2 and "conflict" in err and "尚未通过评估" in err
    code, err = run(capsys, "rollback", "pneumonia")
    assert code == 2 and "回滚" in err
    code, err = run(capsys, "promote", "pneumonia", "nope")
    assert code == 2 and "not_found" in err
    bad = env / "policy.json"
    bad.write_text(json.dumps({"min_accuracy": 3}))
    code, err = run(capsys, "policy", "pneumonia", str(bad))
    assert code == 2 and "invalid_policy" in err


def test_text_output(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["model", "status", "pneumonia"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("serving ") and "bootstrap" in text
