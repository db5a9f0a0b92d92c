"""The serving side of the registry (``RegistryModels``): bootstrap on a fresh store, refresh, verified
download, hot swap, canary routing, refusal of broken versions, cache eviction, pins, store outages."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.registry_kit import BUNDLED, manifest_of, settings, truncate, variant
from xiaofei.app import App
from xiaofei.errors import StorageUnavailable
from xiaofei.lifecycle.registry import Registry, pointer_key, version_key
from xiaofei.lifecycle.source import RegistryModels

BUNDLED_VERSION = manifest_of(BUNDLED / "pneumonia")["version"]


class Tick:
    """A monotonic clock for the refresh interval."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def source(app: App, tick: Tick) -> RegistryModels:
    models = app.models
    assert isinstance(models, RegistryModels)
    models.monotonic = tick
    return models


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(settings(tmp_path, model_refresh_s=10, models="pneumonia"))


def zero_batch(model: object) -> np.ndarray:
    spec = model.manifest.input  # type: ignore[attr-defined]
    return np.zeros((1, spec.channels, spec.height, spec.width), dtype=np.float32)


def test_fresh_store_bootstraps_the_bundled_package(app: App, tmp_path: Path) -> None:
    model = app.models.get("pneumonia", "")
    assert model.version == BUNDLED_VERSION
    assert model.package_dir == BUNDLED / "pneumonia"  # same bytes as shipped: no download
    store = app.store
    for key in (
        pointer_key("pneumonia"),
        version_key("pneumonia", BUNDLED_VERSION, "model.onnx"),
        version_key("pneumonia", BUNDLED_VERSION, "evaluation.json"),
        "models/pneumonia/policy.json",
    ):
        assert store.head(key) is not None, key
    assert app.models.versions() == {"pneumonia": BUNDLED_VERSION}
    assert [e["action"] for e in Registry(store).audit_log()] == ["bootstrap"]


def test_new_version_is_downloaded_verified_and_swapped_after_the_refresh_interval(
    app: App, tmp_path: Path
) -> None:
    tick = Tick()
    models = source(app, tick)
    old = models.get("pneumonia", "u1")
    registry = models.registry
    registry.publish(variant(tmp_path, "1.1.0"), by="test")
    registry.promote("pneumonia", "1.1.0", by="test", force=True)

    tick.now = 5  # within the interval: the pointer is not re-read
    assert models.get("pneumonia", "u1") is old
    tick.now = 10
    new = models.get("pneumonia", "u1")
    assert (
        new.version == "1.1.0"
        and new.package_dir == Path(app.settings.model_cache_dir) / "pneumonia" / "1.1.0"
    )
    # a request that started on the old model finishes on it
    assert old.run(zero_batch(old)).logits.shape == new.run(zero_batch(new)).logits.shape

    # v1.2.0 replaces 1.1.0: the cache keeps the serving and the previous version only
    registry.publish(variant(tmp_path, "1.2.0"), by="test")
    registry.promote("pneumonia", "1.2.0", by="test", force=True)
    tick.now = 20
    assert models.get("pneumonia", "u1").version == "1.2.0"
    registry.publish(variant(tmp_path, "1.3.0"), by="test")
    registry.promote("pneumonia", "1.3.0", by="test", force=True)
    tick.now = 30
    assert models.get("pneumonia", "u1").version == "1.3.0"
    cached = sorted(p.name for p in (Path(app.settings.model_cache_dir) / "pneumonia").iterdir())
    assert cached == ["1.2.0", "1.3.0"]


