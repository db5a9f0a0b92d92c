"""Optional SCF rollout mode: mirror the registry pointers onto SCF function versions and an alias.

For teams that pin models to function versions (``XIAOFEI_SCF_ROLLOUT=1``): each function version carries
``XIAOFEI_MODEL_PINS=name=version,…`` in its environment, and the alias (``XIAOFEI_SCF_ALIAS``, the one
the triggers use) splits traffic between the serving function version and, during a canary, one
additional version (``RoutingConfig.AdditionalVersionWeights``; SCF allows exactly one, and it must differ
from the primary). The registry pointers stay the single source of truth; this module reconciles SCF with
them and is idempotent: the last state it reached is kept in ``rollout/scf/{function}.json``, so a run
that failed half-way is finished by the next one.

To give a set of pins a function version (tencent-cloud.md §6; SCF management calls are asynchronous):
``GetFunction`` ($LATEST, for the complete variable list) → ``UpdateFunctionConfiguration`` (the complete
``Environment.Variables`` with the new pins) → poll ``GetFunction`` until ``Status == "Active"`` →
``PublishVersion`` → poll the new version until ``Active``. Then one ``UpdateAlias``: the serving version
as ``FunctionVersion``, the canary's (if any) in ``AdditionalVersionWeights`` with the canary weight;
when the canary is promoted or withdrawn the list is emptied (all traffic to the primary).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xiaofei.errors import AppError, NotFound, RolloutError
from xiaofei.lifecycle import update
from xiaofei.lifecycle.registry import Registry, dumps
from xiaofei.lifecycle.source import format_pins

if TYPE_CHECKING:
    from xiaofei.app import App
    from xiaofei.config import Settings

log = logging.getLogger(__name__)

PINS_VAR = "XIAOFEI_MODEL_PINS"
KEEP_VERSIONS = 20  # pin sets remembered for reuse (SCF keeps up to 1000 versions per function)
FAILED_STATUSES = frozenset({"CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed"})


@dataclass(frozen=True)
class Desired:
    """What SCF should look like: the pins of the primary version, and of the canary version if any."""

    serving: dict[str, str]
    canary: dict[str, str] | None
    weight: float


def desired_state(registry: Registry, names: list[str]) -> Desired:
    """One alias serves every model of the function: the canary version pins each model's canary (or its
    serving version), and the alias weight is the largest canary weight."""
    serving: dict[str, str] = {}
    canary: dict[str, str] = {}
    weight = 0.0
    for name in names:
        pointer = registry.pointer(name)
        if pointer is None:
            continue
        serving[name] = pointer.version
        canary[name] = pointer.canary.version if pointer.canary else pointer.version
        if pointer.canary:
            weight = max(weight, pointer.canary.weight)
    if canary == serving:
        return Desired(serving, None, 0.0)
    return Desired(serving, canary, weight)


def _request(model_class: type, params: dict[str, Any]) -> Any:
    """An SDK request model filled from a dict of its documented field names."""
    request = model_class()
    request.from_json_string(json.dumps(params))
    return request


class ScfRollout:
    """Drives one function and one alias through the SCF API (``client`` is an ``ScfClient`` or a fake)."""

    def __init__(
        self,
        client: Any,
        function: str,
        alias: str,
        namespace: str = "default",
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 2.0,
        timeout_s: float = 300.0,
    ) -> None:
        self.client = client
        self.function = function
        self.alias = alias
        self.namespace = namespace
        self.sleep = sleep
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    def _call(self, action: str, params: dict[str, Any]) -> Any:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.scf.v20180416 import models

        request = _request(getattr(models, f"{action}Request"), params)
        try:
            return getattr(self.client, action)(request)
        except TencentCloudSDKException as exc:
            log.error(
                "SCF API call failed",
                extra={"action": action, "sdk_code": exc.get_code(), "request_id": exc.get_request_id()},
            )
            raise RolloutError(details={"action": action, "sdk_code": exc.get_code()}) from exc

    def wait_active(self, qualifier: str = "$LATEST") -> Any:
        """Poll ``GetFunction`` until the function (version) is ``Active``; a failed status or the timeout
        is a ``RolloutError``."""
        waited = 0.0
        while True:
            response = self._call(
                "GetFunction",
                {"FunctionName": self.function, "Qualifier": qualifier, "Namespace": self.namespace},
            )
            status = response.Status
            if status == "Active":
                return response
            if status in FAILED_STATUSES or waited >= self.timeout_s:
                reasons = [getattr(r, "ErrorMessage", "") for r in (response.StatusReasons or [])]
                log.error("function did not become active", extra={"status": status, "reasons": reasons})
                raise RolloutError(details={"status": status, "qualifier": qualifier})
            self.sleep(self.poll_s)
            waited += self.poll_s

    def publish_with(self, pins: dict[str, str]) -> str:
        """A new function version whose environment pins these model versions; returns its number."""
        current = self.wait_active("$LATEST")  # never mutate a function that is still updating
        variables = [
            {"Key": v.Key, "Value": v.Value}
            for v in ((current.Environment.Variables if current.Environment else None) or [])
            if v.Key != PINS_VAR
        ]
        variables.append({"Key": PINS_VAR, "Value": format_pins(pins)})
        # The complete list: SCF replaces the environment, it does not merge it.
        self._call(
            "UpdateFunctionConfiguration",
            {
                "FunctionName": self.function,
                "Namespace": self.namespace,
                "Environment": {"Variables": variables},
            },
        )
        self.wait_active("$LATEST")
        published = self._call(
            "PublishVersion",
            {
                "FunctionName": self.function,
                "Namespace": self.namespace,
                "Description": f"xiaofei models {format_pins(pins)}"[:1000],
            },
        )
        version = str(published.FunctionVersion)
        self.wait_active(version)
        log.info("function version published", extra={"function_version": version, "pins": format_pins(pins)})
        return version

    def route(self, primary: str, canary: str | None, weight: float) -> None:
        params: dict[str, Any] = {
            "FunctionName": self.function,
            "Name": self.alias,
            "FunctionVersion": primary,
            "Namespace": self.namespace,
        }
        extra = [{"Version": canary, "Weight": round(weight, 4)}] if canary and canary != primary else []
        params["RoutingConfig"] = {"AdditionalVersionWeights": extra}
        self._call("UpdateAlias", params)

    def reconcile(self, desired: Desired, state: dict[str, Any] | None) -> dict[str, Any]:
        """Make SCF match ``desired``; returns the new state (unchanged if it already matched).

        Function versions are reused by their pins (``state["versions"]``: pins → version number), so a
        promotion reuses the canary's version and a rollback points the alias at the old one again.
        """
        state = dict(state or {})
        if (
            state.get("serving_pins") == desired.serving
            and state.get("canary_pins") == desired.canary
            and state.get("weight") == desired.weight
        ):
            return state
        known: dict[str, str] = dict(state.get("versions") or {})

        def version_for(pins: dict[str, str]) -> str:
            key = format_pins(pins)
            if key not in known:
                known[key] = self.publish_with(pins)
            return known[key]

        serving_fv = version_for(desired.serving)
        canary_fv = version_for(desired.canary) if desired.canary else None
        self.route(serving_fv, canary_fv, desired.weight)
        keep = list(known.items())[-KEEP_VERSIONS:]  # oldest first (dicts keep insertion order)
        return {
            "serving_pins": desired.serving,
            "serving_fv": serving_fv,
            "canary_pins": desired.canary,
            "canary_fv": canary_fv,
            "weight": desired.weight,
            "alias": self.alias,
            "function": self.function,
            "versions": dict(keep),
        }


def state_key(function: str) -> str:
    return f"rollout/scf/{function}.json"


def reconcile(registry: Registry, names: list[str], rollout: ScfRollout) -> dict[str, Any]:
    """Bring the function's alias in line with the registry pointers; the state is saved after success."""
    key = state_key(rollout.function)
    try:
        state = json.loads(registry.store.get(key))
    except NotFound:
        state = None
    except ValueError:
        state = None  # a torn state file: start over (publishing again is harmless)
    desired = desired_state(registry, names)
    new = rollout.reconcile(desired, state)
    if new != state:
        new["synced_at"] = registry.now()
        registry.store.put(key, dumps(new), "application/json")
        registry.audit(
            "scf_rollout",
            by="model_update",
            model=None,
            reason=f"alias {rollout.alias} → {new['serving_fv']}"
            + (f" + {new['canary_fv']} @ {new['weight']:g}" if new.get("canary_fv") else ""),
            details=new,
        )
        return {"changed": True, **new}
    return {"changed": False, **new}


