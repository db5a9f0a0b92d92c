"""Build what Tencent SCF runs, reproducibly, for CPython 3.10 manylinux x86_64 on any machine.

``make package`` (``python -m infra.package``) writes, from ``serverless.yml`` (the one source of truth
for functions, handlers and environment):

* ``dist/functions/<name>.zip``  one code zip per function: ``index.py`` (its entry point), the
  ``xiaofei`` package and the model packages it serves (``xiaofei/models/<model>/``, where
  ``xiaofei.config`` looks for bundled models).
* ``dist/layer.zip``             the dependency layer: onnxruntime, numpy, pillow, boto3, pyjwt, unpacked
  from manylinux wheels at the zip root (SCF unpacks layers to ``/opt``; ``PYTHONPATH=/var/user:/opt``),
  stripped of what serving never touches.
* ``dist/scf/``                  the multi-scf ``src`` folder: the union of the code zips, each entry
  point as ``<function>.py`` (multi-scf uploads one folder for all its functions).
* ``miniprogram/cloudfunctions/`` the CloudBase variant: one folder per function with ``config.json``
  (timer triggers), ``requirements.txt`` and a ``cloudbaserc.json`` for the CloudBase CLI.
* ``dist/sizes.json`` and a printed table; the build fails when a budget is exceeded.

Zips are deterministic: sorted entries, a fixed timestamp, fixed permissions, fixed compression.
Wheels are pinned in ``infra/layer-lock-cp3XX.txt`` and cached in ``dist/wheels/cp3XX/``, so a re-run
is offline. ``--python-version 3.11`` builds the same thing for CPython 3.11 (CloudBase's recommended
runtime, and the interpreter this repository's smoke test can run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import py_compile
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"
TARGET_PYTHON = "3.10"  # the SCF runtime serverless.yml names (Python3.10)

MB = 1024 * 1024
FUNCTION_ZIP_BUDGET = 10 * MB  # the console can still edit a package this small
LAYER_ZIP_BUDGET = 50 * MB
UNZIPPED_BUDGET = 500 * MB  # code + layers of one function version

# manylinux tags pip may pick, oldest first. onnxruntime and pillow publish only manylinux_2_27/2_28
# wheels for the versions we pin, so the layer needs glibc >= the floor written to sizes.json.
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

# Which parts of a model package a function ships. predict serves the models; model_update publishes
# the bundled versions to a fresh store (and evaluates against them); history serves no model.
MODEL_FILES: dict[str, tuple[str, ...]] = {
    "predict": ("model.onnx", "manifest.json"),
    "model_update": ("model.onnx", "manifest.json"),
    "history": (),
}

# A fixed timestamp for every zip entry (the earliest a zip can hold): byte-identical rebuilds.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# --- serverless.yml: the source of truth ----------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str  # "<module>.<function>" as multi-scf sees it (module = the function's name)
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    models: tuple[str, ...]

    @property
    def entry_point(self) -> Path:
        return ROOT / "functions" / self.name / "index.py"


@dataclass(frozen=True)
class Deployment:
    runtime: str
    functions: tuple[FunctionSpec, ...]
    triggers: tuple[dict[str, Any], ...]

    def function(self, name: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.name == name:
                return spec
        raise KeyError(name)


def load_deployment(path: Path = SERVERLESS_YML) -> Deployment:
    import yaml  # a build-time dependency (dev extra); serving never reads serverless.yml

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    inputs = doc["inputs"]
    functions = []
    for name, body in inputs["functions"].items():
        env = {str(k): str(v) for k, v in ((body.get("environment") or {}).get("variables") or {}).items()}
        served = tuple(m.strip() for m in env.get("XIAOFEI_MODELS", "").split(",") if m.strip())
        functions.append(
            FunctionSpec(
                name=name,
                handler=str(body["handler"]),
                memory_mb=int(body.get("memorySize", inputs.get("memorySize", 128))),
                timeout_s=int(body.get("timeout", inputs.get("timeout", 3))),
                environment=env,
                models=served if MODEL_FILES.get(name) else (),
            )
        )
    return Deployment(
        runtime=str(inputs["runtime"]),
        functions=tuple(functions),
        triggers=tuple(inputs.get("triggers") or ()),
    )


# --- deterministic zips -----------------------------------------------------------------------------


def _mode_for(path: PurePosixPath, executable: bool) -> int:
    return 0o755 if executable or path.suffix == ".so" or ".so." in path.name else 0o644


def write_zip(target: Path, files: Iterable[tuple[str, Path]]) -> None:
    """Zip ``(archive name, source file)`` pairs: sorted, fixed time and modes, deflate level 9."""
    entries = sorted(files, key=lambda item: item[0])
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate entries in {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the modes below are honoured when unpacked
            executable = bool(source.stat().st_mode & stat.S_IXUSR)
            info.external_attr = (stat.S_IFREG | _mode_for(PurePosixPath(name), executable)) << 16
            zf.writestr(info, source.read_bytes(), compresslevel=9)
    tmp.replace(target)


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """Every file under ``root`` as ``(posix relative path, path)``."""
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*")) if p.is_file()]


def unzipped_size(path: Path) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        return sum(i.file_size for i in infos), len(infos)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the layer: wheels → stripped tree → zip --------------------------------------------------------


def cp_tag(python_version: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise ValueError(f"python version must look like 3.10, not {python_version!r}")
    return "cp" + python_version.replace(".", "")


def lock_path(python_version: str) -> Path:
    return ROOT / "infra" / f"layer-lock-{cp_tag(python_version)}.txt"


def serving_requirements() -> list[str]:
    """The serving dependencies, as pyproject.toml declares them (the only list of them)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the [project] dependencies array is simple enough to read directly
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        return re.findall(r'"([^"]+)"', block[1]) if block else []
    return list(tomllib.loads(text)["project"]["dependencies"])


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_version(filename: str) -> tuple[str, str]:
    parts = filename[: -len(".whl")].split("-")
    return normalise(parts[0]), parts[1]


