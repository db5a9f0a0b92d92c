"""The scheduled ``model_update`` job: gate new model versions and roll them out by the policy's plan.

Each run, for every served model name, under that name's lease:

1. a running canary that has lasted ``rollout.canary_minutes`` becomes the serving version (a canary still
   running ends the run for that name: new candidates wait for it);
2. each candidate (published, not yet evaluated, oldest first) goes through the gate; a rejected one is
   recorded with its reasons and never touched again unless re-published; a passed one becomes the canary
   (``rollout.canary_weight``) or, with ``rollout.straight_to_serving``, the serving version.

Safe to repeat and to run twice at once: the lease (``models/{name}/LEASE.json``, created or taken over
with a conditional write, with an expiry) keeps two runs from gating the same candidate, and every pointer
change is itself a conditional write that re-checks its precondition (a canary withdrawn by an operator
meanwhile is not promoted). A run that dies half-way leaves the pointer as it was, or fully changed; the
next run finishes what is left (a passed candidate not yet rolled out is still a candidate).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xiaofei.clock import iso, parse_iso
from xiaofei.config import Settings
from xiaofei.errors import AppError, Conflict, NotFound
from xiaofei.lifecycle.evaluation import evaluate
from xiaofei.lifecycle.policy import Policy
from xiaofei.lifecycle.registry import Registry, dumps, lease_key

log = logging.getLogger(__name__)

JOB = "model_update"
LEASE_TTL_S = 15 * 60  # longer than the function's timeout (at most 900 s)


# ------------------------------------------------------------------------------------------ the lease


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    etag: str


def acquire_lease(registry: Registry, name: str, ttl_s: float = LEASE_TTL_S) -> Lease | None:
    """Create the lease, or take over an expired one; None if another run holds it."""
    owner = uuid.uuid4().hex
    now = registry.clock()
    body = dumps({"owner": owner, "expires": now + ttl_s, "expires_at": iso(now + ttl_s), "by": JOB})
    key = lease_key(name)
    for _ in range(3):
        info = registry.store.head(key)
        try:
            if info is None:
                return Lease(
                    name, owner, registry.store.put(key, body, "application/json", if_none_match=True)
                )
            held = json.loads(registry.store.get(key))
            if float(held.get("expires", 0)) > now:
                return None
            return Lease(name, owner, registry.store.put(key, body, "application/json", if_match=info.etag))
        except (Conflict, NotFound):
            continue  # someone else moved first: look again
        except (ValueError, TypeError, AttributeError):  # a torn lease: take it over
            if info is not None:
                try:
                    return Lease(
                        name, owner, registry.store.put(key, body, "application/json", if_match=info.etag)
                    )
                except Conflict:
                    continue
    return None


def release_lease(registry: Registry, lease: Lease) -> None:
    """Expire our lease with a conditional write: a lease someone else holds is never touched."""
    body = dumps({"owner": lease.owner, "expires": 0, "released_at": registry.now(), "by": JOB})
    try:
        registry.store.put(lease_key(lease.name), body, "application/json", if_match=lease.etag)
    except AppError as exc:  # it expires by itself anyway
        log.warning("lease not released", extra={"model": lease.name, "code": exc.code})


# -------------------------------------------------------------------------------------------- the job


# A platform's rollout after the pointers moved (e.g. ``adapters.rollout_scf.reconcile_from_settings``, which
# mirrors them onto SCF function versions): given the registry and the settings, a summary of what it did.
Rollout = Callable[[Registry, Settings], dict[str, Any]]


def run_scheduled(
    registry: Registry, settings: Settings, event: dict[str, Any], *, rollout: Rollout | None = None
) -> dict[str, Any]:
    """The timer job: every served model updated, then the platform ``rollout`` (if any) reconciled.

    Returns a summary (SCF discards a timer's return value; the CLI prints it). The adapters wire the
    platform in (``adapters.rollout_scf.run_model_update``)."""
    summary: dict[str, Any] = {
        "job": JOB,
        "trigger": str(event.get("TriggerName", ""))[:64],
        "started_at": registry.now(),
        "models": {},
    }
    for name in settings.model_names:
        try:
            summary["models"][name] = update_model(registry, name, settings)
        except AppError as exc:
            log.error(
                "model update failed; the pointer is unchanged", extra={"model": name, "code": exc.code}
            )
            summary["models"][name] = {"error": exc.code, "message": {"en": exc.en, "zh": exc.zh}}
        except Exception:
            log.exception("model update failed; the pointer is unchanged", extra={"model": name})
            summary["models"][name] = {"error": "internal_error"}
    if rollout is not None:
        try:
            summary["scf"] = rollout(registry, settings)
        except AppError as exc:
            log.error("SCF rollout not reconciled; the next run retries", extra={"code": exc.code})
            summary["scf"] = {"error": exc.code, "message": {"en": exc.en, "zh": exc.zh}}
    summary["ok"] = all("error" not in m for m in summary["models"].values()) and "error" not in summary.get(
        "scf", {}
    )
    summary["finished_at"] = registry.now()
    log.info("model update run", extra={"summary": summary})
    return summary


def update_model(registry: Registry, name: str, settings: Settings) -> dict[str, Any]:
    if registry.bootstrap(name) is None:
        return {"skipped": "no serving version and no bundled package"}
    lease = acquire_lease(registry, name)
    if lease is None:
        return {"skipped": "another run holds the lease"}
    actions: list[dict[str, Any]] = []
    try:
        policy = registry.load_policy(name)
        waiting = _advance_canary(registry, name, policy, actions)
        if waiting is None:
            _candidates(registry, name, policy, settings, actions)
    except Conflict as exc:  # an operator changed the pointer meanwhile: their change stands
        log.info("pointer changed during the run; leaving it", extra={"model": name, "reason": exc.en})
        actions.append({"action": "stopped", "reason": exc.en})
        waiting = None
    finally:
        release_lease(registry, lease)
    pointer = registry.pointer(name)
    assert pointer is not None
    out: dict[str, Any] = {
        "serving": pointer.version,
        "canary": pointer.to_json()["canary"],
        "actions": actions,
    }
    if waiting is not None:
        out["canary_remaining_minutes"] = waiting
    return out


def _advance_canary(
    registry: Registry, name: str, policy: Policy, actions: list[dict[str, Any]]
) -> float | None:
    """Promote a canary that has run long enough; the minutes left if one is still running, else None."""
    pointer = registry.pointer(name)
    if pointer is None or pointer.canary is None:
        return None
    canary = pointer.canary
    elapsed_min = (
        (registry.clock() - parse_iso(canary.started_at)) / 60 if canary.started_at else float("inf")
    )
    if elapsed_min < policy.rollout.canary_minutes:
        return round(policy.rollout.canary_minutes - elapsed_min, 2)
    registry.promote(
        name,
        canary.version,
        by=JOB,
        expect_canary=True,
        reason=f"canary ran {elapsed_min:.0f} min (policy: {policy.rollout.canary_minutes:g}) "
        "without being withdrawn",
    )
    actions.append({"action": "promote", "version": canary.version, "from": "canary"})
    return None


def _candidates(
    registry: Registry, name: str, policy: Policy, settings: Settings, actions: list[dict[str, Any]]
) -> None:
    for entry in registry.versions(name):
        version = entry["version"]
        pointer = registry.pointer(name)
        assert pointer is not None
        evaluation = registry.evaluation(name, version)
        if version in pointer.live_versions():
            # Live but not marked: a run that died between the pointer write and the mark.
            registry.mark(name, version, "canary" if version != pointer.version else "serving")
            continue
        if evaluation is not None and (evaluation.get("verdict") != "passed" or evaluation.get("rollout")):
            continue  # rejected, or already rolled out (and perhaps rolled back): never touched again
        baseline = ((evaluation or {}).get("serving") or {}).get("version")
        if evaluation is None or (baseline is not None and baseline != pointer.version):
            evaluation = _gate(registry, name, version, settings)
            actions.append(
                {
                    "action": "evaluate",
                    "version": version,
                    "verdict": evaluation["verdict"],
                    "reasons": evaluation["reasons"],
                }
            )
            if evaluation["verdict"] != "passed":
                continue
        if policy.rollout.straight_to_serving:
            registry.promote(
                name,
                version,
                by=JOB,
                expect_serving=pointer.version,
                reason="passed the gate; policy: straight to serving",
            )
            actions.append({"action": "promote", "version": version})
            continue
        registry.promote(
            name,
            version,
            by=JOB,
            canary_weight=policy.rollout.canary_weight,
            expect_serving=pointer.version,
            reason=f"passed the gate; canary for {policy.rollout.canary_minutes:g} min",
        )
        actions.append({"action": "canary", "version": version, "weight": policy.rollout.canary_weight})
        return  # one canary at a time


def _gate(registry: Registry, name: str, version: str, settings: Settings) -> dict[str, Any]:
    evaluation = evaluate(
        registry,
        name,
        version,
        threads=settings.threads,
        max_bytes=settings.max_body_bytes,
        max_pixels=settings.max_pixels,
        by=JOB,
    )
    registry.audit(
        "evaluate",
        by=JOB,
        model=name,
        version=version,
        reason=evaluation["verdict"],
        details={"reasons": evaluation["reasons"], "metrics": evaluation.get("metrics", {})},
    )
    return evaluation
