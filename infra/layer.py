"""The dependency layer: pinned manylinux wheels → a stripped tree at the zip root → ``layer.zip``.

SCF unpacks layers to ``/opt`` and runs Python with ``PYTHONPATH=/var/user:/opt``, so the layer holds
what a site-packages folder would, at its root. Wheels are pinned per CPython version in
``infra/layer-lock-cp3XX.txt`` and cached in ``dist/wheels/cp3XX/`` (re-runs are offline); the layer
is rebuilt only when its inputs change (a stamp beside ``layer.zip``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from .zips import sha256_of, tree_files, write_zip

ROOT = Path(__file__).resolve().parent.parent
TARGET_PYTHON = "3.10"  # the SCF runtime serverless.yml names (Python3.10)

# manylinux tags pip may pick. onnxruntime and pillow publish only manylinux_2_27/2_28 wheels for the
# versions we pin, so the layer needs glibc >= the floor written to sizes.json.
PLATFORMS = (
    "manylinux2014_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_28_x86_64",
)

# Installed by onnxruntime's metadata but never imported when serving (logging helpers, the symbolic
# shape-inference and model tools). Leaving them out is checked by the smoke test (a real prediction).
NOT_SERVED = frozenset(
    {"coloredlogs", "humanfriendly", "sympy", "mpmath", "flatbuffers", "protobuf", "packaging"}
)


# --- which wheels ---------------------------------------------------------------------------------------


def cp_tag(python_version: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise ValueError(f"python version must look like 3.10, not {python_version!r}")
    return "cp" + python_version.replace(".", "")


def lock_path(python_version: str) -> Path:
    return ROOT / "infra" / f"layer-lock-{cp_tag(python_version)}.txt"


# The optional-dependency groups the layer ships with the serving dependencies: both clients offer DICOM,
# so pydicom and the pylibjpeg decoders of compressed DICOMs are in the cloud too.
LAYER_EXTRAS = ("dicom",)


def serving_requirements() -> list[str]:
    """The serving dependencies and the ``LAYER_EXTRAS`` groups, as pyproject.toml declares them (the only
    list of them)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the arrays are simple enough to read directly
        found = []
        for name in ("dependencies", *LAYER_EXTRAS):
            block = re.search(rf"^{name}\s*=\s*\[(.*?)\]", text, re.S | re.M)
            found += re.findall(r'"([^"]+)"', block[1]) if block else []
        return found
    project = tomllib.loads(text)["project"]
    extras = project.get("optional-dependencies", {})
    return [*project["dependencies"], *(r for group in LAYER_EXTRAS for r in extras.get(group, []))]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_version(filename: str) -> tuple[str, str]:
    parts = filename[: -len(".whl")].split("-")
    return normalise(parts[0]), parts[1]


def pip_download_args(python_version: str, dest: Path) -> list[str]:
    tag = cp_tag(python_version)
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
            "--abi", tag, "--abi", "abi3", "--abi", "none", "--dest", str(dest)]  # fmt: skip
    for platform in PLATFORMS:
        args += ["--platform", platform]
    return args


def resolve_lock(python_version: str) -> list[str]:
    """Resolve the serving requirements for a runtime (needs the package index). Another version than
    the target reuses the target's pins, so a layer built for it (the smoke test's) runs the same code."""
    same_as_target = python_version != TARGET_PYTHON and lock_path(TARGET_PYTHON).exists()
    requirements = read_lock(TARGET_PYTHON) if same_as_target else serving_requirements()
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--no-deps"] if same_as_target else []
        subprocess.run([*pip_download_args(python_version, Path(tmp)), *extra, *requirements], check=True)
        pins = {wheel_name_version(p.name) for p in Path(tmp).glob("*.whl")}
    return sorted(f"{name}=={version}" for name, version in pins if name not in NOT_SERVED)


def write_lock(python_version: str) -> Path:
    pins = resolve_lock(python_version)
    path = lock_path(python_version)
    header = (
        f"# The dependency layer for CPython {python_version} manylinux x86_64: pyproject.toml's serving\n"
        f"# dependencies resolved by `python -m infra.package lock --python-version {python_version}`,\n"
        "# without what serving never imports (infra/layer.py NOT_SERVED). Versions other than\n"
        f"# {TARGET_PYTHON} (the SCF runtime) take its pins, so their layer runs the same code.\n"
    )
    path.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return path