def pip_download_args(python_version: str, dest: Path) -> list[str]:
    tag = cp_tag(python_version)
    args = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--abi",
        tag,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "--dest",
        str(dest),
    ]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    return args


def resolve_lock(python_version: str) -> list[str]:
    """Resolve the serving requirements for the target runtime (needs the package index). Another
    version reuses the target's pins, so a layer built for it (the smoke test's) runs the same code."""
    target_lock = lock_path(TARGET_PYTHON)
    same_as_target = python_version != TARGET_PYTHON and target_lock.exists()
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
        "# without what serving never imports (infra/package.py NOT_SERVED). Versions other than\n"
        f"# {TARGET_PYTHON} (the SCF runtime) take its pins, so their layer runs the same code.\n"
    )
    path.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return path


def read_lock(python_version: str) -> list[str]:
    path = lock_path(python_version)
    if not path.exists():
        raise SystemExit(
            f"{path.name} is missing: run `python -m infra.package lock --python-version {python_version}`"
        )
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def fetch_wheels(python_version: str, cache: Path) -> list[Path]:
    """The locked wheels, from the cache; only missing ones are downloaded (one pip call)."""
    cache.mkdir(parents=True, exist_ok=True)
    pins = [
        (normalise(name), version) for name, version in (pin.split("==") for pin in read_lock(python_version))
    ]

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
    """The newest glibc any wheel's best-supported manylinux tag needs (the runtime needs at least this)."""
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


_DROP_DIRS = {
    "tests",
    "test",
    "testing_data",
    "__pycache__",
    "include",
    "_examples",
    "f2py",
    "_pyinstaller",
    "doc",
    "docs",
    "benchmarks",
}
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
    if top.endswith(".dist-info"):
        return bool(_DIST_INFO_KEEP.match("/".join(parts[1:])))
    if top in _DROP_TOP or any(p in _DROP_DIRS for p in parts[:-1]):
        return False
    if PurePosixPath(rel).suffix in _DROP_SUFFIXES:
        return False
    if top == "onnxruntime" and len(parts) > 2 and parts[1] in _ORT_DROP:
        return False
    if top == "onnxruntime" and parts[-1].startswith("libonnxruntime.so"):
        # The C-API library (22 MB): the Python binding links the runtime in and never loads it.
        return False
    if top == "numpy" and parts[1:2] == ["_core"] and parts[2:3] == ["lib"]:  # pkg-config, static libs
        return False
    if top in ("botocore", "boto3") and parts[1:2] == ["data"] and len(parts) > 3:
        return parts[2] in _BOTO_SERVICES
    return True


def unpack_wheel(wheel: Path, root: Path, keep: Callable[[str], bool] = keep_in_layer) -> tuple[int, int]:
    """Install a wheel's files under ``root`` as site-packages would hold them; returns (kept, dropped)."""
    kept = dropped = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = _installed_path(info.filename)
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


def _installed_path(name: str) -> str | None:
    if ".." in PurePosixPath(name).parts or name.startswith("/"):
        raise ValueError(f"unsafe path in wheel: {name}")
    parts = name.split("/")
    if parts[0].endswith(".data"):  # purelib/platlib install at the root; scripts, headers, data don't
        return "/".join(parts[2:]) if len(parts) > 2 and parts[1] in ("purelib", "platlib") else None
    return name


