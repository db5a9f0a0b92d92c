"""The code packages, read from ``serverless.yml``: one zip per function, the multi-scf union folder, and
the CloudBase function folders generated from the same description.

A function's code is its entry point (``functions/<name>/index.py`` → ``index.py``), the ``xiaofei``
package, and the model packages it serves under ``xiaofei/models/<model>/`` (where ``xiaofei.config``
looks for bundled models when there is no ``model/`` beside the package).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layer import compile_tree, read_lock
from .zips import extract, tree_files, write_zip

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"

# The files of a bundled model package a function ships ("name/" is a folder). Whichever function first sees
# a fresh store publishes the bundled packages as the first versions (xiaofei.lifecycle.registry.bootstrap:
# model, manifest, policy, model card, reliability plot), so predict and model_update ship the same
# set; model_update adds the golden set its evaluation gate publishes. history serves no model.
REQUIRED_MODEL_FILES = ("model.onnx", "manifest.json")
BOOTSTRAP_FILES = (*REQUIRED_MODEL_FILES, "policy.json", "MODEL_CARD.md", "reliability.png")
MODEL_FILES: dict[str, tuple[str, ...]] = {
    "predict": BOOTSTRAP_FILES,
    "model_update": (*BOOTSTRAP_FILES, "golden/"),
    "history": (),
}


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str  # "<module>.<function>" in the multi-scf folder (module = the function's name)
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    models: tuple[str, ...]

    @property
    def entry_point(self) -> Path:
        return ROOT / "functions" / self.name / "index.py"

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Deployment:
    runtime: str
    functions: tuple[FunctionSpec, ...]
    triggers: tuple[dict[str, Any], ...]

    @property
    def model_names(self) -> list[str]:
        return sorted({m for spec in self.functions for m in spec.models})


def load_deployment(path: Path = SERVERLESS_YML) -> Deployment:
    import yaml  # a build-time dependency (dev extra); serving never reads serverless.yml

    inputs = yaml.safe_load(path.read_text(encoding="utf-8"))["inputs"]
    functions = []
    for name, body in inputs["functions"].items():
        # multi-scf's form: environments: [{key, value}] (infra/scf/multi-scf-0.3.14.json)
        env = {str(item["key"]): str(item["value"]) for item in body.get("environments") or []}
        served = tuple(m.strip() for m in env.get("XIAOFEI_MODELS", "").split(",") if m.strip())
        functions.append(
            FunctionSpec(
                name=name,
                handler=str(body["handler"]),
                memory_mb=int(body.get("memorySize", 128)),
                timeout_s=int(body.get("timeout", 3)),
                environment=env,
                models=served if MODEL_FILES.get(name) else (),
            )
        )
    triggers = tuple(inputs.get("triggers") or ())
    return Deployment(runtime=str(inputs["runtime"]), functions=tuple(functions), triggers=triggers)


# --- staging ---------------------------------------------------------------------------------------------


def package_files() -> list[tuple[str, Path]]:
    """The ``xiaofei`` package as it is installed: its modules and py.typed (its only package data)."""
    pkg = ROOT / "xiaofei"
    files = []
    for path in sorted(pkg.rglob("*")):
        inside = path.relative_to(pkg).parts
        if not path.is_file() or "__pycache__" in inside or path.suffix in (".pyc", ".pyo"):
            continue
        if path.suffix == ".py" or path.name == "py.typed":
            files.append((path.relative_to(ROOT).as_posix(), path))
    return files


def model_dir(name: str) -> Path:
    return ROOT / "model" / name


def model_files(spec: FunctionSpec) -> list[tuple[str, Path]]:
    files = []
    for model in spec.models:
        folder = model_dir(model)
        for part in REQUIRED_MODEL_FILES:
            if not (folder / part).is_file():
                raise SystemExit(
                    f"{spec.name} serves '{model}' but {folder / part} is missing (make demo-models)"
                )
        for part in MODEL_FILES.get(spec.name, ()):
            source = folder / part.rstrip("/")
            if part.endswith("/") and source.is_dir():
                files += [(f"xiaofei/models/{model}/{part}{rel}", p) for rel, p in tree_files(source)]
            elif source.is_file():
                files.append((f"xiaofei/models/{model}/{part}", source))
    return files


def stage_code(spec: FunctionSpec, staging: Path, entry_name: str) -> None:
    """Copy one function's code under ``staging`` (files already there are kept: the union folder)."""
    for rel, source in [(entry_name, spec.entry_point), *package_files(), *model_files(spec)]:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)


def build_code(deployment: Deployment, out: Path, work: Path, python_version: str) -> dict[str, Any]:
    """``out/functions/<name>.zip`` per function and the multi-scf folder ``out/scf`` (+ ``scf.zip``)."""
    info: dict[str, Any] = {}
    union = out / "scf"
    shutil.rmtree(union, ignore_errors=True)
    for spec in deployment.functions:
        staging = work / "functions" / spec.name
        shutil.rmtree(staging, ignore_errors=True)
        stage_code(spec, staging, "index.py")
        info[spec.name] = {
            "handler": "index.main_handler",
            "models": list(spec.models),
            "bytecode_files": compile_tree(staging, python_version, checked=True),
        }
        write_zip(out / "functions" / f"{spec.name}.zip", tree_files(staging))
        stage_code(spec, union, f"{spec.module}.py")
    compile_tree(union, python_version, checked=True)
    write_zip(out / "scf.zip", tree_files(union))
    return info


