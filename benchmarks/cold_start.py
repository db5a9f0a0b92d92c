"""Cold start of the packaged predict function, as SCF runs it: a new process to its first answer.

Run on demand, never as a test::

    make package PYTHON_VERSION=3.11         # (built here if missing) dist/py3.11: this machine's Python
    .venv/bin/python -m benchmarks.cold_start [--runs 7] [--warm 20] [--s3]

The function zip is unpacked as ``<tmp>/var/user``, the layer as ``<tmp>/opt``, and each run is a fresh
``python -S`` with ``PYTHONPATH=/var/user:/opt`` and a bare environment (PYTHONDONTWRITEBYTECODE, as
SCF sets it) answering ``tests/events/function_url_predict.json`` (a browser's anonymous predict). The
store is bootstrapped once before the runs, as a deployment's first request does.

Variants, each timed in the same run, interleaved:

* ``xiaofei``                the package as built;
* ``xiaofei, no bytecode``   the same without ``__pycache__`` (what a 3.10 layer built on a machine
                              without CPython 3.10 ships: every module compiled at each cold start);
* ``+ import torch first``   the same handler with ``import torch`` before it (the common peer pattern
                              of a handler importing its training framework), torch from the dev venv.

The breakdown: interpreter start, imports (``index`` + onnxruntime), model load (pointer read, ONNX
session, warm-up run), first answer (``main_handler`` on the event), and the total from spawn to the
answer. Warm latency (the median of ``--warm`` further answers with a 1 MP JPEG, in the first process of
each variant) and the peak RSS feed
the cost estimate in docs/DEPLOY.md. ``--s3`` uses the local S3 server (moto) as the store, so the cold
start includes importing boto3 and making its client, as on SCF with COS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENT = ROOT / "tests" / "events" / "function_url_predict.json"
CONTEXT = ROOT / "tests" / "events" / "context_scf.json"
PYTHON_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
SECRET = "cold-start-benchmark-secret-0123456789abcdef"

_CHILD = r"""
import json, sys, time
spawned = float(sys.argv[1])
args = json.loads(sys.argv[2])
t_start = time.time()
if args.get("localhost_dns"):
    import socket
    _real = socket.getaddrinfo
    def _gai(h, *a, **k):
        return _real("127.0.0.1" if str(h).endswith(".localhost") else h, *a, **k)
    socket.getaddrinfo = _gai
marks = {"interpreter": t_start - spawned}
p = time.perf_counter()
if args["torch"]:
    import torch  # noqa: F401  (the peer pattern: the handler module imports its framework)
marks["torch"] = time.perf_counter() - p
p = time.perf_counter()
import index
import onnxruntime  # noqa: F401  (the first model load imports it; timed here to separate it from the load)
marks["imports"] = time.perf_counter() - p
from xiaofei.app import get_app
p = time.perf_counter()
get_app().models.get(args["model"], "")
marks["model_load"] = time.perf_counter() - p
event = json.load(open(args["event"]))
context = json.load(open(args["context"]))
p = time.perf_counter()
answer = index.main_handler(event, context)
marks["first_answer"] = time.perf_counter() - p
marks["total"] = time.time() - spawned
assert answer["statusCode"] == 200, answer["body"][:300]
warm = []
warm_event = json.load(open(args["warm_event"]))  # a 1 MP chest film: what a phone or a PACS export sends
for _ in range(args["warm"]):
    p = time.perf_counter()
    index.main_handler(warm_event, context)
    warm.append(time.perf_counter() - p)
