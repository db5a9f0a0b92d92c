"""The serving side of the registry: which model object answers a request, refreshed without a redeploy.

A warm instance keeps, per model name, an immutable ``Slot`` (the pointer it last acted on and the loaded
serving and canary ``OnnxModel``s). At most every ``settings.model_refresh_s`` one request re-reads
``CURRENT.json``; a new version is downloaded into ``settings.model_cache_dir/{name}/{version}/``, its
sha256 verified, its session built beside the old one, and the new slot swapped in with one assignment.
Requests in flight keep the model object they already hold. Meanwhile other requests do not wait: they
are served by the slot they find. A version that fails to load is never swapped in: the instance keeps
what it has and logs why (and does not retry a package that is broken, only one that could not be read).

Canary routing is stable per caller: ``sha256(name, routing key)`` picks the same side for the same uid on
every instance. A caller without a routing key (anonymous) is routed at random with the same weight.

With ``XIAOFEI_MODEL_PINS`` (``name=version,…``, the SCF rollout mode pins models to function versions)
an instance serves exactly the pinned versions and the alias's traffic weights do the canary.
"""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xiaofei.config import Settings
from xiaofei.errors import AppError, ManifestError, ModelUnavailable, NotFound, unknown_model
from xiaofei.inference import input_gate
from xiaofei.inference.onnx_model import OnnxModel
from xiaofei.lifecycle.registry import Pointer, Registry

log = logging.getLogger(__name__)


def parse_pins(text: str) -> dict[str, str]:
    """``"pneumonia=1.2.0,skin=1.0.0"`` → ``{"pneumonia": "1.2.0", "skin": "1.0.0"}``."""
    pins = {}
    for item in text.split(","):
        name, sep, version = item.strip().partition("=")
        if sep and name.strip() and version.strip():
            pins[name.strip()] = version.strip()
    return pins


def format_pins(pins: dict[str, str]) -> str:
    return ",".join(f"{name}={version}" for name, version in sorted(pins.items()))


