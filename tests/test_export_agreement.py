"""The feedback loop: ``xiaofei export-reviewed`` writes only consented, reviewed films in the layout the
pipeline reads; ``xiaofei model agreement`` measures the model against the doctors; the gate scores a
candidate on the site's reviewed films and, when the policy asks, rejects one that does worse there."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from functions.history.index import main_handler as history_handler
from functions.predict.index import main_handler as predict_handler
from model.pipeline.data import read_folders
from tests import films
from tests.conftest import SECRET, wx_context
from tests.registry_kit import BUNDLED, degrade_onnx, settings, variant
from xiaofei.adapters import cli
from xiaofei.app import App, set_app
from xiaofei.ids import new_id
from xiaofei.lifecycle.evaluation import evaluate
from xiaofei.records import audit
from xiaofei.usecases import reviews
from xiaofei.usecases.agreement import figures, wilson
from xiaofei.usecases.export import GROUP_PATTERN

DOCTOR = "oDoctor-export-01"


def hist(openid: str, **data: Any) -> dict[str, Any]:
    result: dict[str, Any] = history_handler(data, wx_context(openid))
    assert "error" not in result, result
    return result


def reviewed(
    app: App,
    owner: str,
    image: bytes,
    *,
    verdict: str = "agree",
    label: str | None = None,
    consent: bool | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """A record of ``owner`` read by DOCTOR (a reviewer) through a share link."""
    data: dict[str, Any] = {"image": base64.b64encode(image).decode()}
    if model:
        data["model"] = model
    record: dict[str, Any] = predict_handler(data, wx_context(owner))
    assert "error" not in record, record
    if reviews.get_reviewer(app, hist(DOCTOR, action="reviewer")["code"]) is None:
        reviews.add_reviewer(app, hist(DOCTOR, action="reviewer")["code"], "Dr Li", provider="code", by="t")
    token = hist(owner, action="share", id=record["id"])["token"]
    if verdict == "agree" and not record["label"]:  # the model refused it: the doctor gives a label
        verdict, label = "label", record["probabilities"][0]["label"]
    hist(DOCTOR, action="review", share=token, verdict=verdict, label=label)
    if consent is not None:
        hist(owner, action="consent", id=record["id"], export=consent)
    return record


@pytest.fixture
def env(app: App, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("XIAOFEI_STORAGE", app.settings.storage)
    monkeypatch.setenv("XIAOFEI_SECRET", SECRET)
    monkeypatch.setenv("USER", "operator-ann")
    return app


def test_export_writes_only_consented_reviewed_films(env: App, tmp_path: Path) -> None:
    app = env
    # GIVEN records of two owners, in every state of review and consent
    a1 = reviewed(app, "oAnna-1", films.drawn("normal", 1), verdict="label", label="viral", consent=True)
    reviewed(app, "oAnna-1", films.drawn("normal", 2), consent=False)  # said no
    reviewed(app, "oAnna-1", films.drawn("normal", 3))  # never asked: no consent
    b1 = reviewed(app, "oBen-2", films.drawn("viral", 4), verdict="label", label="bacterial", consent=True)
    hist("oBen-2", action="consent", id=b1["id"], export=False)  # withdrawn
    reviewed(app, "oBen-2", films.drawn("viral", 5), verdict="cannot_tell", consent=True)  # no label
    b3 = reviewed(app, "oBen-2", films.drawn("bacterial", 6), verdict="label", label="normal", consent=True)
    unreviewed = predict_handler({"image": base64.b64encode(films.drawn()).decode()}, wx_context("oBen-2"))
    hist("oBen-2", action="consent", id=unreviewed["id"], export=True)  # consent alone is not enough

    # WHEN the operator exports
    out = tmp_path / "export"
    assert cli.main(["export-reviewed", "--out", str(out)]) == 0
    # THEN exactly the two consented films with a doctor's label, in class folders, named by pseudonyms
    summary = json.loads((out / "export.json").read_text())
    assert summary["count"] == 2 and summary["labels"] == {"normal": 1, "viral": 1}
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg"))
    assert [f.split("/")[0] for f in files] == ["normal", "viral"]
    assert all(re.search(GROUP_PATTERN, Path(f).name) for f in files)
    text = json.dumps(summary) + " ".join(files)
    for record in (a1, b3):
        assert record["id"] not in text
    assert not re.search(r"[0-9a-f]{32}", text)  # no uid anywhere
    with Image.open(out / files[0]) as image:
        assert image.format == "JPEG"
    # AND the pipeline reads it (class folders, one group per patient)
    items, notes = read_folders(out, ["normal", "bacterial", "viral"], GROUP_PATTERN)
    assert sorted(i.label for i in items) == ["normal", "viral"] and not notes
    assert len({i.group for i in items}) == 2  # two patients
    entry = next(e for e in audit.recent(app.store) if e["action"] == "export")
    assert entry["by"] == "operator-ann" and entry["details"]["count"] == 2

    # a folder that is not empty is refused, and left as it was
    assert cli.main(["export-reviewed", "--out", str(out)]) == 2
    assert json.loads((out / "export.json").read_text()) == summary
    assert cli.main(["export-reviewed", "--out", str(tmp_path / "x"), "--since", "yesterday"]) == 2
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export-")]

    # erasure of a user removes their reviews and what would have been exported next time
    hist("oAnna-1", action="delete_all")
    assert cli.main(["export-reviewed", "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "export.json").read_text())
    assert again["count"] == 1 and again["labels"] == {"normal": 1}


def test_wilson_intervals() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(5, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(10, 10)  # type: ignore[misc]
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)
    lo, hi = wilson(0, 4)  # type: ignore[misc]
    assert lo == pytest.approx(0.0, abs=1e-12) and 0.4 < hi < 0.5


def _record(
    doctor: str | None,
    model: str | None,
    *,
    verdict: str = "label",
    uncertain: bool = False,
    version: str = "2.0.0",
) -> dict[str, Any]:
    labels = ["normal", "bacterial", "viral"]
    return {
        "uid": "0" * 32,
        "id": new_id(),
        "status": "done",
        "created_at": "2026-12-01T10:00:00.000Z",
        "model": {"name": "pneumonia", "version": version},
        "label": model,
        "uncertain": uncertain or model is None,
        "quality": {"ok": model is not None},
        "probabilities": [{"label": label, "p": 1 / 3} for label in labels],
        "review": {"verdict": "cannot_tell" if doctor is None else verdict, "label": doctor},
    }


def test_agreement_figures() -> None:
    pairs = [("normal", "normal")] * 6 + [("normal", "bacterial")] * 2 + [("bacterial", "bacterial")] * 3
    pairs += [("viral", "bacterial")] * 2 + [("viral", "viral")]
    records = [_record(d, m) for d, m in pairs]
    records += [_record("viral", None), _record(None, "normal"), _record("normal", "normal", uncertain=True)]
    f = figures(records, ["normal", "bacterial", "viral"])
    assert f["confusion"]["matrix"] == [[7, 2, 0], [0, 3, 0], [0, 2, 1]]
    assert f["reviewed"] == 17 and f["compared"] == 15
    assert f["per_class"]["normal"]["sensitivity"]["value"] == pytest.approx(7 / 9, abs=1e-4)
    assert f["per_class"]["normal"]["specificity"]["value"] == 1.0
    assert f["per_class"]["bacterial"]["specificity"]["k"] == 8  # 12 others, 4 called bacterial
    assert (
        f["per_class"]["viral"]["sensitivity"]["ci95"][0]
        < 1 / 3
        < f["per_class"]["viral"]["sensitivity"]["ci95"][1]
    )
    assert f["agreement"]["k"] == 11 and f["refusal_rate"]["k"] == 1 and f["cannot_tell_rate"]["k"] == 1
    assert f["uncertain_rate"] == {**f["uncertain_rate"], "k": 1, "n": 16}
    assert f["refused_with_doctor_label"] == 1
    assert 0 < f["kappa"] < 1


def test_agreement_cli_prints_a_table_and_writes_a_report(env: App, tmp_path: Path, capsys: Any) -> None:
    for d, m, v in [
        ("normal", "normal", "2.0.0"),
        ("viral", "bacterial", "2.0.0"),
        ("viral", "viral", "1.0.0"),
    ]:
        env.history.put(_record(d, m, version=v))
    env.history.put({**_record("normal", "normal"), "created_at": "2026-10-01T00:00:00.000Z"})
    out = tmp_path / "reports"
    assert cli.main(["model", "agreement", "pneumonia", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "version 2.0.0: 3 reviewed" in text and "version 1.0.0: 1 reviewed" in text
    assert "sensitivity" in text and "doctor \\ model" in text and "report: " in text
    with Image.open(out / "agreement-pneumonia.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 500
    assert "data:image/png;base64," in (out / "agreement-pneumonia.html").read_text()
    assert (
        cli.main(
            [
                "model",
                "agreement",
                "pneumonia",
                "--version",
                "2.0.0",
                "--since",
                "2026-11-01",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert list(result["versions"]) == ["2.0.0"] and result["versions"]["2.0.0"]["reviewed"] == 2
    assert cli.main(["model", "agreement", "pneumonia", "--since", "last week", "--out", str(out)]) == 2


@pytest.mark.slow  # builds candidates and runs the evaluation gate on reviewed films
def test_the_gate_scores_candidates_on_the_sites_reviewed_films(tmp_path: Path) -> None:
    app = App(settings(tmp_path, models="skin", default_model="skin"))
    set_app(app)
    try:
        registry = app.registry
        registry.bootstrap("skin")
        golden = json.loads((BUNDLED / "skin" / "golden" / "index.json").read_text())["items"]
        # GIVEN 12 reviewed films on the site, the doctor agreeing with the serving version
        for item in golden[::7][:12]:
            reviewed(
                app, "oPatient-9", (BUNDLED / "skin" / "golden" / item["file"]).read_bytes(), model="skin"
            )
        policy = json.loads(registry.store.get("models/skin/policy.json"))
        loose = {"min_accuracy": 0, "min_macro_f1": 0, "min_recall": 0, "max_regression": 1, "max_ece": 1}
        registry.put_policy("skin", {**policy, **loose}, by="test")

        # WHEN the policy does not ask for it: scored and reported, never a reason
        registry.publish(variant(tmp_path, "9.0.1", name="skin", onnx=degrade_onnx(0.6)), by="test")
        ev = evaluate(registry, "skin", "9.0.1")
        assert ev["verdict"] == "passed", ev["reasons"]
        worse = ev["reviewed"]
        assert worse["cases"] == 12 and worse["candidate"]["agreement"] < worse["serving"]["agreement"]

        # WHEN it does: the worse candidate is rejected at "reviewed", a faithful copy passes
        registry.put_policy(
            "skin", {**policy, **loose, "reviewed_max_regression": 0.0, "reviewed_min_cases": 10}, by="test"
        )
        registry.publish(variant(tmp_path, "9.0.2", name="skin", onnx=degrade_onnx(0.6)), by="test")
        ev = evaluate(registry, "skin", "9.0.2")
        assert ev["verdict"] == "rejected" and ev["reasons"][0]["check"] == "reviewed", ev["reasons"]
        assert "reviewed by this site's doctors" in ev["reasons"][0]["en"] and ev["reasons"][0]["zh"]
        registry.publish(variant(tmp_path, "9.0.3", name="skin"), by="test")
        ev = evaluate(registry, "skin", "9.0.3")
        assert ev["verdict"] == "passed", ev["reasons"]
        assert ev["reviewed"]["candidate"]["agreement"] == ev["reviewed"]["serving"]["agreement"]

        # AND with fewer reviewed films than the policy's minimum it is not judged
        registry.put_policy(
            "skin", {**policy, **loose, "reviewed_max_regression": 0.0, "reviewed_min_cases": 50}, by="test"
        )
        registry.publish(variant(tmp_path, "9.0.4", name="skin", onnx=degrade_onnx(0.6)), by="test")
        ev = evaluate(registry, "skin", "9.0.4")
        assert ev["verdict"] == "passed" and "not judged" in next(
            c["note"] for c in ev["checks"] if c["check"] == "reviewed"
        )
    finally:
        set_app(None)


@pytest.mark.parametrize(
    "bad",
    [
        {"reviewed_max_regression": 2},
        {"reviewed_max_regression": "0.1"},
        {"reviewed_min_cases": 0},
        {"reviewed_min_cases": 2.5},
        {"reviewed_min_cases": True},
    ],
)
def test_bad_reviewed_policy_fields_are_refused(bad: dict[str, Any]) -> None:
    from xiaofei.errors import PolicyError
    from xiaofei.lifecycle.policy import Policy

    with pytest.raises(PolicyError) as info:
        Policy.parse(bad)
    assert info.value.details["field"] in bad
    assert Policy.parse({"reviewed_max_regression": None}).reviewed_max_regression is None
    assert Policy.parse({"reviewed_max_regression": 0.02}).reviewed_max_regression == 0.02
