"""``xiaofei export-reviewed``: the site's reviewed films whose owners consented, for retraining.

Writes the folder layout ``python -m model.pipeline train --layout folders`` reads, one folder per label
(the doctor's label), plus ``export.json``::

    OUT/normal/3f9c…_a17b….jpg          {patient}_{film}.jpg: keyed pseudonyms, never a uid or record id
    OUT/bacterial/…
    OUT/export.json                      what was written, with the group pattern for the pipeline

A record leaves the store only if its owner's consent flag is ``true`` *now* (``record["consent"]``,
set and withdrawn in the clients) and a reviewer gave it a label (``agree`` or their own; ``cannot_tell``
is never exported). Files are named by keyed hashes, so the export cannot be linked back to a user,
while one patient's films share a prefix: ``--group-pattern '^(?P<group>[0-9a-f]{16})_'`` keeps them
in one split. The export is built in a temporary folder beside ``OUT`` and moved into place at the end,
so a failure leaves nothing half-written; ``OUT`` must not exist yet (or be empty).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xiaofei import clock
from xiaofei.errors import BadRequest, NotFound
from xiaofei.records import audit
from xiaofei.records.reviewed import all_records, doctor_label, parse_since

if TYPE_CHECKING:
    from xiaofei.app import App

GROUP_PATTERN = r"^(?P<group>[0-9a-f]{16})_"
_NAME_RE = r"^[a-z0-9_]{1,40}$"


def _pseudonym(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


def exportable(record: dict[str, Any], model: str, since: str | None) -> str | None:
    """The doctor's label if this record may be exported now, else None."""
    if record.get("status") != "done" or (record.get("model") or {}).get("name") != model:
        return None
    consent = record.get("consent")
    if not isinstance(consent, dict) or consent.get("export") is not True:
        return None
    if since and str(record.get("created_at", "")) < since:
        return None
    label = doctor_label(record)
    if label is None or not isinstance(record.get("image_key"), str):
        return None
    return label


def export_reviewed(
    app: App, out: Path, *, model: str = "pneumonia", since: str | None = None, by: str = "cli"
) -> dict[str, Any]:
    import re

    if not re.match(_NAME_RE, model):
        raise BadRequest("Unknown model name.", "模型名称无效。")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadRequest(f"{out} already exists and is not empty.", f"{out} 已存在且不为空。")
    since_iso = parse_since(since)
    key = hmac.new(app.secret, b"xiaofei-export-pseudonym", hashlib.sha256).digest()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    items: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    try:
        for record in all_records(app.store):
            if (record.get("model") or {}).get("name") != model or not record.get("review"):
                continue
            label = exportable(record, model, since_iso)
            if label is None:
                consent = record.get("consent")
                skipped[
                    "no_consent" if not (isinstance(consent, dict) and consent.get("export")) else "other"
                ] += 1
                continue
            try:
                data = app.store.get(record["image_key"])
            except NotFound:
                skipped["image_missing"] += 1
                continue
            name = f"{_pseudonym(key, 'u:' + record['uid'])}_{_pseudonym(key, 'r:' + record['id'])}.jpg"
            (staging / label).mkdir(exist_ok=True)
            (staging / label / name).write_bytes(data)
            review = record["review"]
            items.append(
                {
                    "file": f"{label}/{name}",
                    "label": label,
                    "verdict": review.get("verdict"),
                    "model_version": (record.get("model") or {}).get("version"),
                    "model_label": record.get("label"),
                    "reviewed_at": review.get("at"),
                }
            )
        summary = {
            "model": model,
            "exported_at": clock.now_iso(),
            "since": since_iso,
            "count": len(items),
            "labels": dict(sorted(Counter(i["label"] for i in items).items())),
            "skipped": dict(skipped),
            "group_pattern": GROUP_PATTERN,
            "train": (
                f"python -m model.pipeline train --data {out} --layout folders --model {model} "
                f"--group-pattern '{GROUP_PATTERN}'"
            ),
            "items": sorted(items, key=lambda i: i["file"]),
        }
        (staging / "export.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    audit.append(
        app.store,
        clock.now(),
        "export",
        by=by,
        model=model,
        details={"count": len(items), "labels": summary["labels"], "skipped": dict(skipped)},
    )
    return summary