def in_canary(name: str, routing_key: str, weight: float) -> bool:
    """Whether this caller goes to the canary: a stable hash share of ``weight`` (random if no key)."""
    if weight <= 0:
        return False
    if not routing_key:
        return random.random() < weight
    digest = hashlib.sha256(f"{name}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < weight


@dataclass(frozen=True)
class Slot:
    pointer: Pointer
    serving: OnnxModel
    canary: OnnxModel | None
    weight: float
    checked_at: float  # monotonic seconds of the last pointer read

    def pick(self, name: str, routing_key: str) -> OnnxModel:
        if self.canary is not None and in_canary(name, routing_key, self.weight):
            return self.canary
        return self.serving


class RegistryModels:
    """``ModelSource`` over the registry (see the module docstring)."""

    def __init__(
        self,
        registry: Registry,
        names: list[str],
        *,
        cache_dir: Path | str,
        refresh_s: float = 30.0,
        threads: int = 0,
        pins: dict[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.names = list(names)
        self.cache_dir = Path(cache_dir)
        self.refresh_s = refresh_s
        self.threads = threads
        self.pins = dict(pins or {})
        self.monotonic = monotonic
        self._slots: dict[str, Slot] = {}
        self._locks = {name: threading.Lock() for name in self.names}
        self._broken: dict[tuple[str, str], str] = {}  # (name, version) → why it will not load

    @classmethod
    def from_settings(cls, registry: Registry, s: Settings) -> RegistryModels:
        """The model source of a warm instance over ``registry`` (the App builds both)."""
        return cls(
            registry,
            s.model_names,
            cache_dir=s.model_cache_dir,
            refresh_s=s.model_refresh_s,
            threads=s.threads,
            pins=parse_pins(s.model_pins),
        )

    # -- ModelSource

    def get(self, name: str, routing_key: str = "") -> OnnxModel:
        if name not in self._locks:
            raise unknown_model(name, self.names)
        slot = self._slots.get(name)
        if slot is None or self.monotonic() - slot.checked_at >= self.refresh_s:
            slot = self.refresh(name, wait=slot is None) or slot
        if slot is None:
            raise ModelUnavailable()
        return slot.pick(name, routing_key)

    def serving(self, name: str) -> OnnxModel:
        self.get(name)  # loads or refreshes the slot
        return self._slots[name].serving

    def versions(self) -> dict[str, str]:
        """The serving version of each model (the canary, if any, is in ``status``)."""
        return {name: self.serving(name).version for name in self.names}

    def status(self) -> dict[str, dict[str, object]]:
        """What this instance serves (for health checks and tests)."""
        return {
            name: {
                "serving": slot.serving.version,
                "canary": slot.canary.version if slot.canary else None,
                "weight": slot.weight,
                "pointer": slot.pointer.to_json(),
            }
            for name, slot in self._slots.items()
        }

    # -- refreshing

    def refresh(self, name: str, *, wait: bool = True) -> Slot | None:
        """Re-read the pointer and swap in what it names. Without ``wait``, returns None at once if another
        request is already refreshing (the caller keeps using the slot it has)."""
        lock = self._locks[name]
        if not lock.acquire(blocking=wait):
            return None
        try:
            current = self._slots.get(name)
            if current is not None and self.monotonic() - current.checked_at < self.refresh_s:
                return current  # refreshed while we waited
            slot = self._refresh(name, current)
            if slot is not None:
                self._slots[name] = slot  # the swap: one assignment; readers see the old or the new slot
            return slot
        finally:
            lock.release()

    def _refresh(self, name: str, current: Slot | None) -> Slot | None:
        now = self.monotonic()
        try:
            pointer = self._pointer(name)
        except AppError as exc:  # storage down, unreadable pointer, broken bundled manifest
            log.warning(
                "cannot read the model pointer; keeping what is loaded",
                extra={"model": name, "code": exc.code},
            )
            if current is not None:
                return Slot(current.pointer, current.serving, current.canary, current.weight, now)
            return self._bundled_fallback(name, now)
        if pointer is None:
            log.error("no serving version and no bundled package", extra={"model": name})
            return None
        serving = self._model(name, pointer.version, current)
        if serving is None:
            if current is None:
                return self._bundled_fallback(name, now)
            log.error(
                "serving version not loaded; keeping the one loaded",
                extra={"model": name, "wanted": pointer.version, "serving": current.serving.version},
            )
            serving = current.serving
        canary = None
        weight = 0.0
        if pointer.canary is not None:
            canary = self._model(name, pointer.canary.version, current)
            weight = pointer.canary.weight if canary is not None else 0.0
        slot = Slot(pointer, serving, canary, weight, now)
        if current is None or current.serving is not serving or current.canary is not canary:
            log.info(
                "models swapped",
                extra={
                    "model": name,
                    "serving": serving.version,
                    "canary": canary.version if canary else None,
                    "weight": weight,
                },
            )
            self._evict(
                name, {serving.version, *([canary.version] if canary else []), pointer.previous or ""}
            )
        return slot

    def _pointer(self, name: str) -> Pointer | None:
        pinned = self.pins.get(name)
        if pinned:
            return Pointer(pinned, by="pin", reason="XIAOFEI_MODEL_PINS")
        pointer = self.registry.pointer(name)
        return pointer if pointer is not None else self.registry.bootstrap(name)

    def _model(self, name: str, version: str, current: Slot | None) -> OnnxModel | None:
        """The loaded model of ``version``: reused if this instance has it, else fetched, verified, loaded."""
        if current is not None:
            for model in (current.serving, current.canary):
                if model is not None and model.version == version:
                    return model
        if (name, version) in self._broken:
            return None
        try:
            folder = self.registry.fetch(name, version, self.cache_dir)
            model = OnnxModel.load(folder, threads=self.threads)
            input_gate.check_manifest(model.manifest)  # every request would fail on a malformed input gate
            if model.name != name or model.version != version:
                raise ModelUnavailable(details={"reason": "the manifest names another model or version"})
        except (ModelUnavailable, ManifestError, NotFound) as exc:
            reason = str(exc.details.get("reason") or exc.en)
            self._broken[(name, version)] = reason
            shutil.rmtree(self.cache_dir / name / version, ignore_errors=True)  # never keep a bad copy
            log.error(
                "model version refused; it will not be served",
                extra={"model": name, "version": version, "reason": reason},
            )
            return None
        except (AppError, OSError) as exc:  # storage or local disk trouble: try again at the next refresh
            code = exc.code if isinstance(exc, AppError) else type(exc).__name__
            log.warning(
                "model version not downloaded", extra={"model": name, "version": version, "code": code}
            )
            return None
        return model

    def _bundled_fallback(self, name: str, now: float) -> Slot | None:
        """Cold start with the store unreachable: serve the package shipped with the code, retry later."""
        folder = self.registry.bundled_package(name)
        if folder is None:
            return None
        try:
            model = OnnxModel.load(folder, threads=self.threads)
        except ModelUnavailable:
            return None
        log.warning("serving the bundled package until the registry can be read", extra={"model": name})
        return Slot(Pointer(model.version, by="bundled"), model, None, 0.0, now)

    def _evict(self, name: str, keep: set[str]) -> None:
        """Remove cached versions this instance no longer needs (the previous one is kept for rollback)."""
        folder = self.cache_dir / name
        try:
            entries = list(folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
