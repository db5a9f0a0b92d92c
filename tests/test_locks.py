"""The pins: one lock per environment (the serving layer, development), the development one held to the
layer's versions, torch's CPU build named, and ``make run`` installing only what serving needs."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from infra.devlock import dev_lock_path, read_pins, torch_pin
from infra.layer import LAYER_EXTRAS, lock_path, normalise, serving_requirements

ROOT = Path(__file__).resolve().parent.parent
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"
MAKEFILE = (ROOT / "Makefile").read_text()


def _name(requirement: str) -> str:
    return normalise(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])


@pytest.mark.parametrize("python_version", ["3.10", "3.11"])
def test_layer_lock_pins_every_serving_requirement_and_the_dicom_extra(python_version: str) -> None:
    pins = read_pins(lock_path(python_version))
    assert "dicom" in LAYER_EXTRAS
    for requirement in serving_requirements():
        assert _name(requirement) in pins, f"{requirement} is not in the {python_version} layer lock"
    assert {"pydicom", "pylibjpeg", "pylibjpeg-openjpeg", "pylibjpeg-libjpeg"} <= set(pins)
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+]*", v) for v in pins.values())  # exact versions only


def test_layer_locks_agree_across_python_versions() -> None:
    assert read_pins(lock_path("3.10")) == read_pins(lock_path("3.11"))


def test_dev_lock_is_held_to_the_layer_and_names_torchs_cpu_build() -> None:
    dev_lock = dev_lock_path(HERE)
    assert dev_lock.exists(), f"no dev lock for CPython {HERE}: python -m infra.devlock"
    dev, layer = read_pins(dev_lock), read_pins(lock_path(HERE))
    # every package the cloud runs is tested at the cloud's version
    assert {name: dev.get(name) for name in layer} == layer
    assert dev["torch"] == torch_pin().split("==")[1] and dev["torch"].endswith("+cpu")
    assert {"pytest", "moto", "mypy", "ruff", "playwright", "onnx"} <= set(dev)


def test_this_environment_is_the_locked_one() -> None:
    # The venv make test built: the serving packages at the layer's versions (not whatever is newest)
    layer = read_pins(lock_path(HERE))
    for name in ("numpy", "pillow", "boto3", "onnxruntime", "pydicom"):
        assert metadata.version(name) == layer[name], name


def _recipe(target: str) -> tuple[str, str]:
    match = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", MAKEFILE, re.M)
    assert match, target
    return match[1], match[2]


def test_make_run_installs_only_what_serving_needs() -> None:
    prerequisites, _ = _recipe("run")
    assert prerequisites.split() == ["$(SERVE_STAMP)"]
    _, recipe = _recipe("$(SERVE_STAMP)")
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert installs and all("--no-deps" in line for line in installs)
    assert any("-r $(LAYER_LOCK)" in line for line in installs)
    assert not re.search(r"\[(dev|train)", recipe)  # no extras: no torch, no test tools
    _, dev_recipe = _recipe("$(STAMP)")
    assert "-r $(DEV_LOCK) -c $(LAYER_LOCK)" in dev_recipe
