"""Agreement between the model and the site's doctors, per model version (``xiaofei model agreement``).

From every reviewed record of a model (``record["review"]``, see ``reviews``):

* the confusion matrix, rows the doctor's label, columns the model's (films the model refused or the
  doctor could not tell are counted apart, not in the matrix);
* per class, sensitivity (of the films the doctor gave that label, the share the model gave it too) and
  specificity (of the other films, the share the model did not give it), each with a 95 % Wilson
  score interval — the interval that stays inside [0, 1] and behaves on the small counts a site has;
* overall agreement (with its interval) and Cohen's kappa;
* the rates of uncertain answers, of refusals (the input gate said "not this kind of image") and of
  "cannot tell" reads, each with its interval.

``report(...)`` renders that as a terminal table, and ``write_report`` as a self-contained HTML file
with a matplotlib figure (confusion matrices and sensitivity / specificity with their intervals) plus
the figures as JSON. The evaluation gate scores a candidate on the same reviewed films
(``records.reviewed.reviewed_films``), see ``lifecycle.evaluation._check_reviewed``.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xiaofei.records.reviewed import doctor_label, reviewed_records

if TYPE_CHECKING:
    from xiaofei.app import App

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (None when there is nothing to estimate)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _rate(successes: int, n: int) -> dict[str, Any]:
    interval = wilson(successes, n)
    return {
        "k": successes,
        "n": n,
        "value": round(successes / n, 4) if n else None,
        "ci95": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
    }


def _label_order(app: App, model: str, version: str, records: list[dict[str, Any]]) -> list[str]:
    """The manifest's label order when the registry knows the version, else the records' labels sorted."""
    try:
        return list(app.registry.manifest(model, version).label_ids)
    except Exception:  # an unknown or unreadable version: the records still say which labels exist
        labels = {
            p.get("label") for r in records for p in r.get("probabilities") or [] if isinstance(p, dict)
        }
        return sorted(str(label) for label in labels if label)


def figures(records: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """The agreement figures of one model version's reviewed records."""
    n = len(records)
    refused = [r for r in records if not (r.get("quality") or {}).get("ok", True) or not r.get("label")]
    answered = [r for r in records if r not in refused]
    cannot = [r for r in records if (r.get("review") or {}).get("verdict") == "cannot_tell"]
    matrix = [[0] * len(labels) for _ in labels]
    pairs = []
    for record in answered:
        truth, predicted = doctor_label(record), record.get("label")
        if truth in labels and predicted in labels:
            matrix[labels.index(truth)][labels.index(predicted)] += 1
            pairs.append((truth, predicted))
    total = sum(map(sum, matrix))
    per_class = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        positives = sum(matrix[i])
        predicted_pos = sum(row[i] for row in matrix)
        negatives = total - positives
        tn = negatives - (predicted_pos - tp)
        per_class[label] = {
            "support": positives,
            "sensitivity": _rate(tp, positives),
            "specificity": _rate(tn, negatives),
        }
    agree = sum(matrix[i][i] for i in range(len(labels)))
    expected = sum(sum(matrix[i]) * sum(row[i] for row in matrix) for i in range(len(labels)))
    kappa = None
    if total:
        pe = expected / (total * total)
        kappa = round((agree / total - pe) / (1 - pe), 4) if pe < 1 else None
    return {
        "reviewed": n,
        "labels": labels,
        "confusion": {"rows": "doctor", "columns": "model", "matrix": matrix},
        "compared": total,
        "agreement": _rate(agree, total),
        "kappa": kappa,
        "per_class": per_class,
        "uncertain_rate": _rate(sum(1 for r in answered if r.get("uncertain")), len(answered)),
        "refusal_rate": _rate(len(refused), n),
        "cannot_tell_rate": _rate(len(cannot), n),
        "refused_with_doctor_label": sum(1 for r in refused if doctor_label(r)),
    }


def agreement(
    app: App, model: str, *, version: str | None = None, since: str | None = None
) -> dict[str, Any]:
    """Per model version, newest first by the number of reviewed films."""
    by_version: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in reviewed_records(app.store, model, version=version, since=since):
        by_version[str((record.get("model") or {}).get("version"))].append(record)
    versions = {
        v: figures(records, _label_order(app, model, v, records)) for v, records in sorted(by_version.items())
    }
    return {"model": model, "version": version, "since": since, "versions": versions}


