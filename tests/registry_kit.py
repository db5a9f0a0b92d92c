"""Helpers for the registry, gate, model-update and rollout tests: model package variants made from the
bundled packages (copy, then edit the manifest or the ONNX graph), a store that fails on demand, a clock
the test moves by hand, concurrent pointer writers (run on a folder and on S3 alike)."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from xiaofei.config import Settings
from xiaofei.errors import StorageUnavailable
from xiaofei.lifecycle.registry import Pointer, Registry
from xiaofei.storage.open import ObjectStore

REPO = Path(__file__).resolve().parent.parent


def _bundled_with_golden() -> tuple[Path, bool]:
    """The bundled packages as the registry tests see them, and whether pneumonia has a golden set.

    No golden set ships for pneumonia (its films may not be redistributed), so the evaluation gate would
    refuse every pneumonia candidate. Where shared/data is here, the tests give it the golden set an
    operator would upload (``python -m model.pipeline golden``), in a temp copy of model/ (links)."""
    from model.pipeline import bundled, realsets

    given = os.environ.get("XIAOFEI_TEST_BUNDLED_DIR")
    source = Path(given) if given else REPO / "model"
    if (source / "pneumonia" / "golden" / "index.json").is_file():
        return source, True
    data = realsets.shared_data()
    if data is None:
        return source, False
    root = Path(tempfile.mkdtemp(prefix="xiaofei-bundled-"))
    atexit.register(shutil.rmtree, root, True)
    for name in ("pneumonia", "skin"):
        (root / name).mkdir()
        for item in (source / name).iterdir():
            (root / name / item.name).symlink_to(item.resolve(), target_is_directory=item.is_dir())
    bundled.write_golden(data, root / "pneumonia" / "golden", per_class=12)
    return root, True


# The bundled packages (another folder can be named for trying a freshly built pipeline output).
BUNDLED, PNEUMONIA_GOLDEN = _bundled_with_golden()
needs_pneumonia_golden = pytest.mark.skipif(
    not PNEUMONIA_GOLDEN, reason="no golden set for pneumonia: it is made from ../shared/data (absent)"
)


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    """The shared test settings, with the bundled packages above."""
    return make_settings(tmp_path, bundled_models_dir=str(BUNDLED), **overrides)


class FakeClock:
    """Wall-clock seconds that move only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FaultyStore:
    """An ObjectStore that raises ``StorageUnavailable`` on the writes ``fail_on(key) -> bool`` picks."""

    def __init__(self, inner: ObjectStore, fail_on: Callable[[str], bool]) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.failures = 0

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **kw: Any) -> str:
        if self.fail_on(key):
            self.failures += 1
            raise StorageUnavailable()
        return self.inner.put(key, data, content_type, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class IgnoresIfMatchStore:
    """An ObjectStore that drops ``if_match`` (a replacing PUT always succeeds), as a store that does not
    honour ``If-Match`` on PUT would: COS documents only ``x-cos-forbid-overwrite``. It records every
    conditional write it saw, so a test can also check nothing relied on ``if_match``."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.if_match_keys: list[str] = []

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **kw: Any) -> str:
        if kw.pop("if_match", None) is not None:
            self.if_match_keys.append(key)
        return self.inner.put(key, data, content_type, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def race_pointer_writers(registry: Registry, name: str, *, writers: int, rounds: int) -> list[str]:
    """Run ``writers`` threads that each append ``rounds`` marks ("i.j") to the pointer's reason through
    ``change_pointer``; the marks written. With real conditional writes all of them end up in the reason."""

    def writer(i: int) -> None:
        for j in range(rounds):

            def add_mark(p: Pointer | None, mark: str = f"{i}.{j}") -> Pointer:
                assert p is not None
                return replace(p, reason=(p.reason + " " + mark).strip())

            registry.change_pointer(name, add_mark, attempts=200)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [f"{i}.{j}" for i in range(writers) for j in range(rounds)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data


def write_manifest(folder: Path, manifest: dict[str, Any], *, reseal: bool = True) -> None:
    """Write the manifest; ``reseal`` records model.onnx's real sha256 in it (as the pipeline does)."""
    if reseal:
        manifest["sha256"] = sha256(folder / "model.onnx")
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))


def variant(
    dest: Path,
    version: str,
    *,
    name: str = "pneumonia",
    manifest: Callable[[dict[str, Any]], None] | None = None,
    onnx: Callable[[Path, dict[str, Any]], None] | None = None,
    reseal: bool = True,
) -> Path:
    """A copy of the bundled package ``name`` as ``version``, edited by ``manifest`` / ``onnx``."""
    folder = dest / f"{name}-{version}"
    shutil.copytree(
        BUNDLED / name, folder, ignore=shutil.ignore_patterns("golden", "train", "samples", "*.png")
    )
    data = manifest_of(folder)
    data["version"] = version
    if onnx is not None:
        onnx(folder / "model.onnx", data)
    if manifest is not None:
        manifest(data)
    write_manifest(folder, data, reseal=reseal)
    return folder


def fake_package(dest: Path, name: str, version: str) -> Path:
    """A package with a manifest that names itself and a model.onnx that is not a model (pointer tests)."""
    folder = dest / f"fake-{name}-{version}"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(f"not a model {name} {version}".encode())
    (folder / "manifest.json").write_text(json.dumps({"name": name, "version": version}))
    return folder


def classifier_initializer(model: Any, classes: int) -> Any:
    """The [classes, C] weight matrix of the final linear layer (a Gemm's B or a MatMul's [C, classes])."""
    from onnx import numpy_helper

    candidates = []
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.ndim == 2 and classes in array.shape:
            candidates.append((init, array))
    assert candidates, "no classifier weights found in the graph"
    return candidates[-1]


def degrade_onnx(mix: float = 0.6) -> Callable[[Path, dict[str, Any]], None]:
    """An ``onnx`` edit that blends each class's classifier weights with the next class's
    (``(1 - mix) · w_c + mix · w_{c+1}``; the manifest's CAM copy follows), so the model confuses
    neighbouring classes — a worse but still valid, consistent package. Deterministic."""

    def edit(path: Path, manifest: dict[str, Any]) -> None:
        import numpy as np
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        classes = len(manifest["labels"])
        init, array = classifier_initializer(model, classes)
        axis = 0 if array.shape[0] == classes else 1
        mixed = ((1 - mix) * array + mix * np.roll(array, -1, axis=axis)).astype(array.dtype)
        init.CopyFrom(numpy_helper.from_array(mixed, init.name))
        onnx.save(model, str(path))
        manifest["cam"]["weights"] = (mixed if axis == 0 else mixed.T).astype(float).tolist()

    return edit


def set_input_dims(dims: list[int]) -> Callable[[Path, dict[str, Any]], None]:
    """An ``onnx`` edit that declares another input shape [N, C, H, W] (the graph itself is unchanged)."""

    def edit(path: Path, manifest: dict[str, Any]) -> None:
        import onnx

        model = onnx.load(str(path))
        graph_input = next(i for i in model.graph.input if i.name == manifest["input"]["name"])
        for dim, value in zip(graph_input.type.tensor_type.shape.dim[1:], dims[1:], strict=True):
            dim.ClearField("dim_param")
            dim.dim_value = value
        onnx.save(model, str(path))

    return edit


def truncate(path: Path, manifest: dict[str, Any]) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