def read_lock(python_version: str) -> list[str]:
    path = lock_path(python_version)
    if not path.exists():
        raise SystemExit(f"{path.name} is missing: run `python -m infra.package lock --python-version X`")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def fetch_wheels(python_version: str, cache: Path) -> list[Path]:
    """The locked wheels, from the cache; only missing ones are downloaded (one pip call)."""
    cache.mkdir(parents=True, exist_ok=True)
    pins = [(normalise(n), v) for n, v in (pin.split("==") for pin in read_lock(python_version))]

    def cached() -> dict[tuple[str, str], Path]:
        return {wheel_name_version(p.name): p for p in cache.glob("*.whl")}

    missing = [f"{name}=={version}" for name, version in pins if (name, version) not in cached()]
    if missing:
        subprocess.run([*pip_download_args(python_version, cache), "--no-deps", *missing], check=True)
    have = cached()
    absent = [f"{name}=={version}" for name, version in pins if (name, version) not in have]
    if absent:
        raise SystemExit(f"no wheel for {', '.join(absent)} after download")
    return [have[pin] for pin in pins]


def glibc_floor(wheels: Iterable[Path]) -> str:
    """The newest glibc that any wheel's oldest manylinux tag needs: the runtime needs at least this."""
    floor = (2, 5)
    for wheel in wheels:
        versions = []
        for plat in wheel.name[: -len(".whl")].split("-")[-1].split("."):
            match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", plat)
            if match:
                versions.append((int(match[1]), int(match[2])))
            elif plat == "manylinux2014_x86_64":
                versions.append((2, 17))
        if versions:
            floor = max(floor, min(versions))
    return f"{floor[0]}.{floor[1]}"


# --- what to keep ---------------------------------------------------------------------------------------

# Folders never imported when serving. Not "docs": botocore.docs is a package botocore imports.
_DROP_DIRS = {"tests", "test", "__pycache__", "_examples", "f2py", "_pyinstaller"}
_DROP_SUFFIXES = {
    ".pyc",
    ".pyo",
    ".pyi",
    ".h",
    ".hpp",
    ".c",
    ".cc",
    ".cpp",
    ".pxd",
    ".pyx",
    ".a",
    ".md",
    ".rst",
}
_DROP_TOP = {"bin"}
# onnxruntime ships model tools beside the runtime; serving imports only onnxruntime/capi.
_ORT_DROP = {"tools", "transformers", "quantization", "datasets", "backend"}
# botocore/boto3 carry the models of ~400 services; the store needs S3 (and STS for role credentials).
_BOTO_SERVICES = {"s3", "sts"}
_DIST_INFO_KEEP = re.compile(r"^(METADATA|LICEN[CS]E.*|COPYING.*|NOTICE.*|AUTHORS.*|licenses/.*)$")


def keep_in_layer(rel: str) -> bool:
    """Whether a file (posix path relative to the layer root) is needed to serve."""
    parts = rel.split("/")
    top = parts[0]
    if top.endswith(".dist-info"):  # METADATA (importlib.metadata) and the licences: not RECORD & co
        return bool(_DIST_INFO_KEEP.match("/".join(parts[1:])))
    if top in _DROP_TOP or any(p in _DROP_DIRS for p in parts[:-1]):
        return False
    if PurePosixPath(rel).suffix in _DROP_SUFFIXES:
        return False
    if top == "onnxruntime" and len(parts) > 2 and parts[1] in _ORT_DROP:
        return False
    if top == "onnxruntime" and parts[-1].startswith("libonnxruntime.so"):
        # The C-API library (22 MB): the Python binding has the runtime linked in and never loads it.
        return False
    if top == "numpy" and parts[1:3] == ["_core", "lib"]:  # pkg-config and static libraries
        return False
    if top == "pydicom" and parts[1:3] == ["data", "test_files"]:  # pydicom's own sample files
        return False
    if top in ("botocore", "boto3") and parts[1:2] == ["data"] and len(parts) > 3:
        return parts[2] in _BOTO_SERVICES
    return True


def installed_path(name: str) -> str | None:
    """Where a wheel member goes in site-packages (None: not installed as a library file)."""
    if name.startswith("/") or ".." in PurePosixPath(name).parts:
        raise ValueError(f"unsafe path in wheel: {name}")
    parts = name.split("/")
    if parts[0].endswith(".data"):  # purelib/platlib install at the root; scripts, headers, data don't
        return "/".join(parts[2:]) if len(parts) > 2 and parts[1] in ("purelib", "platlib") else None
    return name


