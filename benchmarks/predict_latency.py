"""Predict speed, single thread: ONNX Runtime serving against PyTorch pipelines on the same weights.

Run on demand (never part of the tests): ``.venv/bin/python -m benchmarks.predict_latency [--runs N]``.
Prints one table:
- cold start: a new process to its first answer (imports + model load + first prediction), median;
- warm latency p50/p95: a 1 MP chest X-ray JPEG and a 12 MP phone photo of a film, through the whole
  answer path (decode → preprocess → model → calibration → input gate → CAM heat layer PNG);
- the model call alone;
- peak RSS of the process that served the 12 MP runs;
- the 12 MP decode alone: draft-mode decode against a full decode.

Three pipelines, each in its own processes, with the same weights and the same answer:
- ``onnx``: the serving path (``reading.read_image``, ``answer_of``): JPEG draft decode, Pillow resize,
  ONNX Runtime;
- ``torch``: the PyTorch pipeline — the image decoded in full (as PIL/torchvision do by default), the
  resize and normalisation done on the tensor (``F.interpolate`` with antialiasing, as torchvision's
  ``Resize``), the module from ``train/weights.pt`` in eager mode with no grad; then the same input gate,
  CAM and layer as the serving path (no Grad-CAM backward pass, no full-size overlay: the baseline is
  not slowed by anything the serving path does not also need);
- ``torch model only``: the serving path with only the model call swapped for the eager module, so the
  table also shows how much of the difference is the runtime alone.
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
MODES = ("onnx", "torch", "torch-model-only")

_WORKER = r"""
import io, json, os, resource, sys, time
t0 = time.perf_counter()
mode, image_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.environ["XF_ROOT"])
from xiaofei.app import App
from xiaofei.config import Settings
from xiaofei.imaging import image_io
from xiaofei.inference.preprocess import preprocess
from xiaofei.inference.reading import answer_of, read_image
settings = Settings.from_env({"XIAOFEI_THREADS": "1", "XIAOFEI_STORAGE": "file:///tmp/xiaofei-bench",
                              "XIAOFEI_SECRET": "bench"})
app = App(settings)
model = app.models.get("pneumonia", "")
answer = lambda data: answer_of(read_image(model, data, max_bytes=settings.max_body_bytes,
                                             max_pixels=settings.max_pixels, heatmap=True))
if mode != "onnx":
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    from model.pipeline.nets import load_torch_model
    net = load_torch_model(os.path.join(os.environ["XF_ROOT"], "model", "pneumonia")).eval()
    from xiaofei.inference.onnx_model import RawOutput
    # The gate's kind model is in the ONNX graph only (weights.pt holds the diagnostic net): the torch
    # baselines reuse its output for this image, computed once here, so they do less work than serving.
    _image = image_io.decode(open(image_path, "rb").read(), min_side=512).image
    _batch, _ = preprocess(_image, model.manifest.input)
    kind = model.run(_batch).kind
    def run(batch):
        with torch.no_grad():
            logits, features = net(torch.from_numpy(batch))
        return RawOutput(logits[0].numpy(), features[0].numpy(), kind)
    model.run = run
