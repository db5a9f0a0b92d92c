"""The registry over a real S3 endpoint (moto's server, virtual-hosted like COS): conditional writes
on the pointer and the lease really exclude each other, and the job runs the same as on a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry_kit import FakeClock, IgnoresIfMatchStore, race_pointer_writers, settings, variant
from tests.s3server import S3Settings
from xiaofei.adapters.rollout_scf import run_model_update
from xiaofei.app import App
from xiaofei.lifecycle.registry import Pointer, Registry
from xiaofei.lifecycle.update import acquire_lease
from xiaofei.storage.open import open_store

pytestmark = pytest.mark.slow  # runs the registry and the update job against the local S3 server


def test_pointer_writers_and_lease_over_s3(s3_settings: S3Settings, tmp_path: Path) -> None:
    registry = Registry(open_store(s3_settings.url), clock=FakeClock())
    registry.change_pointer("pneumonia", lambda p: Pointer("1.0.0"))
    marks = race_pointer_writers(registry, "pneumonia", writers=3, rounds=4)
    pointer = registry.pointer("pneumonia")
    assert pointer is not None
    assert sorted(pointer.reason.split()) == sorted(marks)

    assert acquire_lease(registry, "pneumonia") is not None
    assert acquire_lease(registry, "pneumonia") is None


def test_pointer_writers_over_s3_do_not_need_if_match(s3_settings: S3Settings) -> None:
    # GIVEN the S3 store over real HTTP, with If-Match dropped from every PUT (what a store that ignores
    # it does: COS documents only the create-only x-cos-forbid-overwrite)
    store = IgnoresIfMatchStore(open_store(s3_settings.url))
    registry = Registry(store, clock=FakeClock())  # type: ignore[arg-type]
    registry.change_pointer("pneumonia", lambda p: Pointer("1.0.0"))
    # WHEN three writers race over the network
    marks = race_pointer_writers(registry, "pneumonia", writers=3, rounds=4)
    # THEN no update is lost and the pointer never needed If-Match
    pointer = registry.pointer("pneumonia")
    assert pointer is not None and sorted(pointer.reason.split()) == sorted(marks)
    assert pointer.seq == 1 + len(marks) and store.if_match_keys == []


def test_the_job_over_s3(s3_settings: S3Settings, tmp_path: Path) -> None:
    app = App(settings(tmp_path, storage=s3_settings.url, models="pneumonia"))
    registry = app.registry
    serving = registry.bootstrap("pneumonia")
    assert serving is not None
    registry.publish(variant(tmp_path, "1.2.0"), by="test")
    summary = run_model_update(app, {"Type": "Timer", "TriggerName": "t"})
    assert summary["ok"] and summary["models"]["pneumonia"]["canary"]["version"] == "1.2.0", summary
    uids = [f"{i:032x}" for i in range(300)]
    # the serving side downloads the canary from S3, verifies it and routes a share of callers to it
    assert {app.models.get("pneumonia", uid).version for uid in uids} == {serving.version, "1.2.0"}
