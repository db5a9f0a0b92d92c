"""The SCF rollout mode against a fake client at the SDK boundary.

The fake accepts only the SDK's own request models, round-trips each through ``to_json_string`` /
``from_json_string`` with unknown-field warnings turned into errors (so a misspelt field fails), answers
with the SDK's response models, and simulates SCF's asynchronous ``Updating`` / ``Publishing`` states:
a mutation or a publish while the function is not ``Active`` fails as SCF does.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.scf.v20180416 import models

from tests.conftest import load_event
from tests.registry_kit import fake_package, settings
from xiaofei.adapters import rollout_scf
from xiaofei.adapters.rollout_scf import PINS_VAR, ScfRollout, reconcile
from xiaofei.app import App
from xiaofei.errors import RolloutError
from xiaofei.lifecycle.registry import Registry

REQUIRED = {
    "GetFunction": {"FunctionName"},
    "UpdateFunctionConfiguration": {"FunctionName", "Environment"},
    "PublishVersion": {"FunctionName"},
    "UpdateAlias": {"FunctionName", "Name", "FunctionVersion"},
}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


class FakeScf:
    """One function with versions and one alias, as the SCF API shows them."""

    def __init__(self, busy_polls: int = 2) -> None:
        self.env = [{"Key": "XIAOFEI_STORAGE", "Value": "s3://bucket"}, {"Key": "OTHER", "Value": "kept"}]
        self.status = "Active"
        self.busy_polls = busy_polls
        self._countdown = 0
        self.versions: dict[str, dict[str, Any]] = {}  # number → {"env", "status", "countdown"}
        self.alias: dict[str, Any] = {"primary": "$LATEST", "extra": []}
        self.calls: list[str] = []
        self.fail_next: str | None = None

    def _check(self, action: str, request: Any) -> dict[str, Any]:
        assert isinstance(request, getattr(models, f"{action}Request")), type(request)
        params = json.loads(request.to_json_string())
        sent = _strip_none(params)
        again = getattr(models, f"{action}Request")()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the SDK warns "fileds are useless" for unknown names
            again.from_json_string(json.dumps(sent))
        assert json.loads(again.to_json_string()) == params
        assert request._serialize() == sent
        assert REQUIRED[action] <= set(sent), f"{action} misses {REQUIRED[action] - set(sent)}"
        self.calls.append(action)
        if self.fail_next == action:
            self.fail_next = None
            raise TencentCloudSDKException("InternalError", "simulated failure", "req-fail")
        return sent

    def _busy(self, action: str) -> TencentCloudSDKException:
        return TencentCloudSDKException(f"FailedOperation.{action}", "the function is updating", "req-busy")

    def GetFunction(self, request: models.GetFunctionRequest) -> models.GetFunctionResponse:
        params = self._check("GetFunction", request)
        qualifier = params.get("Qualifier", "$LATEST")
        if qualifier == "$LATEST":
            if self._countdown > 0:
                self._countdown -= 1
                if self._countdown == 0:
                    self.status = "Active"
            status, env = self.status, self.env
        else:
            version = self.versions[qualifier]
            if version["countdown"] > 0:
                version["countdown"] -= 1
            status = "Publishing" if version["countdown"] else "Active"
            env = version["env"]
        response = models.GetFunctionResponse()
        response._deserialize(
            {
                "FunctionName": params["FunctionName"],
                "Status": status,
                "Qualifier": qualifier,
                "Environment": {"Variables": env},
                "StatusReasons": [],
                "RequestId": "r",
            }
        )
        return response

    def UpdateFunctionConfiguration(self, request: Any) -> models.UpdateFunctionConfigurationResponse:
        params = self._check("UpdateFunctionConfiguration", request)
        if self.status != "Active":
            raise self._busy("UpdateFunctionConfiguration")
        self.env = [dict(v) for v in params["Environment"]["Variables"]]
        self.status, self._countdown = "Updating", self.busy_polls
        response = models.UpdateFunctionConfigurationResponse()
        response._deserialize({"RequestId": "r"})
        return response

    def PublishVersion(self, request: models.PublishVersionRequest) -> models.PublishVersionResponse:
        self._check("PublishVersion", request)
        if self.status != "Active":
            raise self._busy("PublishVersion")
        number = str(len(self.versions) + 1)
        self.versions[number] = {"env": [dict(v) for v in self.env], "countdown": 1}
        response = models.PublishVersionResponse()
        response._deserialize({"FunctionVersion": number, "RequestId": "r"})
        return response

    def UpdateAlias(self, request: models.UpdateAliasRequest) -> models.UpdateAliasResponse:
        params = self._check("UpdateAlias", request)
        primary = params["FunctionVersion"]
        assert primary in self.versions and self.versions[primary]["countdown"] == 0
        extra = (params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
        assert len(extra) <= 1, "SCF allows one additional version"
        for item in extra:
            assert item["Version"] != primary and item["Version"] in self.versions
            assert 0 < item["Weight"] < 1
        self.alias = {"primary": primary, "extra": extra, "name": params["Name"]}
        response = models.UpdateAliasResponse()
        response._deserialize({"RequestId": "r"})
        return response

    def pins_of(self, number: str) -> str:
        return next(v["Value"] for v in self.versions[number]["env"] if v["Key"] == PINS_VAR)


def _registry(tmp_path: Path) -> Registry:
    app = App(settings(tmp_path))
    registry = Registry(app.store)
    for name, version in (("pneumonia", "1.0.0"), ("pneumonia", "1.1.0"), ("skin", "2.0.0")):
        registry.publish(fake_package(tmp_path / "pkgs", name, version), by="test")
    registry.promote("pneumonia", "1.0.0", by="test", force=True)
    registry.promote("skin", "2.0.0", by="test", force=True)
    return registry


def _rollout(fake: FakeScf) -> ScfRollout:
    return ScfRollout(
        fake, "xiaofei-predict", "$DEFAULT", "default", sleep=lambda s: None, poll_s=1, timeout_s=30
    )


def test_canary_promotion_and_rollback_move_the_alias(tmp_path: Path) -> None:
    registry, fake = _registry(tmp_path), FakeScf()
    names = ["pneumonia", "skin"]

    # GIVEN serving versions only WHEN reconciled THEN one version pins them and the alias points at it
    state = reconcile(registry, names, _rollout(fake))
    assert state["changed"] and fake.alias["primary"] == "1" and fake.alias["extra"] == []
    assert fake.pins_of("1") == "pneumonia=1.0.0,skin=2.0.0"
    # the complete variable list was sent: the others survive
    assert {"Key": "OTHER", "Value": "kept"} in fake.versions["1"]["env"]
    assert fake.calls.count("GetFunction") > 3  # waited through Updating and Publishing

    # WHEN reconciled again with nothing new THEN no call at all
    fake.calls.clear()
    assert reconcile(registry, names, _rollout(fake))["changed"] is False
    assert fake.calls == []

    # WHEN a canary starts THEN a new version with the canary's pins takes its weight beside the old one
    registry.promote("pneumonia", "1.1.0", by="test", canary_weight=0.2, force=True)
    reconcile(registry, names, _rollout(fake))
    assert fake.alias["primary"] == "1"
    assert fake.alias["extra"] == [{"Version": "2", "Weight": 0.2}]
    assert fake.pins_of("2") == "pneumonia=1.1.0,skin=2.0.0"

    # WHEN the canary is promoted THEN the alias moves all the way, reusing the canary's version
    registry.promote("pneumonia", "1.1.0", by="test", expect_canary=True)
    fake.calls.clear()
    reconcile(registry, names, _rollout(fake))
    assert fake.alias == {"primary": "2", "extra": [], "name": "$DEFAULT"}
    assert "PublishVersion" not in fake.calls

    # WHEN rolled back THEN the previous pins serve again (from the known version, not a new one)
    registry.rollback("pneumonia", by="test")
    reconcile(registry, names, _rollout(fake))
    assert fake.alias["primary"] == "1" and len(fake.versions) == 2


def test_a_failed_call_leaves_the_state_for_the_next_run(tmp_path: Path) -> None:
    registry, fake = _registry(tmp_path), FakeScf()
    fake.fail_next = "PublishVersion"
    with pytest.raises(RolloutError):
        reconcile(registry, ["pneumonia", "skin"], _rollout(fake))
    assert fake.alias["primary"] == "$LATEST"
    state = reconcile(registry, ["pneumonia", "skin"], _rollout(fake))
    assert state["changed"] and fake.alias["primary"] == state["serving_fv"]


def test_a_function_stuck_updating_times_out(tmp_path: Path) -> None:
    registry, fake = _registry(tmp_path), FakeScf(busy_polls=10_000)
    rollout = ScfRollout(fake, "f", "$DEFAULT", sleep=lambda s: None, poll_s=1, timeout_s=5)
    with pytest.raises(RolloutError):
        reconcile(registry, ["pneumonia"], rollout)
    assert "PublishVersion" not in fake.calls  # never published from a function still updating


def test_the_timer_job_reconciles_in_scf_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xiaofei.adapters.rollout_scf import run_model_update

    fake = FakeScf(busy_polls=1)
    monkeypatch.setattr(rollout_scf, "make_client", lambda region, environ=None: fake)
    app = App(
        settings(
            tmp_path,
            models="pneumonia",
            scf_rollout="1",
            scf_function="xiaofei-predict",
            scf_region="ap-shanghai",
        )
    )
    summary = run_model_update(app, load_event("timer.json"))
    assert summary["ok"], summary
    assert summary["scf"]["changed"] and fake.alias["primary"] == "1"
    serving = {name: summary["models"][name]["serving"] for name in app.settings.model_names}
    assert fake.pins_of("1") == ",".join(f"{k}={v}" for k, v in sorted(serving.items()))