def compile_tree(root: Path, python_version: str, *, checked: bool) -> int:
    """Add ``__pycache__`` bytecode when this interpreter is the target version. SCF's code and layer
    folders are read-only and it sets PYTHONDONTWRITEBYTECODE, so without them every cold start compiles
    every module it imports. Hash-based pycs carry no mtime (the zips stay byte-identical); ``checked``
    ones are revalidated against their source (code packages: the console may edit a .py), unchecked
    ones are not (the layer, which nobody edits)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" != python_version:
        return 0
    mode = (
        py_compile.PycInvalidationMode.CHECKED_HASH
        if checked
        else py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    count = 0
    for source in sorted(root.rglob("*.py")):
        py_compile.compile(
            str(source), dfile=source.relative_to(root).as_posix(), doraise=True, invalidation_mode=mode
        )
        count += 1
    return count


def build_layer(python_version: str, out: Path, wheels_dir: Path, work: Path) -> dict[str, Any]:
    wheels = fetch_wheels(python_version, wheels_dir)
    tree = work / "layer"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    dropped = 0
    for wheel in wheels:
        dropped += unpack_wheel(wheel, tree)[1]
    compiled = compile_tree(tree, python_version, checked=False)
    write_zip(out / "layer.zip", tree_files(tree))
    return {
        "wheels": [{"file": w.name, "sha256": sha256_of(w)} for w in wheels],
        "glibc_floor": glibc_floor(wheels),
        "files_dropped": dropped,
        "bytecode_files": compiled,
        "tree": str(tree),
    }


# --- code packages ------------------------------------------------------------------------------------


def package_files(skip: Callable[[Path], bool] | None = None) -> list[tuple[str, Path]]:
    """The ``xiaofei`` package as it is installed: modules, py.typed and package data (static/)."""
    pkg = ROOT / "xiaofei"
    files = []
    for path in sorted(pkg.rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if path.suffix == ".py" or path.name == "py.typed" or "static" in path.relative_to(pkg).parts[:1]:
            files.append((rel, path))
    return files


def model_dir(name: str) -> Path:
    return ROOT / "model" / name


def model_files(spec: FunctionSpec, optimized: dict[str, Path]) -> list[tuple[str, Path]]:
    files = []
    for model in spec.models:
        for part in MODEL_FILES.get(spec.name, ()):
            source = optimized.get(f"{model}/{part}") or model_dir(model) / part
            if not source.is_file():
                raise SystemExit(
                    f"{spec.name} serves model '{model}' but {source} is missing (make demo-models?)"
                )
            files.append((f"xiaofei/models/{model}/{part}", source))
    return files


def stage_code(spec: FunctionSpec, staging: Path, entry_name: str, optimized: dict[str, Path]) -> None:
    """Copy one function's code (or add it to the multi-scf union folder) under ``staging``."""
    for rel, source in [(entry_name, spec.entry_point), *package_files(), *model_files(spec, optimized)]:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)


def optimize_models(deployment: Deployment, work: Path) -> dict[str, Path]:
    """Pre-optimised ONNX graphs: see ``optimize_model``. Returns {"<model>/<file>": path}."""
    out: dict[str, Path] = {}
    names = sorted({m for spec in deployment.functions for m in spec.models})
    for name in names:
        result = optimize_model(model_dir(name), work / "onnx" / name)
        if result is not None:
            out[f"{name}/model.onnx"], out[f"{name}/manifest.json"] = result
    return out


def optimize_model(package: Path, out_dir: Path) -> tuple[Path, Path] | None:
    """Save the graph ONNX Runtime makes at ORT_ENABLE_EXTENDED (fusions that are not CPU-specific), and
    the manifest with that file's sha256, which is all ``OnnxModel.load`` checks. The function then
    loads a graph that needs little rewriting. The original's sha256 is kept as ``source_sha256``."""
    import onnxruntime as ort

    source, manifest_path = package / "model.onnx", package / "manifest.json"
    if not source.is_file() or not manifest_path.is_file():
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "model.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["source_sha256"] = manifest.get("sha256")
    manifest["sha256"] = sha256_of(target)
    manifest["optimized"] = {"by": f"onnxruntime {ort.__version__}", "level": "ORT_ENABLE_EXTENDED"}
    out_manifest = out_dir / "manifest.json"
    out_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target, out_manifest


