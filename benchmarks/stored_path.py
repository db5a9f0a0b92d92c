"""What storing a prediction costs: stored against anonymous, and against a naive full-decode pipeline.

Run on demand (``make bench`` runs it; never part of the tests):
``.venv/bin/python -m benchmarks.stored_path [--runs N]``. One process, single thread, a folder store
in a temp dir (the I/O of COS is not what is measured: it is the CPU work around it). Prints a table of
p50/p95 over interleaved runs for three paths on the same two images:

- ``anonymous``: ``usecases.predict.predict`` with no caller (nothing kept; the heat layer inline);
- ``stored``: ``usecases.predict.predict`` for a known caller: the answer plus the stored image, heat
  layer and record (what every signed-in web user and every mini program user gets);
The store is the real folder store (``LocalStore``) on a tmpfs where there is one (``/dev/shm``): the
CPU work around storing is measured, not this machine's disk; in the cloud the writes go to COS, and the
image's write runs beside the model (``usecases.predict._start_image_write``).

- ``naive stored``: the same work done the obvious way: a full decode (``Image.open`` +
  ``exif_transpose`` + ``convert``), the same model, gate and heat layer on the full image, and the
  stored copy made by resizing the full image (Lanczos) and encoding it with ``optimize=True``; then the
  same three writes.

The images: a 1 MP chest X-ray JPEG as the clients now send it (downscaled, upright, no metadata) and a
12 MP phone photo of a film (4000×3000, EXIF orientation 6, GPS tags) as an old client sends it.
The issue's targets: stored 1 MP p50 ≤ 1.3× anonymous, stored 12 MP p50 ≤ 0.5× naive stored.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def make_images(folder: Path) -> dict[str, bytes]:
    import numpy as np
    from PIL import Image

    from model.pipeline.synthetic import make_chest_xray
    from tests import imagegen

    rng = np.random.default_rng(7)
    xray = make_chest_xray("bacterial", rng)
    xray = xray if isinstance(xray, Image.Image) else Image.fromarray(np.asarray(xray))
    buf = io.BytesIO()
    xray.convert("L").resize((1024, 1024), Image.Resampling.BILINEAR).save(buf, "JPEG", quality=90)
    return {"1 MP X-ray": buf.getvalue(), "12 MP photo": imagegen.phone_photo()}


def naive_stored(app: Any, caller: Any, data: bytes) -> dict[str, Any]:
    """The obvious pipeline: decode everything, work on the full image, re-encode it for storage."""
    from PIL import Image, ImageOps

    from xiaofei.clock import now_iso
    from xiaofei.ids import new_id
    from xiaofei.imaging.heatmap import render_layer
    from xiaofei.inference import input_gate
    from xiaofei.inference.preprocess import preprocess
    from xiaofei.records.keys import keys_for

    model = app.models.get("pneumonia", caller.uid)
    spec = model.manifest.input
    with Image.open(io.BytesIO(data)) as im:
        image = ImageOps.exif_transpose(im).convert("L" if spec.channels == 1 else "RGB")
    batch, box = preprocess(image, spec)
    raw = model.run(batch)
    result = model.classify(raw.logits)
    report = input_gate.assess(image, raw.pooled, raw.logits, model.manifest, raw.kind)
    cam = model.cam(raw.features, result.top)
    heatmap = render_layer(image.size, cam, box, (spec.height, spec.width))
    w, h = image.size
    scale = 1024 / max(w, h)
    small = image.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=88, optimize=True)
    record_id = new_id()
    keys = keys_for(caller.uid, record_id)
    app.store.put(keys["image"], out.getvalue(), "image/jpeg")
    app.store.put(keys["heatmap"], heatmap, "image/png")
    record = {"id": record_id, "uid": caller.uid, "created_at": now_iso(), "status": "done",
              "label": int(result.top), "quality_ok": report.ok}  # fmt: skip
    app.history.put(record)
    return record


def measure(runs: int) -> dict[str, dict[str, list[float]]]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xiaofei.app import App
    from xiaofei.config import Settings
    from xiaofei.identity import Caller
    from xiaofei.usecases import predict as service

    # The folder store in memory where there is a tmpfs: the CPU work is measured, not this disk.
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="xiaofei-stored-bench-", dir=shm if shm.is_dir() else None))
    settings = Settings.from_env(
        {
            "XIAOFEI_THREADS": "1",
            "XIAOFEI_STORAGE": f"file://{folder / 'store'}",
            "XIAOFEI_SECRET": "bench",
            "XIAOFEI_MODEL_CACHE_DIR": str(folder / "cache"),
        }
    )
    app = App(settings)
    caller = Caller(provider="wx", subject="bench-user", uid="0123456789abcdef0123456789abcdef")
    images = make_images(folder)
    paths: dict[str, Callable[[bytes], Any]] = {
        "anonymous": lambda data: service.predict(app, None, service.ImageSource(data=data), "pneumonia"),
        "stored": lambda data: service.predict(app, caller, service.ImageSource(data=data), "pneumonia"),
        "naive stored": lambda data: naive_stored(app, caller, data),
    }
    times: dict[str, dict[str, list[float]]] = {name: {p: [] for p in paths} for name in images}
    try:
        for name, data in images.items():
            for run in paths.values():  # warm-up: model load, first-call costs
                run(data)
            for _ in range(runs):
                for path, run in paths.items():  # interleaved: drift in the machine's load touches all alike
                    started = time.perf_counter()
                    run(data)
                    times[name][path].append((time.perf_counter() - started) * 1000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(times: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for name, by_path in times.items():
        for path, values in by_path.items():
            rows.append({"image": name, "path": path, "p50": p(values, 0.5), "p95": p(values, 0.95)})
    p50 = {(r["image"], r["path"]): r["p50"] for r in rows}
    ratios = {
        "stored / anonymous, 1 MP (target ≤ 1.3)": p50["1 MP X-ray", "stored"]
        / p50["1 MP X-ray", "anonymous"],
        "stored / naive stored, 12 MP (target ≤ 0.5)": p50["12 MP photo", "stored"]
        / p50["12 MP photo", "naive stored"],
        "stored / anonymous, 12 MP": p50["12 MP photo", "stored"] / p50["12 MP photo", "anonymous"],
    }
    return {"rows": rows, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = report(measure(args.runs))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print(
        "\nStored prediction cost, pneumonia model, single thread, folder store, "
        f"{args.runs} interleaved runs\n"
    )
    print("| image | path | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for row in result["rows"]:
        print(f"| {row['image']} | {row['path']} | {row['p50']:.1f} | {row['p95']:.1f} |")
    print()
    for label, ratio in result["ratios"].items():
        print(f"- {label}: {ratio:.2f}×")


if __name__ == "__main__":
    main()