# ---------------------------------------------------------------------------------------- printing


def _fmt(rate: dict[str, Any]) -> str:
    if rate["value"] is None:
        return "—"
    lo, hi = rate["ci95"]
    return f"{rate['value']:.2f} [{lo:.2f}–{hi:.2f}] ({rate['k']}/{rate['n']})"


def report(result: dict[str, Any]) -> str:
    lines = [f"Agreement of {result['model']} with the site's doctors (95 % Wilson intervals)"]
    if not result["versions"]:
        lines.append("  no reviewed records" + (f" since {result['since']}" if result["since"] else ""))
    for version, fig in result["versions"].items():
        labels = fig["labels"]
        width = max([8, *(len(label) for label in labels)]) + 2
        lines += [
            "",
            f"version {version}: {fig['reviewed']} reviewed, {fig['compared']} with both a model and a "
            "doctor's label",
            f"  agreement {_fmt(fig['agreement'])}   kappa {'—' if fig['kappa'] is None else fig['kappa']}",
            f"  uncertain {_fmt(fig['uncertain_rate'])}   refused {_fmt(fig['refusal_rate'])}   "
            f"cannot tell {_fmt(fig['cannot_tell_rate'])}",
            "  doctor \\ model".ljust(width + 2) + "".join(label.rjust(width) for label in labels),
        ]
        for label, row in zip(labels, fig["confusion"]["matrix"], strict=True):
            lines.append(f"  {label}".ljust(width + 2) + "".join(str(c).rjust(width) for c in row))
        lines.append(f"  {'class':<{width}}{'sensitivity':<34}specificity")
        for label, pc in fig["per_class"].items():
            lines.append(f"  {label:<{width}}{_fmt(pc['sensitivity']):<34}{_fmt(pc['specificity'])}")
    return "\n".join(lines)


def plot_png(result: dict[str, Any]) -> bytes:
    """Confusion matrices and per-class sensitivity / specificity with their intervals, one row a version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    versions = list(result["versions"].items()) or [("none", None)]
    fig, axes = plt.subplots(len(versions), 2, figsize=(11, 4.2 * len(versions)), squeeze=False)
    for row, (version, f) in enumerate(versions):
        left, right = axes[row]
        if f is None:
            left.text(0.5, 0.5, "no reviewed records", ha="center", va="center")
            left.axis("off")
            right.axis("off")
            continue
        labels, matrix = f["labels"], f["confusion"]["matrix"]
        left.imshow(matrix, cmap="Blues")
        for i, line in enumerate(matrix):
            for j, count in enumerate(line):
                left.text(j, i, str(count), ha="center", va="center")
        left.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        left.set_yticks(range(len(labels)), labels)
        left.set_xlabel("model")
        left.set_ylabel("doctor")
        left.set_title(f"{result['model']} {version}: {f['compared']} films")
        for offset, key, colour in ((-0.15, "sensitivity", "tab:blue"), (0.15, "specificity", "tab:orange")):
            xs, ys, lo, hi = [], [], [], []
            for i, label in enumerate(labels):
                rate = f["per_class"][label][key]
                if rate["value"] is None:
                    continue
                xs.append(i + offset)
                ys.append(rate["value"])
                lo.append(rate["value"] - rate["ci95"][0])
                hi.append(rate["ci95"][1] - rate["value"])
            right.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=4, color=colour, label=key)
        right.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        right.set_ylim(0, 1.02)
        right.set_title("per class, 95 % Wilson intervals")
        right.legend(loc="lower right")
        right.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_report(result: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """``agreement-{model}.html`` (the table and the figure, self-contained) and ``.json``, ``.png``."""
    import html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"agreement-{result['model']}"
    png = plot_png(result)
    stem.with_suffix(".png").write_bytes(png)
    stem.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    page = (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>Agreement: {html.escape(result['model'])}</title>"
        "<h1>Model–doctor agreement</h1>"
        f"<pre>{html.escape(report(result))}</pre>"
        f"<img alt='confusion matrices and per-class intervals' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
    )
    stem.with_suffix(".html").write_text(page)
    return {k: str(stem.with_suffix("." + k)) for k in ("html", "json", "png")}