marks["warm"] = sorted(warm)[len(warm) // 2] if warm else None
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec.
with open("/proc/self/status") as f:
    marks["peak_rss_mb"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
print("COLD " + json.dumps(marks))
"""


_SESSIONS = r"""
import json, statistics, sys, time
import numpy as np
import onnxruntime as ort
model, optimized, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
L = ort.GraphOptimizationLevel
save = ort.SessionOptions()
save.graph_optimization_level = L.ORT_ENABLE_EXTENDED
save.optimized_model_filepath = optimized
ort.InferenceSession(model, save, providers=["CPUExecutionProvider"])
inp = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).get_inputs()[0]
x = np.zeros([1] + [d if isinstance(d, int) else 1 for d in inp.shape[1:]], np.float32)
out = {}
for name, path, level in [("as shipped, ORT_ENABLE_ALL (what serving does)", model, L.ORT_ENABLE_ALL),
                          ("pre-optimised (EXTENDED), ORT_ENABLE_ALL", optimized, L.ORT_ENABLE_ALL),
                          ("pre-optimised (EXTENDED), ORT_ENABLE_BASIC", optimized, L.ORT_ENABLE_BASIC),
                          ("pre-optimised (EXTENDED), ORT_DISABLE_ALL", optimized, L.ORT_DISABLE_ALL)]:
    loads, firsts = [], []
    for _ in range(runs):
        o = ort.SessionOptions()
        o.graph_optimization_level = level
        o.intra_op_num_threads = 1
        t = time.perf_counter()
        s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
        t1 = time.perf_counter()
        s.run(None, {inp.name: x})
        loads.append(t1 - t)
        firsts.append(time.perf_counter() - t1)
    out[name] = [statistics.median(loads), statistics.median(firsts)]
print("SESS " + json.dumps(out))
"""


@dataclass(frozen=True)
class Layout:
    var_user: Path
    opt: Path
    root: Path


@contextmanager
def scf_layout(dist: Path, bytecode: bool) -> Iterator[Layout]:
    from infra.zips import extract

    root = Path(tempfile.mkdtemp(prefix="xiaofei-cold-"))
    try:
        layout = Layout(root / "var" / "user", root / "opt", root)
        extract(dist / "functions" / "predict.zip", layout.var_user)
        extract(dist / "layer.zip", layout.opt)
        if not bytecode:
            for cache in [*layout.var_user.rglob("__pycache__"), *layout.opt.rglob("__pycache__")]:
                shutil.rmtree(cache)
        yield layout
    finally:
        shutil.rmtree(root, ignore_errors=True)


def clean_python() -> str:
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


def venv_site_packages() -> str:
    import torch

    return str(Path(torch.__file__).resolve().parent.parent)


def warm_event(folder: Path) -> Path:
    """The function-URL event with a 1024×1024 grayscale JPEG (about 50 KB) in its JSON body."""
    import base64
    import io

    import numpy as np
    from PIL import Image, ImageFilter

    pixels = (np.random.default_rng(0).random((1024, 1024)) * 60 + 40).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(3)).save(buffer, "JPEG", quality=90)
    event = json.loads(EVENT.read_text())
    event["body"] = json.dumps({"image": base64.b64encode(buffer.getvalue()).decode(), "model": "pneumonia"})
    path = folder / "warm_event.json"
    path.write_text(json.dumps(event))
    return path


def one_run(
    layout: Layout, env: dict[str, str], torch: bool, warm: int, localhost_dns: bool
) -> dict[str, Any]:
    path = f"{layout.var_user}:{layout.opt}" + (f":{venv_site_packages()}" if torch else "")
    environment = {"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "x", "PATH": "/usr/bin:/bin",
                   "HOME": str(layout.root), "LANG": "C.UTF-8", **env}  # fmt: skip
    args = {"torch": torch, "model": "pneumonia", "event": str(EVENT), "context": str(CONTEXT), "warm": warm,
            "warm_event": str(warm_event(layout.root)), "localhost_dns": localhost_dns}  # fmt: skip
    spawned = time.time()
    done = subprocess.run(
        [clean_python(), "-S", "-c", _CHILD, repr(spawned), json.dumps(args)],
        cwd=layout.var_user, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    wall = time.time() - spawned
    lines = [line for line in done.stdout.splitlines() if line.startswith("COLD ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(done.stderr[-3000:])
    marks: dict[str, Any] = json.loads(lines[-1][5:])
    marks["wall_with_exit"] = wall
    return marks


def ensure_packages(dist: Path) -> None:
    if (dist / "functions" / "predict.zip").exists() and (dist / "layer.zip").exists():
        return
    from infra import package

    print(f"building {dist} (make package PYTHON_VERSION={PYTHON_VERSION}) …", file=sys.stderr)
    package.build(package.BuildOptions(PYTHON_VERSION, dist, cloudbase=None), report=lambda _: None)


@contextmanager
def store_env(tmp: Path, s3: bool) -> Iterator[tuple[dict[str, str], bool]]:
    env = {"XIAOFEI_SECRET": SECRET, "XIAOFEI_MODEL_CACHE_DIR": str(tmp / "cache")}
    if not s3:
        yield {**env, "XIAOFEI_STORAGE": f"file://{tmp / 'store'}"}, False
        return
    from tests.s3server import _CHILD as MOTO
    from tests.s3server import CREDENTIALS, REGION

    server = subprocess.Popen([sys.executable, "-c", MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        import boto3

        bucket = "xiaofei-bench-1250000000"
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                              aws_access_key_id="x", aws_secret_access_key="y")  # fmt: skip
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        url = f"s3://{bucket}?endpoint=http://localhost:{port}&region={REGION}&addressing=virtual"
        yield {**env, **CREDENTIALS, "XIAOFEI_STORAGE": url, "AWS_CONFIG_FILE": "/nonexistent"}, True
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)


VARIANTS = (
    ("xiaofei", True, False),
    ("xiaofei, no bytecode", False, False),
    ("+ import torch first", True, True),
)
COLUMNS = ("interpreter", "torch", "imports", "model_load", "first_answer", "total", "warm", "peak_rss_mb")
HEADINGS = {"model_load": "model load", "first_answer": "first answer", "total": "TOTAL", "warm": "warm 1 MP",
            "peak_rss_mb": "peak RSS"}  # fmt: skip


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    head = ["variant", "runs", *(HEADINGS.get(c, c) for c in COLUMNS)]
    rows = [head]
    for name, runs in results.items():
        cells = [name, str(len(runs))]
        for column in COLUMNS:
            values = [r[column] for r in runs if r.get(column) is not None]
            if not values:
                cells.append("-")
            elif column == "peak_rss_mb":
                cells.append(f"{statistics.median(values):.0f} MB")
            else:
                cells.append(f"{statistics.median(values) * 1000:.0f} ms")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def session_levels(dist: Path, runs: int) -> str:
    """Session creation of each bundled model with the layer's onnxruntime: does a graph pre-optimised
    at build time (optimized_model_filepath) make the load shorter?"""
    lines = []
    with scf_layout(dist, bytecode=True) as layout, tempfile.TemporaryDirectory() as tmp:
        for model in sorted((layout.var_user / "xiaofei" / "models").glob("*/model.onnx")):
            env = {"PYTHONPATH": str(layout.opt), "PATH": "/usr/bin:/bin", "HOME": tmp}
            optimized = Path(tmp) / f"{model.parent.name}.onnx"
            command = [clean_python(), "-S", "-c", _SESSIONS, str(model), str(optimized), str(runs)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            found = [line for line in done.stdout.splitlines() if line.startswith("SESS ")]
            if done.returncode != 0 or not found:
                raise RuntimeError(done.stderr[-2000:])
            size = model.stat().st_size / 2**20
            lines.append(f"{model.parent.name} ({size:.1f} MB): session load / first run, median of {runs}")
            for name, (load, first) in json.loads(found[0][5:]).items():
                lines.append(f"  {name:<48} {load * 1000:6.0f} ms  {first * 1000:6.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cold_start", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warm", type=int, default=20, help="answers after the first, in the same process")
    parser.add_argument(
        "--s3", action="store_true", help="the store is the local S3 server (boto3 on the path)"
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / f"py{PYTHON_VERSION}")
    parser.add_argument(
        "--sessions", action="store_true", help="also time ONNX session loads per graph level"
    )
    args = parser.parse_args(argv)
    ensure_packages(args.dist)
    if args.sessions:
        print(session_levels(args.dist, max(args.runs, 5)) + "\n")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp, store_env(Path(tmp), args.s3) as (env, dns):
        with scf_layout(args.dist, bytecode=True) as layout:
            one_run(layout, env, torch=False, warm=0, localhost_dns=dns)  # bootstraps the store
        layouts = {}
        for name, bytecode, _ in VARIANTS:
            layouts[name] = scf_layout(args.dist, bytecode)
        opened = {name: cm.__enter__() for name, cm in layouts.items()}
        try:
            for i in range(args.runs):  # interleaved, so machine noise hits every variant alike
                for name, _, torch in VARIANTS:
                    results[name].append(one_run(opened[name], env, torch, args.warm if i == 0 else 0, dns))
        finally:
            for cm in layouts.values():
                cm.__exit__(None, None, None)
    store = "S3 (local moto server)" if args.s3 else "file"
    print(
        f"cold start of the predict package, CPython {PYTHON_VERSION}, {os.cpu_count()} CPUs, store: {store}"
    )
    print(
        f"median of {args.runs} fresh processes; warm 1 MP = median of {args.warm} answers after the first\n"
    )
    print(table(results))
    base = statistics.median(r["total"] for r in results["xiaofei"])
    peer = statistics.median(r["total"] for r in results["+ import torch first"])
    print(f"\nimport torch first / xiaofei: {peer / base:.1f}x ({peer:.2f} s vs {base:.2f} s to the answer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
