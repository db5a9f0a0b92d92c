"""The gate's policy (``models/{name}/policy.json``): the thresholds a version must meet, its rollout plan.

All fields are optional in the file; missing ones take the defaults below (documented in docs/OPERATOR.md).
A malformed policy is refused when it is written (``xiaofei model policy``) and when the gate reads it
(``Registry.load_policy``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from xiaofei.errors import PolicyError


@dataclass(frozen=True)
class Rollout:
    canary_weight: float = 0.1  # share of callers on the canary
    canary_minutes: float = 60.0  # how long the canary runs before it serves everyone
    straight_to_serving: bool = False  # skip the canary


@dataclass(frozen=True)
class Policy:
    """``models/{name}/policy.json``. Rates are fractions in [0, 1]; ``min_recall`` maps a label id (or
    ``"*"``, every other label) to its floor; ``max_regression`` is the largest allowed drop in accuracy
    and macro-F1 against the serving version on the same golden images."""

    min_accuracy: float = 0.70
    min_macro_f1: float = 0.65
    min_recall: dict[str, float] = field(default_factory=lambda: {"*": 0.50})
    max_regression: float = 0.05  # one image of a 30-image golden set is 0.033
    max_ece: float = 0.05  # beyond what chance explains on the golden set (see evaluation._check_golden)
    min_acceptance_rate: float = 0.95
    min_rejection_rate: float | None = 0.95  # issue 7's target on out-of-domain images
    max_p95_ms: float = 1000.0
    max_model_bytes: int = 100_000_000
    # The site's reviewed films (doctors' reads): null → scored and reported, never a reason to reject;
    # a fraction → agreement with the doctors and its class-balanced form may drop at most this much
    # below the serving version's on the same films, once there are reviewed_min_cases of them.
    reviewed_max_regression: float | None = None
    reviewed_min_cases: int = 30
    rollout: Rollout = field(default_factory=Rollout)

    def recall_floor(self, label: str) -> float:
        return self.min_recall.get(label, self.min_recall.get("*", 0.0))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, data: Any) -> Policy:
        if not isinstance(data, dict):
            raise PolicyError("policy.json must be an object.", "policy.json 必须是对象。")
        base = cls()
        values: dict[str, Any] = {}
        for name in ("min_accuracy", "min_macro_f1", "max_regression", "max_ece", "min_acceptance_rate"):
            values[name] = _fraction(data.get(name, getattr(base, name)), name)
        rejection = data.get("min_rejection_rate", base.min_rejection_rate)
        values["min_rejection_rate"] = (
            None if rejection is None else _fraction(rejection, "min_rejection_rate")
        )
        values["max_p95_ms"] = _positive(data.get("max_p95_ms", base.max_p95_ms), "max_p95_ms")
        values["max_model_bytes"] = int(
            _positive(data.get("max_model_bytes", base.max_model_bytes), "max_model_bytes")
        )
        reviewed = data.get("reviewed_max_regression", base.reviewed_max_regression)
        values["reviewed_max_regression"] = (
            None if reviewed is None else _fraction(reviewed, "reviewed_max_regression")
        )
        cases = data.get("reviewed_min_cases", base.reviewed_min_cases)
        if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
            raise _policy_field("reviewed_min_cases")
        values["reviewed_min_cases"] = cases
        recall = data.get("min_recall", base.min_recall)
        if isinstance(recall, (int, float)) and not isinstance(recall, bool):
            recall = {"*": recall}
        if not isinstance(recall, dict):
            raise _policy_field("min_recall")
        values["min_recall"] = {str(k): _fraction(v, f"min_recall.{k}") for k, v in recall.items()}
        rollout = data.get("rollout", {})
        if not isinstance(rollout, dict):
            raise _policy_field("rollout")
        weight = _fraction(rollout.get("canary_weight", base.rollout.canary_weight), "rollout.canary_weight")
        if not 0 < weight < 1:
            raise _policy_field("rollout.canary_weight")
        straight = rollout.get("straight_to_serving", False)
        if not isinstance(straight, bool):
            raise _policy_field("rollout.straight_to_serving")
        minutes = rollout.get("canary_minutes", base.rollout.canary_minutes)
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0:
            raise _policy_field("rollout.canary_minutes")
        values["rollout"] = Rollout(weight, float(minutes), straight)
        return cls(**values)


def default_policy() -> dict[str, Any]:
    return Policy().to_json()


def _policy_field(name: str) -> PolicyError:
    return PolicyError(
        f"policy field '{name}' is invalid.", f"策略字段 '{name}' 无效。", details={"field": name}
    )


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise _policy_field(name)
    return float(value)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _policy_field(name)
    return float(value)