if mode == "torch":
    from PIL import Image, ImageOps
    from xiaofei.inference import input_gate
    from xiaofei.imaging.heatmap import render_layer
    from xiaofei.imaging.image_io import Box
    spec = model.manifest.input
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    def answer(data):
        with Image.open(io.BytesIO(data)) as im:  # a full decode
            image = ImageOps.exif_transpose(im).convert("L" if spec.channels == 1 else "RGB")
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32))
        pixels = pixels.reshape(1, image.height, image.width, -1).permute(0, 3, 1, 2) / spec.scale
        scale = min(spec.width / image.width, spec.height / image.height)
        nw, nh = round(image.width * scale), round(image.height * scale)
        if spec.resize == "stretch":  # as the model was trained: squashed to the square
            nw, nh = spec.width, spec.height
        content = F.interpolate(pixels, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
        box = Box((spec.height - nh) // 2, (spec.width - nw) // 2, nh, nw)
        canvas = torch.full((1, spec.channels, spec.height, spec.width), spec.background / spec.scale)
        canvas[:, :, box.top:box.top + nh, box.left:box.left + nw] = content
        raw = model.run(((canvas - mean) / std).numpy())
        result = model.classify(raw.logits)
        input_gate.assess(image, raw.pooled, raw.logits, model.manifest, raw.kind)
        cam = model.cam(raw.features, result.top)
        return result, render_layer(image.size, cam, box, (spec.height, spec.width))
data = open(image_path, "rb").read()
first = answer(data)
cold = time.perf_counter() - t0
times = []
for _ in range(runs):
    s = time.perf_counter()
    answer(data)
    times.append((time.perf_counter() - s) * 1000)
spec = model.manifest.input
batch, _ = preprocess(image_io.decode(data, min_side=512).image, spec)
infer = []
for _ in range(runs):
    s = time.perf_counter()
    model.run(batch)
    infer.append((time.perf_counter() - s) * 1000)
print(json.dumps({"cold_s": cold, "times_ms": times, "infer_ms": infer,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_images(folder: Path) -> dict[str, Path]:
    """A 1 MP chest X-ray JPEG and a 12 MP phone-photo-like JPEG of one: a real film from shared/data (read
    in place, written only to the temp folder) so the gate accepts it and the whole path runs; a drawn
    film where shared/data is absent."""
    import numpy as np
    from PIL import Image

    from model.pipeline import realsets
    from model.pipeline.synthetic import make_chest_xray

    data = realsets.shared_data()
    if data is not None:
        with Image.open(realsets.images(data / "kermany-native" / "train" / "PNEUMONIA")[0]) as film:
            xray = film.convert("L")
    else:
        xray = make_chest_xray("bacterial", np.random.default_rng(7))
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


def decode_costs(path: Path, runs: int, block: int = 5) -> tuple[float, float]:
    """Median ms of the serving decode (draft mode) and of a full decode of the same JPEG.

    Timed in alternating blocks: each request of a warm instance follows another draft decode, not a
    36 MB full decode that has just flushed the caches, and alternating blocks still share any drift in
    the machine's load between the two.
    """
    from PIL import Image

    from xiaofei.imaging import image_io

    data = path.read_bytes()

    def draft() -> None:
        image_io.decode(data, min_side=512)

    def full() -> None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()

    times: dict[str, list[float]] = {"draft": [], "full": []}
    for _ in range(max(1, runs // block)):
        for name, decode in (("draft", draft), ("full", full)):
            decode()  # the first of a block warms up after the other kind
            for _ in range(block):
                t = time.perf_counter()
                decode()
                times[name].append((time.perf_counter() - t) * 1000)
    return statistics.median(times["draft"]), statistics.median(times["full"])


def measure(images: dict[str, Path], runs: int, rounds: int) -> dict[str, dict[str, float]]:
    """Every pipeline's figures, its processes interleaved round by round so that a change in the
    machine's load touches all of them alike; warm times are pooled over the rounds."""
    cold: dict[str, list[float]] = {mode: [] for mode in MODES}
    times: dict[tuple[str, str], list[float]] = {}
    infer: dict[str, list[float]] = {mode: [] for mode in MODES}
    rss: dict[str, float] = dict.fromkeys(MODES, 0.0)
    for _ in range(rounds):
        for mode in MODES:
            cold[mode].append(float(worker(mode, images["1mp"], 1)["cold_s"]))  # type: ignore[arg-type]
            for name, path in images.items():
                out = worker(mode, path, runs)
                times.setdefault((mode, name), []).extend(out["times_ms"])  # type: ignore[arg-type]
                infer[mode].extend(out["infer_ms"])  # type: ignore[arg-type]
                if name == "12mp":
                    rss[mode] = max(rss[mode], float(out["rss_mb"]))  # type: ignore[arg-type]
    results = {}
    for mode in MODES:
        figures = {"cold start, median s": statistics.median(cold[mode])}
        for name, label in (("1mp", "1 MP X-ray"), ("12mp", "12 MP photo")):
            figures[f"{label}, p50 ms"] = percentile(times[mode, name], 0.5)
            figures[f"{label}, p95 ms"] = percentile(times[mode, name], 0.95)
        figures["model call only, p50 ms"] = percentile(infer[mode], 0.5)
        figures["peak RSS MB (12 MP runs)"] = rss[mode]
        results[mode] = figures
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="warm runs per image and process")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of processes (one cold start each)")
    args = parser.parse_args()
    folder = Path("/tmp/xiaofei-bench-images")
    folder.mkdir(exist_ok=True)
    images = make_images(folder)
    results = measure(images, args.runs, args.rounds)
    draft, full = decode_costs(images["12mp"], 30)

    onnx, torch_, swapped = (results[m] for m in MODES)
    print(
        f"\nPredict path, pneumonia model, single thread, {os.cpu_count()} CPUs, "
        f"{args.rounds} rounds × {args.runs} warm runs\n"
    )
    head = ("measure", "ONNX Runtime", "PyTorch pipeline", "ratio", "torch model only", "ratio")
    widths = (28, 12, 16, 7, 16, 7)
    print("| " + " | ".join(f"{h:<{w}}" for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for label, a in onnx.items():
        b, c = torch_[label], swapped[label]
        cells = (f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}×", f"{c:.2f}", f"{c / a:.2f}×")
        print(
            f"| {label:<28} | "
            + " | ".join(f"{v:>{w}}" for v, w in zip(cells, widths[1:], strict=True))
            + " |"
        )
    print(
        f"\n12 MP JPEG decode: draft mode {draft:.1f} ms, full decode {full:.1f} ms "
        f"({full / draft:.1f}× cheaper)"
    )


if __name__ == "__main__":
    main()
