"""The site's reviewed records, read from the store: what the agreement report, the export for retraining
and the evaluation gate's ``reviewed`` check all start from.

A record is reviewed when a doctor gave it a verdict (``record["review"]``, written by
``usecases.reviews``); ``doctor_label`` is the label that verdict stands for. ``reviewed_films`` are the
reviewed films with a doctor's label and their image bytes, newest first: the evaluation gate scores a
candidate on them (``lifecycle.evaluation._check_reviewed``), which is why they live below the lifecycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from xiaofei.errors import BadRequest, NotFound
from xiaofei.records.keys import HISTORY_PREFIX, record_owner

if TYPE_CHECKING:
    from xiaofei.storage.open import ObjectStore


def doctor_label(record: dict[str, Any]) -> str | None:
    """The doctor's label of a reviewed record (None: not reviewed, or 'cannot tell')."""
    review = record.get("review")
    if not isinstance(review, dict) or review.get("verdict") not in ("agree", "label"):
        return None
    label = review.get("label")
    return label if isinstance(label, str) and label else None


def all_records(store: ObjectStore) -> Iterator[dict[str, Any]]:
    """Every record of every user (the operator's view), skipping unreadable or misplaced objects."""
    cursor = None
    while True:
        infos, cursor = store.list(HISTORY_PREFIX, cursor=cursor)
        for info in infos:
            owner = record_owner(info.key)
            if owner is None:
                continue
            try:
                record = json.loads(store.get(info.key))
            except (NotFound, ValueError):
                continue
            if isinstance(record, dict) and record.get("uid") == owner:
                yield record
        if cursor is None:
            return


def parse_since(value: str | None) -> str | None:
    """``YYYY-MM-DD`` (or a full ISO time) → the ISO prefix records compare with; None for no bound."""
    if value in (None, ""):
        return None
    text = str(value)
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        except ValueError:
            continue
    raise BadRequest("--since must be a date, YYYY-MM-DD.", "--since 必须是日期，格式 YYYY-MM-DD。")


def reviewed_records(
    store: ObjectStore, model: str, *, version: str | None = None, since: str | None = None
) -> list[dict[str, Any]]:
    since_iso = parse_since(since)
    out = []
    for record in all_records(store):
        info = record.get("model") or {}
        if info.get("name") != model or record.get("status") != "done":
            continue
        if not isinstance(record.get("review"), dict):
            continue
        if version is not None and info.get("version") != version:
            continue
        if since_iso and str(record.get("created_at", "")) < since_iso:
            continue
        out.append(record)
    return out


@dataclass(frozen=True)
class ReviewedFilm:
    record_id: str
    label: str  # the doctor's
    data: bytes  # the stored image


def reviewed_films(store: ObjectStore, model: str, limit: int = 2000) -> list[ReviewedFilm]:
    """The reviewed films with a doctor's label, newest first, with their image bytes from the store."""
    films: list[ReviewedFilm] = []
    records = sorted(
        (
            r
            for r in reviewed_records(store, model)
            if doctor_label(r) and isinstance(r.get("image_key"), str)
        ),
        key=lambda r: str(r.get("created_at", "")),
        reverse=True,
    )
    for record in records[:limit]:
        label = doctor_label(record)
        try:
            data = store.get(record["image_key"])
        except NotFound:
            continue
        if label is not None:
            films.append(ReviewedFilm(str(record["id"]), label, data))
    return films