# --- the CloudBase variant -------------------------------------------------------------------------------


def write_cloudbase(deployment: Deployment, out: Path, target: Path, python_version: str) -> None:
    """One folder per function, unpacked from its code zip, with what CloudBase reads beside it:
    ``config.json`` (its timer trigger), and one ``cloudbaserc.json`` for the CloudBase CLI
    (``tcb fn deploy --all``). The dependencies are the trimmed layer ``make package`` builds, bound to
    each function (``layer.sh``): CloudBase installs dependencies in the cloud for Node.js only, and the
    untrimmed wheels would be ~190 MB."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    read_lock(python_version)  # the layer's lock must exist for this runtime
    rc_functions = []
    for spec in deployment.functions:
        folder = target / spec.name
        extract(out / "functions" / f"{spec.name}.zip", folder)
        timers = [cloudbase_timer(t) for t in deployment.triggers if _is_timer_of(t, spec.name)]
        config: dict[str, Any] = {"permissions": {"openapi": []}}
        if timers:
            config["triggers"] = timers[:1]  # CloudBase allows one trigger per function
        _write_json(folder / "config.json", config)
        rc_functions.append(
            {
                "name": spec.name,
                "handler": "index.main_handler",
                "runtime": "Python" + python_version,
                "memorySize": spec.memory_mb,
                "timeout": min(spec.timeout_s, CLOUDBASE_MAX_TIMEOUT_S),
                "installDependency": False,  # the dependencies are the bound layer (layer.sh)
                "envVariables": {
                    **{k: cloudbase_env(v) for k, v in spec.environment.items()},
                    **CLOUDBASE_ENV,
                },
                "triggers": config.get("triggers", []),
            }
        )
    rc = {"version": "2.0", "envId": "{{env.ENV_ID}}", "functionRoot": "./", "functions": rc_functions}
    _write_json(target / "cloudbaserc.json", rc)
    layer_zip = out / "layer.zip"
    (target / "layer.sh").write_text(cloudbase_layer_script(deployment, layer_zip, python_version))
    (target / "layer.sh").chmod(0o755)
    (target / ".gitignore").write_text("# generated by make package\n*\n", encoding="utf-8")
    (target / "README.md").write_text(
        "Generated by `make package` from serverless.yml; do not edit. See docs/DEPLOY.md.\n",
        encoding="utf-8",
    )


# CloudBase function limits (docs.cloudbase.net/cli-v1/functions/configs: timeout 1-60 s; memory 128,
# 256, 512, 1024 or 2048 MB).
CLOUDBASE_MAX_TIMEOUT_S = 60
CLOUDBASE_MEMORY_MB = (128, 256, 512, 1024, 2048)
LAYER_NAME = "xiaofei-deps"


def cloudbase_layer_script(deployment: Deployment, layer_zip: Path, python_version: str) -> str:
    """The CloudBase CLI commands that publish the layer and bind it to every function."""
    lines = [
        "#!/bin/sh",
        "# Generated by make package: publish the trimmed dependency layer and bind it to each function.",
        '# Usage: ENV_ID=<your env> LAYER_VERSION=<the version "layer create" printed> ./layer.sh bind',
        "#        ENV_ID=<your env> ./layer.sh create",
        "set -eu",
        ': "${ENV_ID:?set ENV_ID}"',
        'case "${1:-}" in',
        f"  create) tcb fn layer create {LAYER_NAME} -e \"$ENV_ID\" --file '{layer_zip}' "
        f"--runtime Python{python_version} ;;",
        "  bind)",
        '    : "${LAYER_VERSION:?set LAYER_VERSION}"',
        *[
            f"    tcb fn layer bind {spec.name} --layer {LAYER_NAME}"
            ' --layer-version "$LAYER_VERSION" -e "$ENV_ID"'
            for spec in deployment.functions
        ],
        "    ;;",
        '  *) echo "usage: $0 create|bind" >&2; exit 2 ;;',
        "esac",
        "",
    ]
    return "\n".join(lines)


# What only the CloudBase variant needs: mini program fileIDs must belong to this environment's bucket
# (the one COS_BUCKET names there: DescribeEnvs → Storages[].Bucket).
CLOUDBASE_ENV = {"XIAOFEI_CLOUD_ENV": "{{env.ENV_ID}}", "XIAOFEI_CLOUD_BUCKET": "{{env.COS_BUCKET}}"}


def _is_timer_of(trigger: dict[str, Any], function: str) -> bool:
    return trigger.get("type") == "timer" and trigger.get("function") == function


def cloudbase_timer(trigger: dict[str, Any]) -> dict[str, str]:
    params = trigger.get("parameters") or {}
    return {
        "name": str(params.get("name", "timer")),
        "type": "timer",
        "config": str(params["cronExpression"]),
    }


def cloudbase_env(value: str) -> str:
    """``${env:NAME}`` (Serverless Framework) → ``{{env.NAME}}`` (the CloudBase CLI's form of it)."""
    return re.sub(r"\$\{env:([A-Za-z0-9_]+)\}", r"{{env.\1}}", value)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
