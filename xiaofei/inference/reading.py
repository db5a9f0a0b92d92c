"""The model's reading of one image: decode → preprocess → run → calibrate → input gate [→ CAM].

``read_image`` is the one way an image is read, by serving (``usecases``), the evaluation gate
(``lifecycle.evaluation``) and the pipeline's evaluation (``model/pipeline/realsets.py``): the same
decoder limits, the same JPEG draft floor (``STORED_MIN_SIDE``), the same preprocessing and input gate, so
the gate and the model card judge a model at the scale serving uses. It returns a typed ``Reading``;
``answer_of`` turns a reading into the answer of DESIGN.md (without ids and links, which the use-cases
add). Only the paths that read images import this module, so numpy, Pillow and ONNX Runtime stay off the
cold start of the functions that never read an image.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from xiaofei.clock import now_iso
from xiaofei.imaging import image_io
from xiaofei.imaging.heatmap import render_layer
from xiaofei.imaging.image_io import Box
from xiaofei.imaging.pixels import DecodedImage
from xiaofei.inference import input_gate
from xiaofei.inference.input_gate import QualityReport
from xiaofei.inference.manifest import InputSpec, Manifest
from xiaofei.inference.onnx_model import Classification, OnnxModel, RawOutput
from xiaofei.inference.preprocess import preprocess
from xiaofei.log import Stopwatch

log = logging.getLogger(__name__)

DISCLAIMER = {
    "zh": "本产品仅作辅助诊断使用，如有不适请及时就医",
    "en": "For decision support only; see a doctor.",
}
DEMO_NOTICE = {
    "zh": "演示模型：权重由本项目在合成图像上训练，未经真实临床数据训练或验证，结果不可用于诊断。",
    "en": "Demo model: its weights were trained by this project on synthetic images, not on real clinical "
    "data, and were never clinically validated. Do not use the result for diagnosis.",
}


def model_notice(manifest: Manifest) -> dict[str, str]:
    """What every answer says about its model: a demo, or whom it was trained on and that it is not
    clinically validated."""
    if manifest.demo:
        return DEMO_NOTICE
    who = manifest.raw.get("trained_on") or {"en": "its training images", "zh": "其训练图片"}
    return {
        "en": f"This model was trained on {who['en']}. It has not been clinically validated: a doctor "
        "must read the image.",
        "zh": f"本模型的训练数据为{who['zh']}，未经临床验证，须由医生阅片。",
    }


UNCERTAIN_REASON = {
    "zh": "模型对这张图片没有把握：它的最高概率低于在验证集上为达到目标准确率而设定的阈值。请由医生阅片。",
    "en": "The model is not sure about this image: its top probability is below the threshold fitted on the "
    "validation set to reach the target accuracy. Please have a doctor read it.",
}
NOT_A_DIAGNOSIS = {
    "zh": "图片未通过质量检查，以下概率仅供参考，不构成诊断。",
    "en": "The image did not pass the quality check; these probabilities are shown for transparency only "
    "and are not a diagnosis.",
}
# Uploads must be large enough to keep a readable stored image: JPEG draft decoding stops here.
STORED_MIN_SIDE = 512


def decode_floor(spec: InputSpec) -> int:
    """The short side JPEG draft decoding keeps: the model's input side, at least ``STORED_MIN_SIDE``."""
    return max(spec.height, spec.width, STORED_MIN_SIDE)


@dataclass(frozen=True)
class Reading:
    """One image read by one model (see the module docstring)."""

    manifest: Manifest
    decoded: DecodedImage
    box: Box  # where the image sits in the model's input canvas
    raw: RawOutput
    result: Classification  # calibrated probabilities, order, the uncertain flag
    report: QualityReport  # the input gate's verdict
    heatmap_png: bytes | None  # the CAM heat layer, when asked for
    run_ms: float  # the ONNX session's run alone
    stopwatch: Stopwatch  # laps "decode" (with preprocessing), "infer", "quality", "heatmap"

    @property
    def image(self) -> Image.Image:
        """The decoded, upright image (what serving stores)."""
        return self.decoded.image

    @property
    def accepted(self) -> bool:
        """The input gate let the image through."""
        return self.report.ok


def read_image(
    model: OnnxModel, data: bytes, *, max_bytes: int, max_pixels: int, heatmap: bool = False
) -> Reading:
    """decode → preprocess → run → calibrate → input gate [→ CAM heat layer]. Raises the decoder's
    ``ImageError``s for bytes that are not a readable image, ``ModelUnavailable`` if the session fails."""
    sw = Stopwatch()
    manifest = model.manifest
    spec = manifest.input
    with sw.lap("decode"):
        decoded = image_io.decode(
            data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=decode_floor(spec)
        )
        batch, box = preprocess(decoded.image, spec)
    with sw.lap("infer"):
        started = time.perf_counter()
        raw = model.run(batch)
        run_ms = (time.perf_counter() - started) * 1000
        result = model.classify(raw.logits)
    with sw.lap("quality"):
        report = input_gate.assess(decoded.image, raw.pooled, raw.logits, manifest, raw.kind)
    heatmap_png = None
    if heatmap:
        with sw.lap("heatmap"):
            cam = model.cam(raw.features, result.top)
            heatmap_png = render_layer(decoded.image.size, cam, box, (spec.height, spec.width))
    return Reading(manifest, decoded, box, raw, result, report, heatmap_png, run_ms, sw)


def answer_of(reading: Reading) -> dict[str, Any]:
    """The answer of DESIGN.md for one reading (logged as ``prediction``)."""
    manifest, result, report, sw = reading.manifest, reading.result, reading.report, reading.stopwatch
    probabilities = [
        {
            "label": manifest.labels[i].id,
            "label_zh": manifest.labels[i].zh,
            "label_en": manifest.labels[i].en,
            "p": round(float(result.probabilities[i]), 6),
        }
        for i in result.order
    ]
    top = manifest.labels[result.top]
    answer: dict[str, Any] = {
        "created_at": now_iso(),
        "status": "done",
        "model": {
            "name": manifest.name,
            "version": manifest.version,
            "demo": manifest.demo,
            "trained_on": manifest.raw.get("trained_on"),
        },
        "label": top.id if report.ok else None,
        "label_zh": top.zh if report.ok else None,
        "label_en": top.en if report.ok else None,
        "confidence": round(result.confidence, 6) if report.ok else None,
        "uncertain": bool(result.uncertain or not report.ok),
        "uncertain_reason": UNCERTAIN_REASON if (result.uncertain and report.ok) else None,
        "quality": {
            "ok": report.ok,
            "reason": report.reason,
            "message": report.message,
            "warnings": report.warnings,
        },
        "probabilities": probabilities,
        "disclaimer": DISCLAIMER,
    }
    if not report.ok:
        answer["probabilities_note"] = NOT_A_DIAGNOSIS
    answer["notice"] = model_notice(manifest)
    if manifest.demo:
        answer["demo_notice"] = DEMO_NOTICE
    answer["latency_ms"] = {
        "decode": sw.laps["decode"],
        "infer": sw.laps["infer"],
        "heatmap": sw.laps.get("heatmap", 0.0),
        "total": sw.total(),
    }
    log.info(
        "prediction",
        extra={
            "label": answer["label"],
            "quality_ok": report.ok,
            "uncertain": answer["uncertain"],
            "latency_ms": answer["latency_ms"],
        },
    )
    return answer
