"""The development environment's lock: every package ``make test`` installs, pinned, constrained to the
serving layer's pins (so tests run against the versions the cloud runs), torch's CPU build named.

    python -m infra.devlock            # re-resolve infra/dev-lock-cp3XX.txt for this Python (a few minutes)

How it resolves: a throw-away venv installs ``.[dev,train,scf]`` with the layer lock of this Python as
constraints (``-c infra/layer-lock-cp3XX.txt``) and ``torch==<train pin>+cpu``, then ``pip freeze``.
The locks: ``infra/layer-lock-cp3XX.txt`` for serving (the layer, and ``make run``) and
``infra/dev-lock-cp3XX.txt`` for development (``make test``); one each per CPython version, because wheels
and requirements differ between versions (numpy 2.3 needs 3.11, for one).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .layer import cp_tag, lock_path, normalise

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = "dev,train,scf"
# The PyTorch build the model pipeline uses: CPU only (a bare version picks a multi-GB CUDA build where
# the index offers one). pip finds it on PyTorch's CPU index or in a local wheel folder (find-links).
TORCH_LOCAL = "+cpu"


def this_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def dev_lock_path(python_version: str) -> Path:
    return ROOT / "infra" / f"dev-lock-{cp_tag(python_version)}.txt"


def torch_pin() -> str:
    """The train extra's torch pin with the CPU local version, e.g. ``torch==2.13.0+cpu``."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'"torch==([0-9.]+)"', text)
    if not match:
        raise SystemExit("pyproject.toml's train extra must pin torch==X.Y.Z")
    return f"torch=={match[1]}{TORCH_LOCAL}"


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def resolve(python_version: str) -> list[str]:
    layer = lock_path(python_version)
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-c", str(layer), torch_pin(), f"{ROOT}[{EXTRAS}]"], check=True)
        frozen = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable", "--all"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    pins = []
    for line in frozen.splitlines():
        name = line.split("==", 1)[0]
        if "==" in line and normalise(name) not in {"xiaofei", "pip", "setuptools", "wheel"}:
            pins.append(line.strip())
    return sorted(pins, key=lambda p: normalise(p.split("==")[0]))


def write(python_version: str) -> Path:
    pins = resolve(python_version)
    path = dev_lock_path(python_version)
    header = (
        f"# Development environment for CPython {python_version} (make test): pyproject.toml's\n"
        f"# .[{EXTRAS}] resolved by `python -m infra.devlock` with {lock_path(python_version).name} as\n"
        "# constraints (the serving pins are the layer's) and torch's CPU build named explicitly.\n"
    )
    path.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    if this_python() not in ("3.10", "3.11", "3.12", "3.13"):
        raise SystemExit(f"unsupported Python {this_python()}")
    print(f"wrote {write(this_python())}")