@pytest.mark.parametrize("damage", ["truncated", "tampered_in_store"])
def test_a_broken_version_is_never_swapped_in(
    app: App, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    tick = Tick()
    models = source(app, tick)
    assert models.get("pneumonia").version == BUNDLED_VERSION
    registry = models.registry
    if damage == "truncated":  # consistent manifest, but ONNX Runtime cannot load the file
        registry.publish(variant(tmp_path, "6.6.6", onnx=truncate), by="test")
    else:  # the object in the store was changed after publishing: sha256 no longer matches
        registry.publish(variant(tmp_path, "6.6.6"), by="test")
        key = version_key("pneumonia", "6.6.6", "model.onnx")
        registry.store.put(key, registry.store.get(key)[:-1] + b"\x00")
    registry.promote("pneumonia", "6.6.6", by="test", force=True)
    with caplog.at_level(logging.ERROR, logger="xiaofei"):
        tick.now = 10
        assert models.get("pneumonia").version == BUNDLED_VERSION
    assert any("refused" in r.getMessage() for r in caplog.records)
    tick.now = 20  # not retried: a broken package does not heal
    assert models.get("pneumonia").version == BUNDLED_VERSION
    assert not (Path(app.settings.model_cache_dir) / "pneumonia" / "6.6.6").exists()


def test_canary_takes_its_share_by_uid(app: App, tmp_path: Path) -> None:
    tick = Tick()
    models = source(app, tick)
    models.get("pneumonia")
    registry = models.registry
    registry.publish(variant(tmp_path, "3.0.0"), by="test")
    registry.promote("pneumonia", "3.0.0", by="test", force=True, canary_weight=0.3)
    tick.now = 10
    uids = [f"{i:032x}" for i in range(2000)]
    versions = [models.get("pneumonia", uid).version for uid in uids]
    share = versions.count("3.0.0") / len(uids)
    assert 0.26 < share < 0.34
    assert [models.get("pneumonia", uid).version for uid in uids[:100]] == versions[:100]  # stable
    assert models.status()["pneumonia"]["canary"] == "3.0.0"
    assert models.versions() == {"pneumonia": BUNDLED_VERSION}


def test_models_list_shows_the_serving_card_during_a_canary(app: App, tmp_path: Path) -> None:
    from xiaofei.usecases.models import list_models

    tick = Tick()
    models = source(app, tick)
    models.get("pneumonia")
    models.registry.publish(variant(tmp_path, "3.0.0"), by="test")
    models.registry.promote("pneumonia", "3.0.0", by="test", force=True, canary_weight=0.99)
    tick.now = 10
    # WHEN anonymous visitors read GET /models while 99 % of the traffic goes to the canary
    seen = {list_models(app)["models"][0]["version"] for _ in range(30)}
    # THEN they are told about the serving version, never the canary
    assert seen == {BUNDLED_VERSION}
    assert models.status()["pneumonia"]["canary"] == "3.0.0"


def test_pins_serve_exactly_the_pinned_version(tmp_path: Path) -> None:
    app = App(settings(tmp_path, models="pneumonia"))
    registry = Registry(app.store, bundled_dir=BUNDLED)
    registry.bootstrap("pneumonia")
    registry.publish(variant(tmp_path, "3.0.0"), by="test")
    registry.promote("pneumonia", "3.0.0", by="test", force=True, canary_weight=0.5)
    pinned = App(settings(tmp_path, models="pneumonia", model_pins="pneumonia=3.0.0"))
    assert {pinned.models.get("pneumonia", f"{i:032x}").version for i in range(50)} == {"3.0.0"}


def test_store_outage_keeps_serving_and_a_cold_start_uses_the_bundled_package(
    app: App, tmp_path: Path
) -> None:
    tick = Tick()
    models = source(app, tick)
    loaded = models.get("pneumonia")

    class Down:
        def __getattr__(self, name: str) -> object:
            def fail(*args: object, **kwargs: object) -> None:
                raise StorageUnavailable()

            return fail

    models.registry.store = Down()  # type: ignore[assignment]
    tick.now = 10
    assert models.get("pneumonia") is loaded

    cold = App(settings(tmp_path / "cold", models="pneumonia"))
    cold_models = cold.models
    assert isinstance(cold_models, RegistryModels)
    cold_models.registry.store = Down()  # type: ignore[assignment]
    assert cold_models.get("pneumonia").version == BUNDLED_VERSION


def test_local_disk_trouble_is_retried_at_the_next_refresh(app: App, tmp_path: Path) -> None:
    tick = Tick()
    models = source(app, tick)
    loaded = models.get("pneumonia")
    models.registry.publish(variant(tmp_path, "7.0.0"), by="test")
    models.registry.promote("pneumonia", "7.0.0", by="test", force=True)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    models.cache_dir = blocker  # the download cannot be written
    tick.now = 10
    assert models.get("pneumonia") is loaded
    models.cache_dir = tmp_path / "cache2"  # the disk is fine again: not remembered as a broken version
    tick.now = 20
    assert models.get("pneumonia").version == "7.0.0"