def make_client(region: str, environ: Mapping[str, str] | None = None) -> Any:
    """An ``ScfClient``: the function role's temporary keys SCF injects, else the SDK's default chain."""
    from tencentcloud.common import credential
    from tencentcloud.scf.v20180416 import scf_client

    env = os.environ if environ is None else environ
    if env.get("TENCENTCLOUD_SECRETID"):
        cred: Any = credential.Credential(
            env["TENCENTCLOUD_SECRETID"],
            env.get("TENCENTCLOUD_SECRETKEY", ""),
            env.get("TENCENTCLOUD_SESSIONTOKEN") or None,
        )
    else:
        cred = credential.DefaultCredentialProvider().get_credential()
    return scf_client.ScfClient(cred, region)


def reconcile_from_settings(registry: Registry, settings: Settings, client: Any = None) -> dict[str, Any]:
    function = settings.scf_function
    if not function:
        raise RolloutError("XIAOFEI_SCF_FUNCTION is not set.", "未设置 XIAOFEI_SCF_FUNCTION。")
    try:
        client = client or make_client(settings.scf_region)
    except AppError:
        raise
    except Exception as exc:  # no credentials, bad region: the SDK raises its own exception
        raise RolloutError() from exc
    rollout = ScfRollout(client, function, settings.scf_alias, settings.scf_namespace)
    return reconcile(registry, settings.model_names, rollout)


def run_model_update(app: App, event: dict[str, Any]) -> dict[str, Any]:
    """The ``model_update`` timer job (``lifecycle.update.run_scheduled``) over the App's registry, with the
    SCF rollout wired in when ``XIAOFEI_SCF_ROLLOUT`` is on."""
    rollout = reconcile_from_settings if app.settings.scf_rollout else None
    return update.run_scheduled(app.registry, app.settings, event, rollout=rollout)
