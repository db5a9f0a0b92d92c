"""infra/function_urls.py against a fake SCF client at the SDK boundary: each request is the SDK's own
model, round-tripped with unknown-field warnings as errors, and carries what the function-URL trigger
needs (Type http, TriggerDesc {AuthType, NetConfig}, the names multi-scf gives)."""

from __future__ import annotations

import json
import warnings
from typing import Any

from tencentcloud.scf.v20180416 import models

from infra import function_urls


class FakeScf:
    def __init__(self, existing: dict[str, list[str]] | None = None) -> None:
        self.existing = existing or {}  # function name → its http trigger names
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _check(self, action: str, request: Any) -> dict[str, Any]:
        assert isinstance(request, getattr(models, f"{action}Request"))
        params = {k: v for k, v in json.loads(request.to_json_string()).items() if v is not None}
        again = getattr(models, f"{action}Request")()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the SDK warns about unknown field names
            again.from_json_string(json.dumps(params))
        self.sent.append((action, params))
        return params

    def ListTriggers(self, request: models.ListTriggersRequest) -> models.ListTriggersResponse:
        params = self._check("ListTriggers", request)
        response = models.ListTriggersResponse()
        triggers = [{"TriggerName": n, "Type": "http"} for n in self.existing.get(params["FunctionName"], [])]
        response.from_json_string(json.dumps({"Triggers": triggers, "TotalCount": len(triggers)}))
        return response

    def _answer(self, action: str, request: Any) -> Any:
        params = self._check(action, request)
        response = getattr(models, f"{action}Response")()
        if action == "CreateTrigger":
            response.from_json_string(json.dumps({"TriggerInfo": {"TriggerDesc": params["TriggerDesc"]}}))
        return response

    def CreateTrigger(self, request: models.CreateTriggerRequest) -> Any:
        return self._answer("CreateTrigger", request)

    def UpdateTrigger(self, request: models.UpdateTriggerRequest) -> Any:
        return self._answer("UpdateTrigger", request)


def test_function_urls_are_created_with_the_names_multi_scf_gives() -> None:
    # GIVEN a fresh deployment of stage "prod"
    fake = FakeScf()
    # WHEN the function URLs are applied
    done = function_urls.apply(fake, "prod")
    # THEN one http trigger per function URL, on xiaofei-prod-xiaofei-<key>, public, no auth at the edge
    creates = [p for action, p in fake.sent if action == "CreateTrigger"]
    assert [p["FunctionName"] for p in creates] == [
        "xiaofei-prod-xiaofei-predict",
        "xiaofei-prod-xiaofei-history",
    ]
    for params in creates:
        assert params["Type"] == "http" and params["Enable"] == "OPEN" and params["Qualifier"] == "$DEFAULT"
        assert json.loads(params["TriggerDesc"]) == {
            "AuthType": "NONE",
            "NetConfig": {"EnableIntranet": False, "EnableExtranet": True},
        }
    assert [d["action"] for d in done] == ["CreateTrigger", "CreateTrigger"]


def test_a_rerun_updates_instead_of_creating_twice() -> None:
    fake = FakeScf({"xiaofei-prod-xiaofei-predict": ["predict-url"]})
    done = function_urls.apply(fake, "prod")
    assert [d["action"] for d in done] == ["UpdateTrigger", "CreateTrigger"]


def test_dry_run_only_reads() -> None:
    fake = FakeScf()
    function_urls.apply(fake, "prod", dry_run=True)
    assert {action for action, _ in fake.sent} == {"ListTriggers"}
