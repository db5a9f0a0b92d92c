"""``make package``: build what Tencent SCF runs, reproducibly, for CPython 3.10 manylinux x86_64.

From ``serverless.yml`` (the one description of the functions) it writes::

    dist/functions/<name>.zip     one code zip per function (infra/code.py)
    dist/layer.zip                the dependency layer (infra/layer.py)
    dist/scf/ (+ dist/scf.zip)    the multi-scf `src` folder: the union of the code zips
    dist/sizes.json               sizes, hashes, the glibc floor; also printed as a table
    miniprogram/cloudfunctions/   the CloudBase variant (git-ignored)

and fails when a budget is exceeded: a function zip ≤ 10 MB (the console can still edit it), the layer
≤ 50 MB zipped, code + layer ≤ 500 MB unzipped. ``--python-version 3.11`` builds the same for CPython
3.11 into ``dist/py3.11/`` (CloudBase's recommended runtime; and the interpreter this machine has, which
the smoke test runs). ``python -m infra.package lock`` re-resolves the pinned wheels.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .code import build_code, load_deployment, write_cloudbase
from .layer import PLATFORMS, TARGET_PYTHON, build_layer, cp_tag, write_lock
from .zips import content_sha256, sha256_of, unzipped_size

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
FUNCTION_ZIP_BUDGET = 10 * MB
LAYER_ZIP_BUDGET = 50 * MB
UNZIPPED_BUDGET = 500 * MB  # code + layers of one function version


@dataclass
class Artifact:
    name: str
    kind: str  # function | multi-scf | layer
    zip_bytes: int
    unzipped_bytes: int
    files: int
    sha256: str
    content_sha256: str  # the same on any machine for the same sources and wheels (infra/zips.py)
    zip_budget: int
    problems: list[str] = field(default_factory=list)


def measure(path: Path, name: str, kind: str, budget: int) -> Artifact:
    unzipped, files = unzipped_size(path)
    size = path.stat().st_size
    artifact = Artifact(name, kind, size, unzipped, files, sha256_of(path), content_sha256(path), budget)
    if artifact.zip_bytes > budget:
        artifact.problems.append(f"{name}: {artifact.zip_bytes / MB:.1f} MB zipped > {budget / MB:.0f} MB")
    return artifact


def check_budgets(artifacts: list[Artifact], layer: Artifact | None) -> list[str]:
    problems = [p for a in artifacts for p in a.problems]
    for code in artifacts:
        if layer is None or code.kind == "layer":
            continue
        total = code.unzipped_bytes + layer.unzipped_bytes
        if total > UNZIPPED_BUDGET:
            problems.append(
                f"{code.name} + layer: {total / MB:.0f} MB unzipped > {UNZIPPED_BUDGET / MB:.0f} MB"
            )
    return problems


def size_table(artifacts: list[Artifact], layer: Artifact | None) -> str:
    rows = [("artifact", "zipped", "budget", "unzipped", "files", "with layer (≤ 500 MB)")]
    for a in artifacts:
        with_layer = (
            ""
            if layer is None or a.kind == "layer"
            else f"{(a.unzipped_bytes + layer.unzipped_bytes) / MB:.1f} MB"
        )
        rows.append((a.name, f"{a.zip_bytes / MB:.2f} MB", f"≤ {a.zip_budget / MB:.0f} MB",
                     f"{a.unzipped_bytes / MB:.1f} MB", str(a.files), with_layer))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class BudgetExceeded(SystemExit):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("budget exceeded:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class BuildOptions:
    python_version: str = TARGET_PYTHON
    out: Path | None = None
    layer: bool = True
    cloudbase: Path | None = ROOT / "miniprogram" / "cloudfunctions"

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
    """Build everything, write sizes.json, print the table; ``BudgetExceeded`` when over a budget."""
    started = time.perf_counter()
    deployment = load_deployment()
    out, work = options.out_dir, options.out_dir / "build"
    out.mkdir(parents=True, exist_ok=True)
    functions = build_code(deployment, out, work, options.python_version)
    layer_info = build_layer(options.python_version, out, options.wheels_dir, work) if options.layer else None

    artifacts = [
        measure(out / "functions" / f"{spec.name}.zip", spec.name, "function", FUNCTION_ZIP_BUDGET)
        for spec in deployment.functions
    ]
    artifacts.append(measure(out / "scf.zip", "scf (multi-scf src)", "multi-scf", FUNCTION_ZIP_BUDGET))
    layer = measure(out / "layer.zip", "layer", "layer", LAYER_ZIP_BUDGET) if options.layer else None
    artifacts += [layer] if layer else []
    problems = check_budgets(artifacts, layer)
    if options.cloudbase is not None:
        write_cloudbase(deployment, out, options.cloudbase, options.python_version)

    summary = {
        "python_version": options.python_version,
        "abi": cp_tag(options.python_version),
        "platforms": list(PLATFORMS),
        "built_with": f"CPython {sys.version.split()[0]}",
        "budgets": {
            "function_zip": FUNCTION_ZIP_BUDGET,
            "layer_zip": LAYER_ZIP_BUDGET,
            "code_plus_layers_unzipped": UNZIPPED_BUDGET,
        },
        "artifacts": [{k: v for k, v in asdict(a).items() if k != "problems"} for a in artifacts],
        "functions": functions,
        "layer": layer_info,
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "sizes.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report(size_table(artifacts, layer))
    if layer_info is not None:
        bytecode = (
            "yes"
            if layer_info["bytecode_files"]
            else f"no (build with CPython {options.python_version} to add it)"
        )
        report(f"layer: glibc >= {layer_info['glibc_floor']}, bytecode {bytecode}, "
               f"{'reused' if layer_info['reused'] else 'rebuilt'}")  # fmt: skip
    report(f"wrote {out / 'sizes.json'} in {summary['seconds']} s")
    if problems:
        raise BudgetExceeded(problems)
    return summary


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "lock":
        print(f"wrote {write_lock(args.python_version)}")
        return 0
    cloudbase = None if args.no_cloudbase else ROOT / "miniprogram" / "cloudfunctions"
    build(BuildOptions(args.python_version, args.out, not args.no_layer, cloudbase))
    return 0


if __name__ == "__main__":
    sys.exit(main())