def build_code(
    deployment: Deployment, out: Path, work: Path, python_version: str, optimized: dict[str, Path]
) -> dict[str, Any]:
    info: dict[str, Any] = {}
    union = out / "scf"
    shutil.rmtree(union, ignore_errors=True)
    for spec in deployment.functions:
        staging = work / "functions" / spec.name
        shutil.rmtree(staging, ignore_errors=True)
        stage_code(spec, staging, "index.py", optimized)
        info[spec.name] = {
            "bytecode_files": compile_tree(staging, python_version, checked=True),
            "tree": str(staging),
        }
        write_zip(out / "functions" / f"{spec.name}.zip", tree_files(staging))
        stage_code(spec, union, f"{spec.handler.split('.')[0]}.py", optimized)
    compile_tree(union, python_version, checked=True)
    write_zip(out / "scf.zip", tree_files(union))
    return info


# --- the CloudBase variant --------------------------------------------------------------------------


def write_cloudbase(deployment: Deployment, out: Path, target: Path, python_version: str) -> None:
    """One folder per function, unpacked from its code zip, plus what CloudBase reads beside it."""
    shutil.rmtree(target, ignore_errors=True)
    runtime = "Python" + python_version
    requirements = "".join(pin + "\n" for pin in read_lock(python_version))
    rc_functions = []
    for spec in deployment.functions:
        folder = target / spec.name
        with zipfile.ZipFile(out / "functions" / f"{spec.name}.zip") as zf:
            zf.extractall(folder)
        timers = [
            _cloudbase_timer(t)
            for t in deployment.triggers
            if t.get("type") == "timer" and t.get("function") == spec.name
        ]
        config: dict[str, Any] = {"permissions": {"openapi": []}}
        if timers:
            config["triggers"] = timers[:1]  # CloudBase allows one trigger per function
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
        rc_functions.append(
            {
                "name": spec.name,
                "handler": "index.main_handler",
                "runtime": runtime,
                "memorySize": spec.memory_mb,
                "timeout": min(spec.timeout_s, 900),
                "installDependency": True,  # or bind dist/layer.zip as a layer and set this to false
                "envVariables": {k: _cloudbase_env(v) for k, v in spec.environment.items()},
                "triggers": config.get("triggers", []),
            }
        )
    rc = {"version": "2.0", "envId": "{{env.ENV_ID}}", "functionRoot": "./", "functions": rc_functions}
    (target / "cloudbaserc.json").write_text(
        json.dumps(rc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (target / ".gitignore").write_text("# generated by make package\n*\n", encoding="utf-8")
    (target / "README.md").write_text(
        "Generated by `make package` from serverless.yml: do not edit. See docs/DEPLOY.md.\n",
        encoding="utf-8",
    )


def _cloudbase_timer(trigger: dict[str, Any]) -> dict[str, str]:
    params = trigger.get("parameters") or {}
    return {
        "name": str(params.get("name", "timer")),
        "type": "timer",
        "config": str(params["cronExpression"]),
    }


def _cloudbase_env(value: str) -> str:
    # ${env:NAME} (Serverless Framework) → {{env.NAME}} (CloudBase CLI reads .env the same way)
    return re.sub(r"\$\{env:([A-Za-z0-9_]+)\}", r"{{env.\1}}", value)


# --- budgets and the size table ---------------------------------------------------------------------


@dataclass
class Artifact:
    name: str
    kind: str  # function | layer | multi-scf
    zip_bytes: int
    unzipped_bytes: int
    files: int
    sha256: str
    zip_budget: int | None
    problems: list[str] = field(default_factory=list)


def measure(path: Path, name: str, kind: str, budget: int | None) -> Artifact:
    unzipped, files = unzipped_size(path)
    artifact = Artifact(name, kind, path.stat().st_size, unzipped, files, sha256_of(path), budget)
    if budget is not None and artifact.zip_bytes > budget:
        artifact.problems.append(f"{name}: {artifact.zip_bytes / MB:.1f} MB zipped > {budget / MB:.0f} MB")
    return artifact


def check_budgets(artifacts: list[Artifact], layer: Artifact | None) -> list[str]:
    problems = [p for a in artifacts for p in a.problems]
    if layer is not None:
        for code in artifacts:
            if code.kind == "layer":
                continue
            total = code.unzipped_bytes + layer.unzipped_bytes
            if total > UNZIPPED_BUDGET:
                problems.append(
                    f"{code.name} + layer: {total / MB:.0f} MB unzipped > {UNZIPPED_BUDGET / MB:.0f} MB"
                )
    return problems


def size_table(artifacts: list[Artifact], layer: Artifact | None) -> str:
    rows = [("artifact", "zipped", "unzipped", "files", "budget", "+ layer unzipped")]
    for a in artifacts:
        with_layer = (
            ""
            if a.kind == "layer" or layer is None
            else f"{(a.unzipped_bytes + layer.unzipped_bytes) / MB:.1f} MB"
        )
        budget = f"≤ {a.zip_budget / MB:.0f} MB" if a.zip_budget else ""
        rows.append(
            (
                a.name,
                f"{a.zip_bytes / MB:.2f} MB",
                f"{a.unzipped_bytes / MB:.1f} MB",
                str(a.files),
                budget,
                with_layer,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the build ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildOptions:
    python_version: str = TARGET_PYTHON
    out: Path | None = None
    layer: bool = True
    cloudbase: Path | None = ROOT / "miniprogram" / "cloudfunctions"
    optimize_onnx: bool = True

    @property
    def out_dir(self) -> Path:
        if self.out is not None:
            return self.out
        return (
            ROOT / "dist"
            if self.python_version == TARGET_PYTHON
            else ROOT / "dist" / f"py{self.python_version}"
        )

    @property
    def wheels_dir(self) -> Path:
        return ROOT / "dist" / "wheels" / cp_tag(self.python_version)


def build(options: BuildOptions, report: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    deployment = load_deployment()
    out = options.out_dir
    work = out / "build"
    out.mkdir(parents=True, exist_ok=True)
    optimized = optimize_models(deployment, work) if options.optimize_onnx else {}
    code_info = build_code(deployment, out, work, options.python_version, optimized)
    layer_info = build_layer(options.python_version, out, options.wheels_dir, work) if options.layer else None

    artifacts = [
        measure(out / "functions" / f"{s.name}.zip", s.name, "function", FUNCTION_ZIP_BUDGET)
        for s in deployment.functions
    ]
    artifacts.append(measure(out / "scf.zip", "scf (multi-scf src)", "multi-scf", FUNCTION_ZIP_BUDGET))
    layer = measure(out / "layer.zip", "layer", "layer", LAYER_ZIP_BUDGET) if options.layer else None
    if layer is not None:
        artifacts.append(layer)
    problems = check_budgets(artifacts, layer)
    if options.cloudbase is not None:
        write_cloudbase(deployment, out, options.cloudbase, options.python_version)

    summary = {
        "python_version": options.python_version,
        "abi": cp_tag(options.python_version),
        "platforms": list(PLATFORMS),
        "built_with": f"CPython {sys.version.split()[0]}",
        "optimized_onnx": sorted(k for k in optimized if k.endswith("model.onnx")),
        "budgets": {
            "function_zip": FUNCTION_ZIP_BUDGET,
            "layer_zip": LAYER_ZIP_BUDGET,
            "code_plus_layers_unzipped": UNZIPPED_BUDGET,
        },
        "artifacts": [{k: v for k, v in asdict(a).items() if k != "problems"} for a in artifacts],
        "functions": code_info,
        "layer": layer_info,
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "sizes.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report(size_table(artifacts, layer))
    if layer_info is not None:
        report(
            f"layer needs glibc >= {layer_info['glibc_floor']}; bytecode: "
            f"{'yes' if layer_info['bytecode_files'] else 'no (build with the target Python to add it)'}"
        )
    report(f"wrote {out / 'sizes.json'} in {summary['seconds']} s")
    if problems:
        raise BudgetExceeded(problems)
    return summary


class BudgetExceeded(SystemExit):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("budget exceeded:\n  " + "\n  ".join(problems))
        self.problems = problems


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("build", "lock"), default="build")
    parser.add_argument("--python-version", default=os.environ.get("PYTHON_VERSION") or TARGET_PYTHON)
    parser.add_argument(
        "--out", type=Path, help="output folder (default dist/, or dist/py3.X for other versions)"
    )
    parser.add_argument("--no-layer", action="store_true", help="build the code packages only")
    parser.add_argument(
        "--no-cloudbase", action="store_true", help="do not write miniprogram/cloudfunctions/"
    )
    parser.add_argument("--no-optimize-onnx", action="store_true", help="ship model.onnx as it is")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "lock":
        print(f"wrote {write_lock(args.python_version)}")
        return 0
    options = BuildOptions(
        python_version=args.python_version,
        out=args.out,
        layer=not args.no_layer,
        cloudbase=None if args.no_cloudbase else ROOT / "miniprogram" / "cloudfunctions",
        optimize_onnx=not args.no_optimize_onnx,
    )
    build(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
