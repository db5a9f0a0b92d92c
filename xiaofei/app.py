"""The dependencies of a warm instance, built lazily once and reused by every request.

``get_app()`` returns the process-wide ``App``; tests build their own ``App(settings)`` with a
``file://`` store in a temp folder. Nothing heavy happens at import: the object store client, the
history repository and each model session are created on first use.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from xiaofei.config import Settings
from xiaofei.errors import unknown_model
from xiaofei.identity import TokenIssuer, load_or_create_secret

if TYPE_CHECKING:
    from xiaofei.inference.onnx_model import OnnxModel
    from xiaofei.lifecycle.registry import Registry
    from xiaofei.records.history import HistoryRepo
    from xiaofei.storage.open import ObjectStore


class ModelSource(Protocol):
    """Where a request's model comes from: the bundled packages, or the registry (with canaries)."""

    def get(self, name: str, routing_key: str) -> OnnxModel: ...

    def serving(self, name: str) -> OnnxModel:
        """The version everyone gets outside a canary (what ``GET /models`` describes)."""
        ...

    def versions(self) -> dict[str, str]: ...


class BundledModels:
    """The model packages shipped in the repository / the function's code zip, loaded on first use."""

    def __init__(self, root: Path, names: list[str], threads: int = 0) -> None:
        self.root = root
        self.names = names
        self.threads = threads
        self._models: dict[str, OnnxModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str, routing_key: str = "") -> OnnxModel:
        if name not in self.names:
            raise unknown_model(name, self.names)
        model = self._models.get(name)
        if model is None:
            from xiaofei.inference.onnx_model import (
                OnnxModel,  # numpy + ONNX Runtime: only for functions that load models
            )

            with self._lock:
                model = self._models.get(name) or OnnxModel.load(self.root / name, threads=self.threads)
                self._models[name] = model
        return model

    def serving(self, name: str) -> OnnxModel:
        return self.get(name)

    def versions(self) -> dict[str, str]:
        return {name: self.get(name).version for name in self.names}


class App:
    def __init__(self, settings: Settings | None = None, models: ModelSource | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._models = models
        self._lock = threading.Lock()

    @cached_property
    def secret(self) -> bytes:
        if self.settings.secret:
            return self.settings.secret.encode()
        local = _local_root(self.settings.storage)
        if local is None:
            raise RuntimeError("XIAOFEI_SECRET must be set when storage is not a local folder")
        return load_or_create_secret(local)

    @cached_property
    def store(self) -> ObjectStore:  # imported lazily: boto3 is slow to import
        from xiaofei.storage.open import open_store

        return open_store(
            self.settings.storage,
            signing_key=hashlib.sha256(b"presign:" + self.secret).digest(),
            public_url=self.settings.public_url,
        )

    @cached_property
    def history(self) -> HistoryRepo:
        from xiaofei.records.history import HistoryRepo

        return HistoryRepo(self.store, secret=hashlib.sha256(b"cursor:" + self.secret).digest())

    @cached_property
    def tokens(self) -> TokenIssuer:
        return TokenIssuer(hashlib.sha256(b"token:" + self.secret).digest(), self.settings.token_ttl_s)

    @cached_property
    def registry(self) -> Registry:
        """The model registry over this instance's store: the one the model source serves from, the
        timer job and the operator's commands use (so all of them share one clock)."""
        from xiaofei.lifecycle.registry import Registry  # numpy (sha256 helper): not for every function

        return Registry(self.store, bundled_dir=self.settings.bundled_models_dir)

    @property
    def models(self) -> ModelSource:
        if self._models is None:
            with self._lock:
                if self._models is None:
                    # The registry (bootstrapped from the bundled packages on a fresh store) decides
                    # which version serves; BundledModels stays for callers that pass it explicitly.
                    from xiaofei.lifecycle.source import RegistryModels  # ONNX Runtime: predict only

                    self._models = RegistryModels.from_settings(self.registry, self.settings)
        return self._models


def _local_root(storage_url: str) -> Path | None:
    parsed = urlparse(storage_url)
    if parsed.scheme != "file":
        return None
    return Path(parsed.netloc + parsed.path).resolve()


_app: App | None = None
_app_lock = threading.Lock()


def get_app() -> App:
    """The App of this warm instance (created on first call, with settings from the environment)."""
    global _app
    if _app is None:
        with _app_lock:
            if _app is None:
                _app = App()
    return _app


def set_app(app: App | None) -> None:
    """Replace the process-wide App (the local server and tests)."""
    global _app
    _app = app
