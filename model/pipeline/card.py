"""The model card: what the weights are and are not, how they were made, and what was measured."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _per_class_table(manifest: dict[str, Any]) -> list[str]:
    rows = ["| label | 中文 | precision | recall | F1 | n |", "|---|---|---|---|---|---|"]
    names = {lab["id"]: lab["zh"] for lab in manifest["labels"]}
    for label, m in manifest["metrics"]["per_class"].items():
        rows.append(
            f"| {label} | {names[label]} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['support']} |"
        )
    return rows


def _gate_table(gate: dict[str, Any]) -> list[str]:
    rows = ["| images | n | accepted | refused | reasons given |", "|---|---|---|---|---|"]

    def row(name: str, s: dict[str, Any]) -> None:
        reasons = ", ".join(f"{k} {v}" for k, v in s.get("reasons", {}).items()) or "—"
        rows.append(f"| {name} | {s['n']} | {_pct(s['accepted'])} | {_pct(s['rejected'])} | {reasons} |")

    row("validation images (should pass)", gate["val"])
    row("re-captured validation images (should pass)", gate["val_recaptured"])
    for kind, s in gate["non_target_by_kind"].items():
        row(f"not this kind: {kind.replace('_', ' ')}", s)
    row("badly exposed (should be refused)", gate["bad_exposure"])
    if "real_photos" in gate:
        row("real photos (scikit-image samples)", gate["real_photos"])
    return rows


KERMANY_2018 = {  # Kermany et al. 2018 (Cell), transfer learning (Inception v3) on the official 624-film test
    "pneumonia_vs_normal": {"accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "auc": 0.968},
    "viral_vs_bacterial": {"accuracy": 0.907, "sensitivity": 0.886, "specificity": 0.909, "auc": 0.940},
}
# The targets this package was built to (issue 11), on its own patient-disjoint test split.
TARGETS = {"accuracy": 0.88, "macro_f1": 0.86, "recall": 0.80, "auc": 0.97, "ece_after": 0.04}


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _targets(m: dict[str, Any]) -> list[str]:
    lowest = min(c["recall"] for c in m["per_class"].values())
    auc = m["binary"]["pneumonia_vs_normal"]["auc"]
    rows = [
        ("3-class accuracy", m["accuracy"], TARGETS["accuracy"], m["accuracy"] >= TARGETS["accuracy"]),
        ("macro-F1", m["macro_f1"], TARGETS["macro_f1"], m["macro_f1"] >= TARGETS["macro_f1"]),
        ("lowest class recall", lowest, TARGETS["recall"], lowest >= TARGETS["recall"]),
        ("pneumonia-vs-normal AUC", auc, TARGETS["auc"], auc >= TARGETS["auc"]),
        (
            "ECE after temperature",
            m["ece_after"],
            TARGETS["ece_after"],
            m["ece_after"] <= TARGETS["ece_after"],
        ),
    ]
    out = ["| measure | measured | target | |", "|---|---|---|---|"]
    out += [
        f"| {name} | {v:.3f} | {'≤' if 'ECE' in name else '≥'} {t} | {_mark(ok)} |" for name, v, t, ok in rows
    ]
    return out


def _comparison(m: dict[str, Any]) -> list[str]:
    out = [
        "| task | measure | this model (own test split) | Kermany et al. 2018 (official test split) |",
        "|---|---|---|---|",
    ]
    for task, theirs in KERMANY_2018.items():
        ours = m["binary"][task]
        for key, value in theirs.items():
            out.append(f"| {task.replace('_', ' ')} | {key} | {ours[key]:.3f} | {value:.3f} |")
    return out


def _real_table(real: dict[str, Any]) -> list[str]:
    out = ["| images | n | accepted | outcomes | warnings on accepted ones |", "|---|---|---|---|---|"]

    def row(name: str, s: dict[str, Any]) -> None:
        outcomes = ", ".join(f"{k} {v}" for k, v in s.get("outcomes", {}).items())
        warned = ", ".join(f"{k} {v}" for k, v in s.get("warnings_when_accepted", {}).items()) or "—"
        out.append(f"| {name} | {s['n']} | {_pct(s['accepted'])} | {outcomes} | {warned} |")

    for name, s in real.items():
        if "held_out" in s:
            row(f"{name} (held out of the fit)", s["held_out"])
            row(f"{name} (fitted)", s["fitted"])
        elif "outcomes" in s:
            row(name, s)
    return out


def _real_data_note(manifest: dict[str, Any]) -> str:
    if manifest.get("quality", {}).get("kind") == "radiograph":
        return (
            "Measured by `model/pipeline/realsets.py` on the package as served. `cxr-other` (adults, other "
            "hospitals) was never used to fit anything; of `not-chest` only the fit share (`kind.held_out`) "
            "trained the kind model. Photos of films are simulated (perspective, glare, moiré, vignetting, "
            "colour cast, JPEG)."
        )
    return (
        "Measured by `model/pipeline/realsets.py` on the package as served: the held-out share "
        "(`kind.held_out`) of the real photos and of the real images of other kinds was never fitted."
    )


def _kind_positives(manifest: dict[str, Any]) -> str:
    if manifest.get("quality", {}).get("kind") == "radiograph":
        return "the training split, phone photos of films, burnt-in text"
    return "the training split and the fit share of the real photos"


def _real_sections(manifest: dict[str, Any], evaluation: dict[str, Any]) -> list[str]:
    """Targets, the comparison with Kermany et al. and the figures on shared/data (real models)."""
    m = manifest["metrics"]
    lines: list[str] = []
    if "binary" in m:
        lines += ["## Targets", "", *_targets(m), "", "## Compared with Kermany et al. 2018", ""]
        lines += [
            "Not the same test set: Kermany et al. report on the official 624-film test split, which is not "
            "available here; this model's figures are on its own patient-disjoint split of the official "
            "train and val folders (same hospital, same years). Their network was Inception v3 pretrained on "
            "ImageNet; this one was trained from scratch (no pretrained weights can be had here).",
            "",
            *_comparison(m),
            "",
        ]
    real = evaluation.get("real_sets")
    if real:
        lines += [
            "## On real images of shared/data (through the serving code)",
            "",
            _real_data_note(manifest),
            "",
            *_real_table(real),
            "",
        ]
        for key in ("native_vs_224", "cam_on_lungs_kermany_native"):
            if key in real:
                lines.append(
                    f"- {key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in real[key].items())
                )
        lines.append("")
    return lines


def _kept_weights(t: dict[str, Any]) -> str:
    epochs = t.get("best_epochs") or [t["best_epoch"]]
    which = f"epoch {epochs[0]}" if len(epochs) == 1 else "epochs " + ", ".join(map(str, epochs))
    if t.get("ema_decay"):
        return (
            f"the moving average of the weights (decay {t['ema_decay']}) was validated after every epoch and "
            f"kept at its best validation macro-F1: {which}"
        )
    return f"weights of {which}, the best validation macro-F1"


def _network_line(t: dict[str, Any]) -> str:
    size = f"{t['parameters']:,} parameters, {t['multiply_adds'] / 1e6:.0f} M multiply-adds per image"
    members = int(t.get("members") or 1)
    if members > 1:
        seeds = ", ".join(str(t["seed"] + i) for i in range(members))
        return (
            f"- An ensemble of {members} {t['backbone']} networks (width {t['width']} each; {size} in all), "
            f"each trained from scratch on the same films with its own seed ({seeds}); the answer is the "
            "mean of their logits, one graph, one heatmap."
        )
    return f"- A {t['backbone']} network (width {t['width']}, {size}) trained from scratch, seed {t['seed']}."


def model_card(manifest: dict[str, Any], evaluation: dict[str, Any]) -> str:
    m, t, q = manifest["metrics"], manifest["training"], manifest["thresholds"]
    g = m["gate"]
    unc = m["uncertain"]
    name, version = manifest["name"], manifest["version"]
    synthetic = t["synthetic"]
    split = m["split"]
    lines = [f"# Model card: `{name}` {version}", ""]
    if manifest["demo"]:
        lines += [
            "> **Demo model — not for clinical use.** The weights were trained by this project's pipeline on "
            "**synthetic images** that it draws itself, not on real patients' images. The numbers below were "
            f"measured on the held-out **synthetic** test split (`{split}`): they say the pipeline works, "
            "not that the model can read a real radiograph or photo. Every answer of this model carries "
            "`demo: true`.",
            ">",
            "> **演示模型，不可用于临床。** "
            "权重由本项目的流水线在其自行生成的**合成图像**上训练，而非真实患者图像。"
            "以下指标均在预留的**合成**测试集上测得，只说明流水线可用，不代表模型能判读真实的X光片或照片。"
            "该模型的每个结果都带有 `demo: true` 标记。",
            "",
        ]
    lines += [
        f"{manifest['description']['en']}",
        "",
        f"{manifest['description']['zh']}",
        "",
        "## What the weights are, and are not",
        "",
    ]
    if synthetic:
        lines += [
            f"- **Are**: a {t['backbone']} network ({t['parameters']:,} parameters, "
            f"{t['multiply_adds'] / 1e6:.0f} M multiply-adds per image) trained from scratch, seed "
            f"{t['seed']}, "
            f"on {sum(t['counts']['train'].values())} synthetic images: {t['data']}",
            "- **Are not**: trained or validated on any real clinical image. They have never seen a real "
            "chest "
            "film or a real skin lesion; their accuracy on real images is unknown and must be assumed poor. "
            "Use them to run, test and benchmark the service, never to read a patient's image.",
            "- The input gate was fitted on the same synthetic distribution, so it may refuse real images "
            "that a model trained on real data would accept."
            if "kind_model" not in manifest.get("quality", {})
            else "- Only the input gate's kind model has seen real images (the fit share of the real photos "
            "and of other kinds, below); the classifier's weights never did.",
        ]
    else:
        who = manifest.get("trained_on", {})
        lines = [
            lines[0],
            "",
            f"> **Not clinically validated.** Trained on real films of one population: {who.get('en', '')}. "
            "A film far from the training films (by the model's own features) is answered with an "
            "`outside_training_data` warning, but the warning does not catch every adult film, other "
            "machine or photo of a film (see the real-data table below): its absence does not mean the "
            "film is like the training films. A doctor must read every film.",
            ">",
            f"> **未经临床验证。** 训练数据为单一人群的真实胸片：{who.get('zh', '')}。"
            "与训练胸片差别大（按模型自身特征衡量）的片子会附带 `outside_training_data` 警告，"
            "但该警告并不能识别所有成人胸片、其他设备的片子或翻拍的胶片（见下方真实数据表）：没有警告不代表片子与训练数据相似。"
            "每张胸片都须由医生阅读。",
            "",
            *lines[2:],
            f"- Trained on: {t['data']}",
            _network_line(t),
        ]
    lines += [
        "",
        "## Intended use",
        "",
        f"- {manifest['intended_use']['en']}",
        f"- {manifest['intended_use']['zh']}",
        f"- Out of scope: {manifest['out_of_scope']['en']}",
        f"- 不适用：{manifest['out_of_scope']['zh']}",
        "",
        "## Input and outputs",
        "",
        f"- Input `{manifest['input']['name']}`: {manifest['input']['channels']} channel(s), "
        f"{manifest['input']['size'][0]}×{manifest['input']['size'][1]}, resize "
        f"`{manifest['input']['resize']}`, "
        f"pixel / {manifest['input']['scale']:g}, mean {manifest['input']['mean']}, std "
        f"{manifest['input']['std']} "
        "(measured on the training images). " + manifest["input"]["why"],
        "- Outputs: `logits` [1, K] and `features` [1, C, h, w] (the last convolutional feature map); "
        "`logits` = linear(global average of `features`), so the heatmap is exact plain CAM "
        "(weights in the manifest's `cam`).",
        "- Labels, in logit order:",
        "",
    ]
    lines += [
        f"  - `{lab['id']}` {lab['en']} / {lab['zh']}: {lab['description_en']} {lab['description_zh']}"
        for lab in manifest["labels"]
    ]
    lines += [
        "",
        f"## Results on the `{split}` split",
        "",
        f"Accuracy **{m['accuracy']:.3f}**, macro-F1 **{m['macro_f1']:.3f}** on {m['n']} images "
        f"({'synthetic, from seed streams never used in training' if synthetic else 'held-out patients'}).",
        "",
        *_per_class_table(manifest),
        "",
        "![confusion matrix](train/confusion.png)",
        "",
        "## Calibration and abstention",
        "",
        f"- Temperature scaling fitted on the validation split: T = {manifest['temperature']:.3f}.",
        f"- Expected calibration error (15 bins) on `{split}`: **{m['ece_before']:.3f} before → "
        f"{m['ece_after']:.3f} after** (validation: {m['ece_val_before']:.3f} → {m['ece_val_after']:.3f}).",
        f"- `uncertain`: an answer whose calibrated confidence is below **{q['uncertain_confidence']:.3f}** "
        "is "
        f"flagged. This is the lowest threshold at which the kept validation answers reach the target "
        f"accuracy of {100 * unc['target_accuracy']:.0f}%: it keeps {_pct(unc['coverage_val'])} of "
        "validation "
        f"answers ({_pct(unc['accuracy_kept_val'])} correct) and {_pct(unc['coverage_test'])} of `{split}` "
        f"answers ({_pct(unc['accuracy_kept_test'])} correct). The margin threshold is not used (0).",
        "",
        "![reliability diagram](train/reliability.png)",
        "",
        "## Input gate (is this the right kind of image?)",
        "",
        "Cheap image statistics (colour saturation, skin-coloured share, aspect, edge density, histogram "
        "entropy, brightness, contrast) plus two scores of the model itself (Mahalanobis distance of the "
        "pooled "
        "features to the nearest class mean, energy of the logits), with every threshold fitted by the "
        "pipeline on images of this model's kind only (policy in `manifest.quality.fit`). Images of other "
        "kinds below were never used to fit it (held-out seeds; real photos).",
        "",
        f"- Acceptance of validation images: **{_pct(g['acceptance_val'])}** (target ≥ 99%).",
        f"- Rejection of held-out images of other kinds: **{_pct(g['rejection_non_target'])}** (target ≥ "
        "95%), "
        f"with the expected reason {_pct(g['right_reason_non_target'])} of the time.",
        f"- Rejection of badly exposed images: {_pct(g['rejection_bad_exposure'])}, expected reason "
        f"{_pct(g['right_reason_bad_exposure'])}.",
    ]
    if g.get("rejection_real_photos") is not None:
        lines.append(
            f"- Rejection of real photos (scikit-image samples, {g['n_real_photos']} crops): "
            f"**{_pct(g['rejection_real_photos'])}**."
        )
    lines += ["", *_gate_table(evaluation["gate"]), ""]
    kind = manifest["quality"].get("kind_model")
    if kind:
        fit, val = kind["fit"]["fit"], kind["fit"]["val"]
        lines += [
            "### The kind model",
            "",
            "The gate's kind decision is a separate small network in the same ONNX graph (output `kind`, "
            f"{fit['parameters']:,} parameters, the input averaged to ~64 px): trained on {fit['positives']} "
            f"images of this kind ({_kind_positives(manifest)}) against "
            f"{fit['negatives']} of other kinds (drawn CT, MRI, ultrasound, mammograms, limbs, skulls, "
            + (
                ("lateral chest films, " if fit.get("drawn_laterals") else "")
                + "lateral-like halves of films, "
                if manifest.get("quality", {}).get("kind") == "radiograph"
                else "chest films, "
            )
            + "photos, documents, screenshots, and "
            f"{fit['real_negatives']} real images of other kinds; {fit['real_negatives_held_out']} more were "
            f"held out). Threshold P(kind) ≥ "
            f"{kind['threshold']}: on validation images it accepts {_pct(val['positives_accepted'])} of this "
            f"kind and refuses {_pct(val['negatives_refused'])} of drawn other kinds."
            + (
                " Both classes are augmented wider than the diagnostic model's films (tilt up to ±11°, zoom "
                "0.75-1.3, proportions ±15%, sharpened or softened, harder tone curves), so that films "
                "framed and processed by other hospitals' machines still look like films to it."
                if fit.get("augment") == "chest_wide"
                else ""
            )
            + (
                " The threshold and the colour ranges are fitted to the real photos too: it accepts "
                f"{_pct(val['real_fit_positives_accepted'])} of the {val['n_real_positives']} real photos of "
                f"the fit share and refuses {_pct(val['real_fit_negatives_refused'])} of its "
                f"{val['n_real_negatives']} real images of other kinds (both in-sample: the held-out share "
                "below judges it)."
                if "real_fit_positives_accepted" in val
                else ""
            )
            + " The diagnostic model's Mahalanobis and energy scores then only warn "
            "(`outside_training_data`) when a film is far from the training population.",
            "",
        ]
    lines += _real_sections(manifest, evaluation)
    lines += [
        "## Training",
        "",
        f"- Data: {t['data']}",
        "- Images per split: " + "; ".join(f"{s}: {sum(c.values())}" for s, c in t["counts"].items()),
        f"- {t['loss']}; {t['optimiser']}; {t['epochs']} epochs ({_kept_weights(t)}).",
        f"- Augmentation: {t['augmentation']}; {100 * t['badly_exposed_share']:.0f}% of images badly exposed "
        "on purpose, so that the model still recognises such an image and the gate can say *too dark* "
        "rather than *the wrong kind of image*.",
        "- Deterministic: seeded, fixed threads, `torch.use_deterministic_algorithms(True)` (torch "
        f"{t['torch']}): on one machine a rebuild gave the same weights to the bit (three skin builds, "
        "2026-12-04); another CPU's kernels may round differently, and over 24 epochs that is a different "
        "network of about the same quality (the same command and seed gave pneumonia 2.0.0 and 2.1.0 "
        "different weights).",
        "",
        "## Files",
        "",
        "- `model.onnx` (opset 17, batch 1), `manifest.json` (sha256 of the ONNX file inside).",
        "- `train/weights.pt`: the PyTorch state dict (`model.pipeline.nets.load_torch_model`), "
        "`train/evaluation.json`: every number above and more.",
        "- `golden/`: a small labelled set for the registry's evaluation gate (synthetic, from a seed stream "
        "not used in training)."
        if synthetic
        else "- No golden set ships with a model trained on real films (the films may not be redistributed, "
        "and "
        "drawn films cannot judge a real model): until an operator uploads the site's own "
        "(`xiaofei model golden NAME DIR`, docs/OPERATOR.md) the evaluation gate refuses every candidate."
        if not synthetic
        else "",
        "",
        "Rebuild: `make models` (pneumonia from shared/data, then the skin demo), `make demo-models` (the "
        "skin demo alone). Train on other data: "
        "`python -m model.pipeline train --data DIR --layout kermany|folders --backbone NAME --out DIR`.",
        "",
    ]
    return "\n".join(lines)
