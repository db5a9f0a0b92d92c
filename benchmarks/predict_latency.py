"""Predict speed, single thread: ONNX Runtime serving against PyTorch eager on the same weights.

Run on demand (never part of the tests): ``.venv/bin/python -m benchmarks.predict_latency [--runs N]``.
Prints one table:
- cold start: a new process to its first answer (imports + model load + first prediction), median;
- warm latency p50/p95: a 1 MP chest X-ray JPEG and a 12 MP phone photo of a film, through the whole
  answer path (decode → preprocess → model → calibration → input gate → CAM overlay PNG);
- the 12 MP decode alone: draft-mode decode against a full decode;
- peak RSS of the process that served the warm runs.
The baseline pipeline is identical except for the model call, which is the PyTorch module rebuilt from
the package's ``train/weights.pt`` (torch imported, eager mode, no grad).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "model" / "pneumonia"

_WORKER = r"""
import io, json, os, resource, sys, time
t0 = time.perf_counter()
mode, image_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.environ["XF_ROOT"])
from xiaofei.app import App
from xiaofei.config import Settings
from xiaofei import service
settings = Settings.from_env({"XIAOFEI_THREADS": "1", "XIAOFEI_STORAGE": "file:///tmp/xiaofei-bench",
                              "XIAOFEI_SECRET": "bench"})
app = App(settings)
model = app.models.get("pneumonia", "")
if mode == "torch":
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from model.pipeline.nets import load_torch_model
    net = load_torch_model(os.path.join(os.environ["XF_ROOT"], "model", "pneumonia")).eval()
    from xiaofei.inference import RawOutput
    def run(batch):
        with torch.no_grad():
            logits, features = net(torch.from_numpy(batch))
        return RawOutput(logits[0].numpy(), features[0].numpy())
    model.run = run
data = open(image_path, "rb").read()
first = service.run_model(app, model, data)
cold = time.perf_counter() - t0
times = []
for _ in range(runs):
    s = time.perf_counter()
    service.run_model(app, model, data)
    times.append((time.perf_counter() - s) * 1000)
from xiaofei import imaging
spec = model.manifest.input
batch, _ = imaging.preprocess(imaging.decode(data, min_side=512).image, spec)
infer = []
for _ in range(runs):
    s = time.perf_counter()
    model.run(batch)
    infer.append((time.perf_counter() - s) * 1000)
print(json.dumps({"cold_s": cold, "times_ms": times, "infer_ms": infer,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_images(folder: Path) -> dict[str, Path]:
    """A 1 MP chest X-ray JPEG and a 12 MP phone-photo-like JPEG of one, from the synthetic generator."""
    import numpy as np
    from PIL import Image

    from model.pipeline.synthetic import make_chest_xray

    rng = np.random.default_rng(7)
    xray = make_chest_xray("bacterial", rng)
    xray = xray if isinstance(xray, Image.Image) else Image.fromarray(np.asarray(xray))
    paths = {}
    for name, size in (("1mp", (1024, 1024)), ("12mp", (4000, 3000))):
        img = xray.convert("L").resize(size, Image.Resampling.BILINEAR)
        if name == "12mp":  # a phone photo of a film: colour, a little tinted
            img = Image.merge("RGB", (img, img, img.point(lambda v: int(v * 0.95))))
        path = folder / f"xray-{name}.jpg"
        img.save(path, "JPEG", quality=90)
        paths[name] = path
    return paths


def worker(mode: str, image: Path, runs: int) -> dict[str, object]:
    env = {**os.environ, "XF_ROOT": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, mode, str(image), str(runs)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def decode_costs(path: Path, runs: int) -> tuple[float, float]:
    from PIL import Image

    from xiaofei import imaging

    data = path.read_bytes()
    draft, full = [], []
    for _ in range(runs):
        t = time.perf_counter()
        imaging.decode(data, min_side=512)
        draft.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        full.append((time.perf_counter() - t) * 1000)
    return statistics.median(draft), statistics.median(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="warm runs per image")
    parser.add_argument("--cold", type=int, default=5, help="cold-start processes per pipeline")
    args = parser.parse_args()
    folder = Path("/tmp/xiaofei-bench-images")
    folder.mkdir(exist_ok=True)
    images = make_images(folder)

    rows = []
    results: dict[str, dict[str, object]] = {}
    for mode in ("onnx", "torch"):
        colds = [float(worker(mode, images["1mp"], 1)["cold_s"]) for _ in range(args.cold)]  # type: ignore[arg-type]
        warm = {name: worker(mode, path, args.runs) for name, path in images.items()}
        results[mode] = {"cold_s": statistics.median(colds), **{k: v for k, v in warm.items()}}
    for label, key in (
        ("1 MP X-ray, p50 ms", ("1mp", 0.5)),
        ("1 MP X-ray, p95 ms", ("1mp", 0.95)),
        ("12 MP photo, p50 ms", ("12mp", 0.5)),
        ("12 MP photo, p95 ms", ("12mp", 0.95)),
    ):
        onnx = percentile(results["onnx"][key[0]]["times_ms"], key[1])  # type: ignore[index]
        torch_ = percentile(results["torch"][key[0]]["times_ms"], key[1])  # type: ignore[index]
        rows.append((label, onnx, torch_))
    rows.append(
        (
            "model call only, p50 ms",
            percentile(results["onnx"]["1mp"]["infer_ms"], 0.5),  # type: ignore[index]
            percentile(results["torch"]["1mp"]["infer_ms"], 0.5),
        )
    )  # type: ignore[index]
    rows.append(("cold start, median s", results["onnx"]["cold_s"], results["torch"]["cold_s"]))
    rows.append(
        (
            "peak RSS MB (12 MP runs)",
            results["onnx"]["12mp"]["rss_mb"],  # type: ignore[index]
            results["torch"]["12mp"]["rss_mb"],
        )
    )  # type: ignore[index]
    draft, full = decode_costs(images["12mp"], 15)

    print(f"\nPredict path, pneumonia model, single thread, {os.cpu_count()} CPUs, {args.runs} warm runs\n")
    print(f"| {'measure':<28} | {'ONNX Runtime':>12} | {'PyTorch eager':>13} | {'torch / onnx':>12} |")
    print(f"|{'-' * 30}|{'-' * 14}|{'-' * 15}|{'-' * 14}|")
    for label, a, b in rows:
        a, b = float(a), float(b)  # type: ignore[arg-type]
        print(f"| {label:<28} | {a:>12.2f} | {b:>13.2f} | {b / a:>11.2f}× |")
    print(
        f"\n12 MP JPEG decode: draft mode {draft:.1f} ms, full decode {full:.1f} ms "
        f"({full / draft:.1f}× cheaper)"
    )


if __name__ == "__main__":
    main()
