"""Settings: read once from ``XIAOFEI_*`` environment variables into one typed, frozen object.

Every knob the service has is a field here, with its environment variable and default. The deploy
test checks that ``serverless.yml`` sets only variables this module knows (``ENV_VARS``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

PREFIX = "XIAOFEI_"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_models_dir() -> str:
    # The bundled model packages: beside the package in a checkout, or inside the function's code zip.
    for candidate in (REPO_ROOT / "model", Path(__file__).resolve().parent / "models"):
        if (candidate / "pneumonia" / "manifest.json").exists():
            return str(candidate)
    return str(REPO_ROOT / "model")


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


_PARSERS: dict[str, Callable[[str], object]] = {"bool": _bool, "int": int, "float": float}


@dataclass(frozen=True)
class Settings:
    """All configuration. Field ``foo_bar`` is read from ``XIAOFEI_FOO_BAR``."""

    # Where everything is stored: file://DIR (default, embedded) or s3://bucket?endpoint=…&region=…
    storage: str = "file://./.xiaofei"
    # Secret for keyed uid hashes and bearer tokens; empty → the local server makes and keeps one.
    secret: str = ""
    # Served model names (comma separated) and the default one.
    models: str = "pneumonia,skin"
    default_model: str = "pneumonia"
    # Where the bundled model packages are (published to a fresh store on first use).
    bundled_models_dir: str = field(default_factory=_default_models_dir)
    # Local cache of downloaded model versions (SCF: /tmp, 512 MB).
    model_cache_dir: str = "/tmp/xiaofei-models"
    # How often a warm instance re-reads models/{name}/CURRENT.json.
    model_refresh_s: float = 30.0
    # Input limits, enforced before decoding.
    max_body_bytes: int = 10_000_000
    max_pixels: int = 40_000_000
    # Whether a caller with no identity may predict (nothing is kept for such a caller).
    anonymous_predict: bool = True
    # Retention: uploads expire after upload_retention_days, everything else after retention_days.
    retention_days: int = 30
    upload_retention_days: int = 1
    # Bearer tokens minted by POST /session.
    token_ttl_s: int = 7 * 24 * 3600
    # Presigned URL lifetime and the largest upload a presigned PUT accepts.
    url_ttl_s: int = 600
    # The WeChat cloud-storage environment and bucket that fileIDs must belong to.
    cloud_env: str = ""
    cloud_bucket: str = ""
    # ONNX Runtime intra-op threads; 0 → from the CPUs this process may really use.
    threads: int = 0
    # The public base URL of this deployment (presigned URLs of the local store point here).
    public_url: str = "http://127.0.0.1:8000"
    # Allowed CORS origin for the web page.
    cors_origin: str = "*"
    log_level: str = "INFO"
    # Serve exactly these model versions ("pneumonia=1.2.0,skin=1.0.0"), ignoring the registry pointer's
    # canary: set per function version by the SCF rollout mode.
    model_pins: str = ""
    # SCF rollout mode of the model_update job: mirror promotions onto function versions and an alias.
    scf_rollout: bool = False
    scf_function: str = ""
    scf_alias: str = "$DEFAULT"
    scf_region: str = ""
    scf_namespace: str = "default"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _PARSERS.get(str(f.type), str)(raw)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in self.models.split(",") if m.strip()]


ENV_VARS: frozenset[str] = frozenset(PREFIX + f.name.upper() for f in fields(Settings))
