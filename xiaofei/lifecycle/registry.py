"""The model registry: versions, the serving pointer, golden sets, policies and the audit log, all in the
object store.

Layout (see DESIGN.md)::

    models/{name}/{version}/model.onnx, manifest.json, evaluation.json   (+ MODEL_CARD.md if shipped)
    models/{name}/pointer/{inverted-seq}.json   the serving pointer, one create-only object per change:
                                    {seq, version, canary: {version, weight, started_at} | null,
                                     previous, updated_at, by, reason}
    models/{name}/CURRENT.json     a copy of the newest pointer, for people and older instances
    models/{name}/golden/index.json + images                             the gate's evaluation set
    models/{name}/policy.json                                            the gate's thresholds, rollout plan
    models/{name}/LEASE.json                                             the update job's lease
    audit/{yyyy}/{mm}/{inverted-ms}-{id}.json                            who, when, what, why (records.audit)

The pointer is a sequence of create-only objects and the newest one wins. A change reads the newest
(number ``n``), computes the new state and *creates* number ``n + 1``; creating an object that exists
fails (``If-None-Match: *`` on S3, ``x-cos-forbid-overwrite: true`` on COS: what COS documents), so of two
writers that read the same ``n`` exactly one succeeds and the other gets ``Conflict``, re-reads and
decides again. Nothing relies on ``If-Match`` on PUT, which COS does not document: a store that ignored
it could interleave two writers of a single replaced object. The keys count down
(``{10**12 - n:012d}.json``), so the newest is the first a listing returns. ``CURRENT.json`` is still
written (after each change, unconditionally) as a copy for operators and for instances of the previous
code during a rolling deploy; a store that has only a ``CURRENT.json`` (made before this design) is read
as number 0, and the first change creates number 1. A package is written manifest-last, so a half-published
version has no manifest and is not a candidate.

On a fresh store the bundled packages (``settings.bundled_models_dir``) are published as the first
serving versions (``bootstrap``); golden sets and policies follow when the gate first needs them.

The serving side is ``lifecycle.source``, the evaluation gate ``lifecycle.evaluation``, the timer job
``xiaofei.lifecycle.update``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xiaofei import clock
from xiaofei.errors import (
    AppError,
    BadRequest,
    Conflict,
    ManifestError,
    ModelUnavailable,
    NoChange,
    NotFound,
    PolicyError,
)
from xiaofei.inference.manifest import Manifest
from xiaofei.inference.onnx_model import sha256_file
from xiaofei.lifecycle.policy import Policy, default_policy
from xiaofei.records import audit

if TYPE_CHECKING:
    from xiaofei.storage.open import ObjectStore

log = logging.getLogger(__name__)

ROOT = "models"
PACKAGE_FILES = ("model.onnx", "manifest.json")
EXTRA_FILES = ("MODEL_CARD.md",)  # copied when a package ships them
RESERVED = frozenset({"golden", "pointer", "CURRENT.json", "policy.json", "LEASE.json"})
POINTER_SEQ_LIMIT = 10**12
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
CAS_ATTEMPTS = 8


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise BadRequest("Invalid model name.", "模型名称无效。", details={"name": str(name)[:40]})
    return name


def check_version(version: Any) -> str:
    if not isinstance(version, str) or not _VERSION_RE.match(version) or version in RESERVED:
        raise BadRequest(
            "Invalid model version: use letters, digits and . _ + - (at most 64).",
            "模型版本无效：只能使用字母、数字和 . _ + -（最多 64 个字符）。",
            details={"version": str(version)[:64]},
        )
    return version


def pointer_key(name: str) -> str:
    """The copy of the newest pointer (not what decides: see ``pointer_seq_key``)."""
    return f"{ROOT}/{name}/CURRENT.json"


def pointer_prefix(name: str) -> str:
    return f"{ROOT}/{name}/pointer/"


def pointer_seq_key(name: str, seq: int) -> str:
    """Pointer number ``seq``: keys count down, so a listing returns the newest first."""
    if not 1 <= seq < POINTER_SEQ_LIMIT:
        raise ValueError("pointer sequence out of range")
    return f"{pointer_prefix(name)}{POINTER_SEQ_LIMIT - seq:012d}.json"


def seq_of_key(name: str, key: str) -> int | None:
    tail = key[len(pointer_prefix(name)) :] if key.startswith(pointer_prefix(name)) else ""
    stem, dot, ext = tail.partition(".")
    if not (dot and ext == "json" and len(stem) == 12 and stem.isdigit()):
        return None
    seq = POINTER_SEQ_LIMIT - int(stem)
    return seq if 1 <= seq < POINTER_SEQ_LIMIT else None


def version_key(name: str, version: str, file: str) -> str:
    return f"{ROOT}/{name}/{version}/{file}"


def golden_prefix(name: str) -> str:
    return f"{ROOT}/{name}/golden/"


def policy_key(name: str) -> str:
    return f"{ROOT}/{name}/policy.json"


def lease_key(name: str) -> str:
    return f"{ROOT}/{name}/LEASE.json"


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


# ---------------------------------------------------------------------------------------- the pointer


@dataclass(frozen=True)
class Canary:
    version: str
    weight: float  # the share of callers routed to the canary, 0 < weight < 1
    started_at: str


@dataclass(frozen=True)
class Pointer:
    """The serving pointer; ``seq`` is the number of the pointer object it was read from (0: only a
    legacy ``CURRENT.json``, or not stored yet)."""

    version: str
    canary: Canary | None = None
    previous: str | None = None
    updated_at: str = ""
    by: str = ""
    reason: str = ""
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "canary": None if self.canary is None else self.canary.__dict__.copy(),
            "previous": self.previous,
            "updated_at": self.updated_at,
            "by": self.by,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Any, seq: int = 0) -> Pointer:
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise ValueError("CURRENT.json needs a version")
        canary = data.get("canary")
        parsed = None
        if isinstance(canary, dict):
            weight = float(canary["weight"])
            if not 0 < weight < 1:
                raise ValueError("canary weight must be between 0 and 1")
            parsed = Canary(str(canary["version"]), weight, str(canary.get("started_at", "")))
        previous = data.get("previous")
        return cls(
            version=data["version"],
            canary=parsed,
            previous=previous if isinstance(previous, str) else None,
            updated_at=str(data.get("updated_at", "")),
            by=str(data.get("by", "")),
            reason=str(data.get("reason", "")),
            seq=seq,
        )

    def live_versions(self) -> list[str]:
        """The versions callers may be served right now."""
        return [self.version] + ([self.canary.version] if self.canary else [])


# -------------------------------------------------------------------------------------- the registry


class Registry:
    """Reads and writes the registry objects; every state change goes through ``change_pointer``."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        bundled_dir: Path | str | None = None,
        clock: Callable[[], float] = clock.now,
    ) -> None:
        self.store = store
        self.bundled_dir = Path(bundled_dir) if bundled_dir else None
        self.clock = clock  # wall-clock seconds; injectable so tests can fast-forward a canary

    def now(self) -> str:
        return clock.iso(self.clock())

    # -- reading

    def read_json(self, key: str) -> Any:
        try:
            return json.loads(self.store.get(key))
        except ValueError as exc:
            raise ManifestError(f"{key.rsplit('/', 1)[-1]} is not valid JSON", "JSON 格式无效") from exc

    def pointer(self, name: str) -> Pointer | None:
        """The newest pointer object (one listing of one key, then its body); a store that has only a
        ``CURRENT.json`` from before the pointer objects gives that one as number 0."""
        items, _ = self.store.list(pointer_prefix(name), limit=1)
        for info in items:
            seq = seq_of_key(name, info.key)
            if seq is None:
                continue
            try:
                return self._parse_pointer(name, self.store.get(info.key), seq)
            except NotFound:  # removed by an operator between the listing and the read
                break
        try:
            return self._parse_pointer(name, self.store.get(pointer_key(name)), 0)
        except NotFound:
            return None

    def _parse_pointer(self, name: str, data: bytes, seq: int) -> Pointer:
        try:
            return Pointer.from_json(json.loads(data), seq)
        except (ValueError, KeyError, TypeError) as exc:
            # Nobody but this module writes it; a torn or hand-edited pointer is an operator's problem.
            log.error("the model pointer is unreadable", extra={"model": name, "seq": seq})
            raise ModelUnavailable(details={"reason": "the model pointer is unreadable"}) from exc

    def manifest_bytes(self, name: str, version: str) -> bytes:
        data: bytes = self.store.get(version_key(name, version, "manifest.json"))
        return data

    def manifest(self, name: str, version: str) -> Manifest:
        return Manifest.loads(self.manifest_bytes(name, version))

    def evaluation(self, name: str, version: str) -> dict[str, Any] | None:
        try:
            data = self.read_json(version_key(name, version, "evaluation.json"))
        except NotFound:
            return None
        return data if isinstance(data, dict) else None

    def exists(self, name: str, version: str) -> bool:
        return self.store.head(version_key(name, version, "manifest.json")) is not None

    def iter_keys(self, prefix: str) -> Iterator[Any]:
        cursor = None
        while True:
            items, cursor = self.store.list(prefix, cursor=cursor)
            yield from items
            if cursor is None:
                return

    def names(self) -> list[str]:
        """Model names with a pointer (served models)."""
        return sorted(
            {
                parts[1]
                for parts in (info.key.split("/") for info in self.iter_keys(f"{ROOT}/"))
                if (len(parts) == 3 and parts[2] == "CURRENT.json")
                or (len(parts) == 4 and parts[2] == "pointer")
            }
        )

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Published versions (a manifest is there), oldest publication first, with their evaluation state."""
        found: dict[str, dict[str, Any]] = {}
        prefix = f"{ROOT}/{name}/"
        for info in self.iter_keys(prefix):
            parts = info.key[len(prefix) :].split("/")
            if len(parts) != 2 or parts[0] in RESERVED:
                continue
            entry = found.setdefault(parts[0], {"version": parts[0], "published": None, "evaluated": False})
            if parts[1] == "manifest.json":
                entry["published"] = info.last_modified
            elif parts[1] == "evaluation.json":
                entry["evaluated"] = True
        published = [e for e in found.values() if e["published"] is not None]
        return sorted(published, key=lambda e: (e["published"], e["version"]))

    # -- writing

    def change_pointer(
        self, name: str, change: Callable[[Pointer | None], Pointer], *, attempts: int = CAS_ATTEMPTS
    ) -> Pointer:
        """Read the newest pointer, compute, create the next one; if another writer created it first
        (``Conflict``), re-read and recompute (``change`` may raise to give up, or ``NoChange`` when the
        pointer already is what it wants)."""
        for attempt in range(attempts):
            current = self.pointer(name)
            try:
                new = change(current)
            except NoChange:
                assert current is not None
                return current
            seq = (current.seq if current is not None else 0) + 1
            new = replace(new, seq=seq)
            body = dumps({"seq": seq, **new.to_json()})
            try:
                # Create-only: the one conditional write this design needs (COS: x-cos-forbid-overwrite).
                self.store.put(pointer_seq_key(name, seq), body, "application/json", if_none_match=True)
            except Conflict:
                log.info("pointer changed under us; re-reading", extra={"model": name, "attempt": attempt})
                time.sleep(0.01 * (attempt + 1) * (1 + random.random()))
                continue
            self._mirror(name, seq)
            return new
        raise Conflict()

    def _mirror(self, name: str, seq: int) -> None:
        """Copy the newest pointer to ``CURRENT.json`` (for operators and older instances). Two writers may
        race here; whoever copies last re-reads, so the copy converges on the newest; it never decides."""
        try:
            for _ in range(3):
                newest = self.pointer(name)
                if newest is None or newest.seq < seq:
                    return
                self.store.put(pointer_key(name), dumps(newest.to_json()), "application/json")
                again = self.pointer(name)
                if again is None or again.seq == newest.seq:
                    return
                seq = again.seq
        except AppError:
            log.warning("could not copy the pointer to CURRENT.json", extra={"model": name})

    def write_evaluation(self, name: str, version: str, evaluation: dict[str, Any]) -> None:
        self.store.put(version_key(name, version, "evaluation.json"), dumps(evaluation), "application/json")

    def publish(
        self, package_dir: Path | str, *, name: str | None = None, by: str, reason: str = ""
    ) -> tuple[str, str]:
        """Upload a package folder as a new candidate version; returns (name, version).

        Only the manifest's name and version are read here: judging the package is the gate's job, so a
        broken package is published, then rejected with its reasons. Re-publishing a version clears its
        evaluation (it becomes a candidate again); the serving or canary version cannot be replaced.
        """
        folder = Path(package_dir)
        try:
            raw = json.loads((folder / "manifest.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise BadRequest(
                f"{folder}/manifest.json cannot be read as JSON.", f"无法读取 {folder}/manifest.json。"
            ) from exc
        if not isinstance(raw, dict):
            raise BadRequest("manifest.json must be an object.", "manifest.json 必须是对象。")
        name = check_name(name or raw.get("name") or folder.name)
        version = check_version(raw.get("version"))
        if not (folder / "model.onnx").is_file():
            raise BadRequest(f"{folder}/model.onnx is missing.", f"缺少 {folder}/model.onnx。")
        pointer = self.pointer(name)
        if pointer is not None and version in pointer.live_versions():
            raise Conflict(
                f"{name} {version} is being served; publish under a new version.",
                f"{name} {version} 正在服务中，请使用新的版本号发布。",
            )
        # Evaluation first (a re-published version is judged afresh), the manifest last (the commit point).
        self.store.delete(version_key(name, version, "evaluation.json"))
        self.store.put(
            version_key(name, version, "model.onnx"),
            (folder / "model.onnx").read_bytes(),
            "application/octet-stream",
        )
        for extra in EXTRA_FILES:
            if (folder / extra).is_file():
                self.store.put(
                    version_key(name, version, extra), (folder / extra).read_bytes(), _type_of(extra)
                )
        self.store.put(
            version_key(name, version, "manifest.json"),
            (folder / "manifest.json").read_bytes(),
            "application/json",
        )
        self.audit("publish", by=by, reason=reason, model=name, version=version)
        return name, version

    def publish_golden(self, name: str, golden_dir: Path | str, *, by: str, reason: str = "") -> int:
        """Replace the golden set: images first, ``index.json`` last; returns the number of items."""
        folder = Path(golden_dir)
        try:
            index = json.loads((folder / "index.json").read_bytes())
            items = index["items"]
            files = [str(item["file"]) for item in items]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadRequest(
                "The golden set needs index.json with {items: [{file, label}]}.",
                "金标准集需要 index.json，格式为 {items: [{file, label}]}。",
            ) from exc
        for file in files:
            if "/" in file or file.startswith(".") or not (folder / file).is_file():
                raise BadRequest(
                    f"Golden file '{file[:60]}' is missing.", f"金标准文件 '{file[:60]}' 不存在。"
                )
        prefix = golden_prefix(name)
        for file in files:
            self.store.put(prefix + file, (folder / file).read_bytes(), _type_of(file))
        self.store.put(prefix + "index.json", (folder / "index.json").read_bytes(), "application/json")
        self.audit("golden", by=by, reason=reason, model=name, details={"items": len(files)})
        return len(files)

    def put_policy(self, name: str, policy: dict[str, Any], *, by: str, reason: str = "") -> None:
        Policy.parse(policy)  # refuse a malformed policy before it can stop the job
        self.store.put(policy_key(name), dumps(policy), "application/json")
        self.audit("policy", by=by, reason=reason, model=name, details={"policy": policy})

    def audit(
        self,
        action: str,
        *,
        by: str,
        reason: str = "",
        model: str | None = None,
        version: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Append one entry to the audit log (``xiaofei.records.audit``); returns its key."""
        return audit.append(
            self.store,
            self.clock(),
            action,
            by=by,
            reason=reason,
            model=model,
            version=version,
            details=details,
        )

    def audit_log(self, limit: int = 20, model: str | None = None) -> list[dict[str, Any]]:
        return audit.recent(self.store, limit=limit, model=model)

    # -- operator actions (the job uses the same ones)

    def promote(
        self,
        name: str,
        version: str,
        *,
        by: str,
        reason: str = "",
        canary_weight: float | None = None,
        force: bool = False,
        expect_canary: bool = False,
        expect_serving: str | None = None,
    ) -> Pointer:
        """Make ``version`` the serving one, or (``canary_weight``) the canary beside the serving one.

        The version must have passed the gate (or already be the canary) unless ``force`` (recorded in the
        audit log); even then the serving side verifies and loads it before it takes any traffic.
        ``expect_canary`` / ``expect_serving`` are preconditions checked against the pointer inside the
        conditional write (the job decided on a state an operator may have changed): ``Conflict`` if not.
        """
        check_version(version)
        if not self.exists(name, version):
            raise NotFound(f"{name} {version} is not published.", f"{name} {version} 尚未发布。")
        evaluation = self.evaluation(name, version) or {}
        pointer = self.pointer(name)
        is_canary = pointer is not None and pointer.canary is not None and pointer.canary.version == version
        if evaluation.get("verdict") not in ("passed", "bootstrap") and not (force or is_canary):
            raise Conflict(
                f"{name} {version} has not passed the evaluation gate (use --force to override).",
                f"{name} {version} 尚未通过评估（如确需上线请使用 --force）。",
                details={"verdict": evaluation.get("verdict")},
            )
        if canary_weight is not None and not 0 < canary_weight < 1:
            raise BadRequest("The canary weight must be between 0 and 1.", "灰度比例必须在 0 到 1 之间。")
        now = self.now()
        replaced: list[str] = []  # a canary this change ends without promoting it

        def change(current: Pointer | None) -> Pointer:
            replaced.clear()
            if current is not None and current.canary is not None and current.canary.version != version:
                replaced.append(current.canary.version)
            if expect_canary and (
                current is None or current.canary is None or current.canary.version != version
            ):
                raise Conflict(
                    f"{name} {version} is no longer the canary.", f"{name} {version} 已不是灰度版本。"
                )
            if expect_serving is not None and (current is None or current.version != expect_serving):
                raise Conflict(f"The serving version of {name} changed.", f"{name} 的服务版本已变化。")
            if current is None:
                return Pointer(version, None, None, now, by, reason)
            if canary_weight is not None:
                if current.version == version:
                    raise Conflict(f"{name} {version} is already serving.", f"{name} {version} 已在服务中。")
                return replace(
                    current, canary=Canary(version, canary_weight, now), updated_at=now, by=by, reason=reason
                )
            if current.version == version and current.canary is None:
                raise NoChange()
            previous = current.version if current.version != version else current.previous
            return Pointer(version, None, previous, now, by, reason)

        pointer = self.change_pointer(name, change)
        self.mark(name, version, "canary" if canary_weight is not None else "serving")
        for withdrawn in replaced:
            self.mark(name, withdrawn, "withdrawn")
        self.audit(
            "canary" if canary_weight is not None else "promote",
            by=by,
            reason=reason,
            model=name,
            version=version,
            details={"weight": canary_weight, "forced": force, "pointer": pointer.to_json()},
        )
        return pointer

    def rollback(self, name: str, *, by: str, reason: str = "") -> Pointer:
        """With a canary: end it (the serving version stays). Without: serve the previous version again."""
        now = self.now()
        dropped: list[str] = []

        def change(current: Pointer | None) -> Pointer:
            dropped.clear()
            if current is None:
                raise NotFound(f"{name} has no serving version.", f"{name} 没有正在服务的版本。")
            if current.canary is not None:
                dropped.append(current.canary.version)
                return replace(current, canary=None, updated_at=now, by=by, reason=reason)
            if not current.previous:
                raise Conflict(
                    f"{name} has no previous version to roll back to.", f"{name} 没有可回滚的上一版本。"
                )
            dropped.append(current.version)
            return Pointer(current.previous, None, current.version, now, by, reason)

        pointer = self.change_pointer(name, change)
        for version in dropped:
            self.mark(name, version, "rolled_back")
        self.audit(
            "rollback",
            by=by,
            reason=reason,
            model=name,
            version=pointer.version,
            details={"withdrawn": dropped, "pointer": pointer.to_json()},
        )
        return pointer

    def mark(self, name: str, version: str, rollout: str) -> None:
        """Record in the evaluation what the rollout did with a version (so the job never redoes it)."""
        evaluation = self.evaluation(name, version)
        if evaluation is None or evaluation.get("rollout") == rollout:
            return
        evaluation["rollout"] = rollout
        evaluation["rollout_at"] = self.now()
        self.write_evaluation(name, version, evaluation)

    # -- bootstrap: the bundled packages become the first versions

    def bundled_package(self, name: str) -> Path | None:
        if self.bundled_dir is None:
            return None
        folder = self.bundled_dir / name
        return folder if (folder / "manifest.json").is_file() and (folder / "model.onnx").is_file() else None

    def bootstrap(self, name: str) -> Pointer | None:
        """Publish the bundled package of ``name`` as its serving version if the store has none yet.

        The bundled package ships inside the code and is verified (sha256, signature) when loaded, so it
        is recorded with the verdict ``bootstrap`` instead of running the golden set on every cold start.
        """
        pointer = self.pointer(name)
        if pointer is not None:
            return pointer
        folder = self.bundled_package(name)
        if folder is None:
            return None
        manifest = Manifest.loads((folder / "manifest.json").read_bytes())
        version = manifest.version
        if not self.exists(name, version):
            for file in (*PACKAGE_FILES[:1], *EXTRA_FILES):
                if (folder / file).is_file():
                    self.store.put(
                        version_key(name, version, file), (folder / file).read_bytes(), _type_of(file)
                    )
            self.store.put(
                version_key(name, version, "manifest.json"),
                (folder / "manifest.json").read_bytes(),
                "application/json",
            )
        if self.evaluation(name, version) is None:
            self.write_evaluation(
                name,
                version,
                {
                    "name": name,
                    "version": version,
                    "verdict": "bootstrap",
                    "rollout": "serving",
                    "reasons": [],
                    "evaluated_at": self.now(),
                    "note": "bundled with the code; verified by sha256 when loaded",
                },
            )
        self.ensure_policy(name)
        now = self.now()
        created: list[bool] = []

        def create(current: Pointer | None) -> Pointer:
            created.clear()
            if current is not None:
                raise NoChange()
            created.append(True)
            return Pointer(
                version, None, None, now, "bootstrap", "bundled package published on a fresh store"
            )

        try:
            pointer = self.change_pointer(name, create, attempts=2)
        except Conflict:  # another instance bootstrapped at the same moment
            return self.pointer(name)
        if created:
            self.audit("bootstrap", by="bootstrap", reason="fresh store", model=name, version=version)
        return pointer

    def ensure_policy(self, name: str) -> None:
        if self.store.head(policy_key(name)) is not None:
            return
        folder = self.bundled_package(name)
        policy = default_policy()
        if folder is not None and (folder / "policy.json").is_file():
            policy = json.loads((folder / "policy.json").read_bytes())
        with contextlib.suppress(Conflict):  # another instance wrote it first
            self.store.put(policy_key(name), dumps(policy), "application/json", if_none_match=True)

    def load_policy(self, name: str) -> Policy:
        """The name's policy (the default one written first if the store has none)."""
        self.ensure_policy(name)
        try:
            return Policy.parse(self.read_json(policy_key(name)))
        except ManifestError as exc:
            raise PolicyError("policy.json is not valid JSON.", "policy.json 不是有效的 JSON。") from exc

    def ensure_golden(self, name: str) -> bool:
        """Publish the bundled golden set if the store has none; False if there is none anywhere."""
        if self.store.head(golden_prefix(name) + "index.json") is not None:
            return True
        folder = self.bundled_package(name)
        if folder is None or not (folder / "golden" / "index.json").is_file():
            return False
        self.publish_golden(name, folder / "golden", by="bootstrap", reason="bundled golden set")
        return True

    # -- downloading a version for serving or evaluation

    def fetch(self, name: str, version: str, cache_root: Path | str) -> Path:
        """A local folder with the version's verified ``model.onnx`` and ``manifest.json``.

        The bundled package is used when it is the same version with the same sha256 (no download on a cold
        start); otherwise ``{cache_root}/{name}/{version}/``, downloaded into a temp folder, verified, then
        renamed into place, so a crash never leaves a half-written version that looks complete.
        """
        manifest_bytes = self.manifest_bytes(name, version)
        manifest = Manifest.loads(manifest_bytes)
        bundled = self.bundled_package(name)
        if bundled is not None and (bundled / "manifest.json").read_bytes() == manifest_bytes:
            return bundled
        target = Path(cache_root) / name / version
        if _complete(target, manifest_bytes, manifest.sha256):
            return target
        temp = target.parent / f".{version}.{uuid.uuid4().hex[:8]}"
        temp.mkdir(parents=True, exist_ok=True)
        try:
            (temp / "model.onnx").write_bytes(self.store.get(version_key(name, version, "model.onnx")))
            (temp / "manifest.json").write_bytes(manifest_bytes)
            if sha256_file(temp / "model.onnx") != manifest.sha256:
                raise ModelUnavailable(details={"reason": "sha256 of model.onnx does not match the manifest"})
            shutil.rmtree(target, ignore_errors=True)
            os.replace(temp, target)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return target


def _complete(folder: Path, manifest_bytes: bytes, sha256: str) -> bool:
    try:
        return (folder / "manifest.json").read_bytes() == manifest_bytes and sha256_file(
            folder / "model.onnx"
        ) == sha256
    except OSError:
        return False


def _type_of(file: str) -> str:
    suffix = file.rsplit(".", 1)[-1].lower()
    return {
        "json": "application/json",
        "md": "text/markdown",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "onnx": "application/octet-stream",
    }.get(suffix, "application/octet-stream")