def unpack_wheel(wheel: Path, root: Path, keep: Callable[[str], bool] = keep_in_layer) -> tuple[int, int]:
    """Install a wheel's files under ``root`` as site-packages would hold them; returns (kept, dropped)."""
    kept = dropped = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = installed_path(info.filename)
            if rel is None or not keep(rel):
                dropped += 1
                continue
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            if (info.external_attr >> 16) & stat.S_IXUSR:
                target.chmod(0o755)
            kept += 1
    return kept, dropped


_COMPILE = """
import py_compile, sys
from pathlib import Path
root, checked = Path(sys.argv[1]), sys.argv[2] == "checked"
modes = py_compile.PycInvalidationMode
mode = modes.CHECKED_HASH if checked else modes.UNCHECKED_HASH
sources = sorted(root.rglob("*.py"))
for source in sources:
    name = source.relative_to(root).as_posix()
    py_compile.compile(str(source), dfile=name, doraise=True, invalidation_mode=mode)
print(len(sources))
"""


def target_interpreter(python_version: str) -> str | None:
    """A CPython of the target version: this one, or ``python3.X`` on the PATH (None: there is none)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == python_version:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if found is None:
        return None
    try:  # a pyenv shim may exist for a version that is not installed
        probe = subprocess.run([found, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 and probe.stdout.strip() == python_version else None


def compile_tree(root: Path, python_version: str, *, checked: bool) -> int:
    """Add ``__pycache__`` bytecode, compiled by a CPython of the target version when there is one.

    SCF's code and layer folders are read-only and it sets PYTHONDONTWRITEBYTECODE, so without them
    every cold start compiles every module it imports (benchmarks/cold_start.py measures the cost).
    Hash-based pycs carry no mtime, so the zips stay byte-identical; ``checked`` ones are revalidated
    against their source (code packages: the console may edit a .py), unchecked ones are not (the
    layer, which nobody edits). Returns the number of modules compiled (0: no such interpreter).
    """
    python = target_interpreter(python_version)
    if python is None:
        return 0
    done = subprocess.run([python, "-I", "-c", _COMPILE, str(root), "checked" if checked else "unchecked"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return int(done.stdout.strip() or 0)


# --- the build ------------------------------------------------------------------------------------------


def _stamp(python_version: str) -> str:
    """What the layer depends on: the lock, these rules, and whether bytecode can be added."""
    digest = hashlib.sha256()
    digest.update(lock_path(python_version).read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update((ROOT / "infra" / "zips.py").read_bytes())
    python = target_interpreter(python_version)
    compiler = "none"
    if python is not None:  # the exact release that writes the pycs (their bytes may differ between releases)
        probe = [python, "-I", "-c", "import platform; print(platform.python_version())"]
        compiler = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    digest.update(f"{python_version}/{compiler}".encode())
    return digest.hexdigest()


def build_layer(python_version: str, out: Path, wheels_dir: Path, work: Path) -> dict[str, Any]:
    """``out/layer.zip`` (reused when its inputs are unchanged) and facts about it for sizes.json."""
    stamp_file = out / "layer.stamp.json"
    stamp = _stamp(python_version)
    if stamp_file.exists() and (out / "layer.zip").exists():
        previous = json.loads(stamp_file.read_text(encoding="utf-8"))
        if previous.get("stamp") == stamp and (work / "layer").is_dir():
            return {**previous["info"], "reused": True}
    wheels = fetch_wheels(python_version, wheels_dir)
    tree = work / "layer"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    dropped = sum(unpack_wheel(wheel, tree)[1] for wheel in wheels)
    compiled = compile_tree(tree, python_version, checked=False)
    write_zip(out / "layer.zip", tree_files(tree))
    info = {
        "wheels": [{"file": w.name, "sha256": sha256_of(w)} for w in wheels],
        "glibc_floor": glibc_floor(wheels),
        "files_dropped": dropped,
        "bytecode_files": compiled,
    }
    stamp_file.write_text(json.dumps({"stamp": stamp, "info": info}, indent=2) + "\n", encoding="utf-8")
    return {**info, "reused": False}
