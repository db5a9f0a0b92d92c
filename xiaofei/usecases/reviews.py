"""The doctor's read: reviewers, share links, reviews and the owner's consent to export.

* **Reviewers** are the site's doctors, kept by the operator (``xiaofei reviewer …``) as
  ``reviewers/{uid}.json`` — the keyed uid hash only, never the raw openid or session subject.
* **A share** lets one reviewer open one record: the owner asks for a link, and gets a signed token
  (JWT, HS256 under a key of its own, audience ``xiaofei-share``) naming the owner's uid, the record and
  the share id, with an expiry. The share itself lives *in the record* (``record["shares"]``), so the
  owner can revoke it, and deleting the record (or erasing the user) ends every share with it. The first
  reviewer who opens a share claims it: no other doctor can use the same link.
* **A review** (``record["review"]``): ``agree`` with the model, ``label`` (the doctor's own label),
  or ``cannot_tell``, and an optional note; the latest read of the record, shown to its owner.
* **Consent** (``record["consent"]``): the owner's explicit, revocable yes to using the film and the
  doctor's label to train the site's next model (``xiaofei export-reviewed``); absent means no.

Everything is a change to the one record object, written with a conditional write (``if_match``), so
the owner, a doctor and the upload trigger never overwrite each other's change. Every share, claim,
revocation, review and consent change appends an audit entry (``audit.py``), with uids only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt

from xiaofei import clock
from xiaofei.errors import (
    BadRequest,
    Conflict,
    InvalidShare,
    NotFound,
    NotReviewer,
    RecordNotReady,
    ShareClaimed,
    ShareExpired,
    ShareRevoked,
)
from xiaofei.identity import Caller
from xiaofei.ids import is_valid_id, new_id
from xiaofei.records import audit
from xiaofei.records.keys import REVIEWERS_PREFIX, is_uid, reviewer_key, reviewer_of_key
from xiaofei.usecases.common import Wrong

if TYPE_CHECKING:
    from xiaofei.app import App

log = logging.getLogger(__name__)

SHARE_AUDIENCE = "xiaofei-share"
MAX_SHARE_TOKEN_CHARS = 1024
DEFAULT_SHARE_HOURS = 72
MAX_SHARE_HOURS = 30 * 24
MAX_ACTIVE_SHARES = 5
MAX_NOTE_CHARS = 1000
MAX_NAME_CHARS = 60
VERDICTS = ("agree", "label", "cannot_tell")
_JSON = "application/json; charset=utf-8"
_UPDATE_ATTEMPTS = 5


def _epoch(iso: Any) -> float:
    try:
        return clock.parse_iso(str(iso))
    except ValueError:
        return 0.0


def _audit(app: App, action: str, by: str, **details: Any) -> None:
    audit.append(app.store, clock.now(), action, by=by, details=details)


# ------------------------------------------------------------------------------------------ reviewers


def is_reviewer_code(code: Any) -> bool:
    """A reviewer code is the doctor's uid (32 hex characters): what the clients show a doctor."""
    return is_uid(code)


def clean_name(name: Any) -> str:
    text = " ".join(str(name).split()) if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME_CHARS or not text.isprintable():
        raise BadRequest(
            f"The reviewer's name must be 1 to {MAX_NAME_CHARS} printable characters.",
            f"审阅医生姓名须为 1 到 {MAX_NAME_CHARS} 个可打印字符。",
        )
    return text


def get_reviewer(app: App, uid: str) -> dict[str, Any] | None:
    if not is_reviewer_code(uid):
        return None
    try:
        entry = json.loads(app.store.get(reviewer_key(uid)))
    except NotFound:
        return None
    except ValueError:
        log.warning("reviewers: an unreadable entry")
        return None
    return entry if isinstance(entry, dict) and entry.get("uid") == uid else None


def add_reviewer(
    app: App, uid: str, name: Any, *, provider: str, by: str, reason: str = ""
) -> dict[str, Any]:
    entry = {
        "uid": uid,
        "name": clean_name(name),
        "provider": provider,
        "added_at": clock.now_iso(),
        "by": by,
    }
    key = reviewer_key(uid)
    app.store.put(key, json.dumps(entry, ensure_ascii=False).encode(), _JSON)
    audit.append(app.store, clock.now(), "reviewer_add", by=by, reason=reason, details={"reviewer": uid})
    return entry


def remove_reviewer(app: App, uid: str, *, by: str, reason: str = "") -> dict[str, Any]:
    entry = get_reviewer(app, uid)
    if entry is None:
        raise NotFound("No such reviewer.", "没有这位审阅医生。")
    app.store.delete(reviewer_key(uid))
    audit.append(app.store, clock.now(), "reviewer_remove", by=by, reason=reason, details={"reviewer": uid})
    return entry


def list_reviewers(app: App) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        infos, cursor = app.store.list(REVIEWERS_PREFIX, cursor=cursor)
        for info in infos:
            uid = reviewer_of_key(info.key)
            entry = get_reviewer(app, uid)
            if entry is not None:
                out.append(entry)
        if cursor is None:
            return sorted(out, key=lambda e: str(e.get("added_at")))


def whoami(app: App, who: Caller) -> dict[str, Any]:
    """The caller's reviewer code (to give the operator) and whether they are on the list."""
    entry = get_reviewer(app, who.uid)
    return {"code": who.uid, "reviewer": entry is not None, "name": entry["name"] if entry else None}


# ------------------------------------------------------------------------------------- share tokens


class ShareTokens:
    """Signed share tokens: a JWT (HS256) under a key derived for shares only, so neither a session
    token nor anything else this service signs can pass for a share."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a secret is required to sign share links")
        self._key = hmac.new(secret, b"xiaofei-share-hs256", hashlib.sha256).digest()

    def issue(self, owner_uid: str, record_id: str, share_id: str, expires_at: float) -> str:
        claims = {
            "iss": "xiaofei",
            "aud": SHARE_AUDIENCE,
            "sub": share_id,
            "own": owner_uid,
            "rec": record_id,
            "iat": int(clock.now()),
            "exp": int(expires_at),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: Any) -> tuple[str, str, str]:
        """``(owner_uid, record_id, share_id)``; ``ShareExpired`` past its expiry, else ``InvalidShare``
        for anything not signed by us exactly so (forged, tampered, truncated, another kind of token)."""
        if not isinstance(token, str) or not token or len(token) > MAX_SHARE_TOKEN_CHARS:
            raise InvalidShare()
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=SHARE_AUDIENCE,
                issuer="xiaofei",
                options={"require": ["exp", "iat", "sub", "own", "rec", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise ShareExpired() from None
        except jwt.PyJWTError:
            raise InvalidShare() from None
        owner, record_id, share_id = claims.get("own"), claims.get("rec"), claims.get("sub")
        if not (is_reviewer_code(owner) and is_valid_id(record_id) and is_valid_id(share_id)):
            raise InvalidShare()
        return str(owner), str(record_id), str(share_id)


def share_tokens(app: App) -> ShareTokens:
    return ShareTokens(hashlib.sha256(b"share:" + app.secret).digest())


# ---------------------------------------------------------------------------------- record updates


def update_record(
    app: App, uid: str, record_id: Any, mutate: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """Read the record, apply ``mutate`` and write it back only if nobody changed it meanwhile (retried
    a few times). ``mutate`` may raise an ``AppError``: then nothing is written."""
    if not is_valid_id(record_id):
        raise NotFound()
    key = app.history.record_key(uid, record_id)
    for _ in range(_UPDATE_ATTEMPTS):
        info = app.store.head(key)
        if info is None:
            raise NotFound()
        record = app.history.get(uid, record_id)
        updated = mutate(dict(record))
        body = json.dumps(updated, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            app.store.put(key, body, _JSON, if_match=info.etag)
            return updated
        except Conflict:
            continue  # someone else wrote it between our read and our write: read again
    raise Conflict()


def _require_done(record: dict[str, Any]) -> None:
    if record.get("status") != "done":
        raise RecordNotReady()


# ----------------------------------------------------------------------------------------- sharing


def parse_hours(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_SHARE_HOURS
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise _bad_hours()
    hours = int(value)
    if not 1 <= hours <= MAX_SHARE_HOURS:
        raise _bad_hours()
    return hours


def _bad_hours() -> BadRequest:
    return BadRequest(
        f"expires_in_hours must be a whole number from 1 to {MAX_SHARE_HOURS}.",
        f"expires_in_hours 必须是 1 到 {MAX_SHARE_HOURS} 的整数。",
        details={"field": "expires_in_hours"},
    )


def _active(share: dict[str, Any], now: float) -> bool:
    return not share.get("revoked_at") and _epoch(share.get("expires_at")) > now


def create_share(app: App, who: Caller, record_id: str, ttl_h: int) -> dict[str, Any]:
    """A link that lets one reviewer open this one record until it expires or the owner revokes it
    (``ttl_h``: its lifetime in hours, ``parse_hours``)."""
    share_id = new_id()
    now = clock.now()
    expires_at = now + ttl_h * 3600

    def add(record: dict[str, Any]) -> dict[str, Any]:
        _require_done(record)
        # Keep the share history readable: shares that ended over a month ago are dropped.
        shares = [
            s
            for s in record.get("shares") or []
            if isinstance(s, dict) and (_active(s, now) or _epoch(s.get("expires_at")) > now - 30 * 86400)
        ]
        if sum(1 for s in shares if _active(s, now)) >= MAX_ACTIVE_SHARES:
            raise BadRequest(
                f"This record already has {MAX_ACTIVE_SHARES} open share links; withdraw one first.",
                f"该记录已有 {MAX_ACTIVE_SHARES} 个有效的分享链接，请先撤回一个。",
                code="too_many_shares",
            )
        shares.append(
            {
                "id": share_id,
                "created_at": clock.iso(now),
                "expires_at": clock.iso(expires_at),
                "revoked_at": None,
            }
        )
        record["shares"] = shares
        record["updated_at"] = clock.now_iso()
        return record

    update_record(app, who.uid, record_id, add)
    token = share_tokens(app).issue(who.uid, str(record_id), share_id, expires_at)
    _audit(app, "share", f"user:{who.uid}", record=record_id, share=share_id, hours=ttl_h)
    base = app.settings.public_url.rstrip("/")
    return {
        "share": {"id": share_id, "record": record_id, "expires_at": clock.iso(expires_at)},
        "token": token,
        "url": f"{base}/review.html#share={token}",
        "mp_path": f"/pages/review/index?share={token}",
    }


def revoke_share(app: App, who: Caller, record_id: str, share_id: str) -> dict[str, Any]:

    def revoke(record: dict[str, Any]) -> dict[str, Any]:
        for share in record.get("shares") or []:
            if isinstance(share, dict) and share.get("id") == share_id:
                share["revoked_at"] = share.get("revoked_at") or clock.now_iso()
                record["updated_at"] = clock.now_iso()
                return record
        raise NotFound()

    update_record(app, who.uid, record_id, revoke)
    _audit(app, "share_revoke", f"user:{who.uid}", record=record_id, share=share_id)
    return {"revoked": share_id}


def bad_export() -> BadRequest:
    return BadRequest(
        "Field 'export' must be true or false.",
        "字段 export 必须为 true 或 false。",
        details={"field": "export"},
    )


def set_consent(app: App, who: Caller, record_id: str, export: bool) -> dict[str, Any]:
    """The owner's explicit yes (or, later, no) to the film and the doctor's label training a model."""

    def consent(record: dict[str, Any]) -> dict[str, Any]:
        _require_done(record)
        record["consent"] = {"export": export, "at": clock.now_iso()}
        record["updated_at"] = clock.now_iso()
        return record

    updated = update_record(app, who.uid, record_id, consent)
    _audit(app, "consent", f"user:{who.uid}", record=record_id, export=export)
    return {"id": record_id, "consent": updated["consent"]}


# ------------------------------------------------------------------------------- the doctor's side


def _shared(app: App, who: Caller, token: str) -> tuple[Caller, dict[str, Any], str, str, str]:
    """Check everything a doctor's use of a link needs; returns (doctor, reviewer entry, owner, record
    id, share id). The order says as little as possible: non-reviewers learn nothing about the link."""
    reviewer = get_reviewer(app, who.uid)
    if reviewer is None:
        raise NotReviewer(details={"reviewer_code": who.uid})
    owner, record_id, share_id = share_tokens(app).verify(token)
    return who, reviewer, owner, record_id, share_id


def _check_share(record: dict[str, Any], share_id: str, doctor_uid: str) -> dict[str, Any]:
    for share in record.get("shares") or []:
        if isinstance(share, dict) and share.get("id") == share_id:
            if share.get("revoked_at"):
                raise ShareRevoked()
            if _epoch(share.get("expires_at")) <= clock.now():
                raise ShareExpired()
            claimed = share.get("claimed_by")
            if claimed and claimed != doctor_uid:
                raise ShareClaimed()
            return share
    raise InvalidShare()  # signed by us, yet the record never had it: treat as forged


def _claim_share(app: App, owner: str, record_id: str, share_id: str, doctor: Caller, name: str) -> None:
    def claim(record: dict[str, Any]) -> dict[str, Any]:
        share = _check_share(record, share_id, doctor.uid)
        share["claimed_by"] = doctor.uid
        share["claimed_name"] = name
        share["opened_at"] = clock.now_iso()
        return record

    update_record(app, owner, record_id, claim)
    _audit(app, "share_open", f"reviewer:{doctor.uid}", record=record_id, share=share_id)


def labels_of(record: dict[str, Any]) -> list[dict[str, str]]:
    """The model's labels for this record (from its probabilities), in a stable order."""
    out = []
    for p in record.get("probabilities") or []:
        if isinstance(p, dict) and isinstance(p.get("label"), str):
            out.append(
                {
                    "id": p["label"],
                    "en": str(p.get("label_en") or p["label"]),
                    "zh": str(p.get("label_zh") or ""),
                }
            )
    return sorted(out, key=lambda item: item["id"])


_SHARED_FIELDS = (
    "id",
    "created_at",
    "status",
    "model",
    "label",
    "label_zh",
    "label_en",
    "confidence",
    "uncertain",
    "uncertain_reason",
    "quality",
    "probabilities",
    "probabilities_note",
    "disclaimer",
    "notice",
    "review",
)


def shared_view(app: App, record: dict[str, Any], share: dict[str, Any]) -> dict[str, Any]:
    """What a doctor sees of a shared record: the film, the model's answer and their own read —
    not the owner's uid, keys, consent, other shares, other doctors' reads or request ids."""
    ttl = app.settings.url_ttl_s
    out = {k: record[k] for k in _SHARED_FIELDS if k in record and k != "review"}
    # Only the read made through this link: an earlier doctor's read (another share) is not this
    # doctor's to see, and a second read is worth more when it is not anchored on the first.
    review = record.get("review")
    if isinstance(review, dict) and review.get("share") == share.get("id"):
        out["review"] = {k: v for k, v in review.items() if k != "reviewer"}
    for field, key_field in (("image", "image_key"), ("heatmap", "heatmap_key")):
        key = record.get(key_field)
        out[field] = {"url": app.store.presign_get(key, ttl)} if isinstance(key, str) and key else None
    return {
        "record": out,
        "labels": labels_of(record),
        "share": {"id": share["id"], "expires_at": share["expires_at"]},
        "verdicts": list(VERDICTS),
    }


def open_share(app: App, caller: Caller, token: str) -> dict[str, Any]:
    doctor, reviewer, owner, record_id, share_id = _shared(app, caller, token)
    record = app.history.get(owner, record_id)
    share = _check_share(record, share_id, doctor.uid)
    _require_done(record)
    if not share.get("claimed_by"):
        _claim_share(app, owner, record_id, share_id, doctor, reviewer["name"])
    return shared_view(app, record, share)


def validate_review(
    record: dict[str, Any], verdict: str | Wrong, label: str | Wrong | None, note: str | Wrong | None
) -> dict[str, Any]:
    if verdict not in VERDICTS:
        raise BadRequest(
            "verdict must be one of: " + ", ".join(VERDICTS),
            "verdict 必须是：" + "、".join(VERDICTS),
            details={"field": "verdict"},
        )
    ids = [item["id"] for item in labels_of(record)]
    if verdict == "agree" and not record.get("label"):
        raise BadRequest(
            "The model gave no label for this image: give yours, or 'cannot_tell'.",
            "模型没有给出结论：请给出你的判断，或选择“无法判断”。",
            details={"field": "verdict"},
        )
    if verdict == "label":
        if label not in ids:
            raise BadRequest(
                "label must be one of: " + ", ".join(ids),
                "label 必须是：" + "、".join(ids),
                details={"field": "label", "labels": ids},
            )
    elif label not in (None, ""):
        raise BadRequest(
            "label goes only with the verdict 'label'.",
            "只有 verdict 为 label 时才能填写 label。",
            details={"field": "label"},
        )
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise BadRequest(
            f"note must be text of at most {MAX_NOTE_CHARS} characters.",
            f"备注须为不超过 {MAX_NOTE_CHARS} 个字符的文本。",
            details={"field": "note"},
        )
    note = note.strip()
    if any(not (ch.isprintable() or ch in "\n\t") for ch in note):
        raise BadRequest("note contains control characters.", "备注包含控制字符。", details={"field": "note"})
    doctor_label = record.get("label") if verdict == "agree" else (label if verdict == "label" else None)
    return {"verdict": verdict, "label": doctor_label, "note": note}


def review_share(
    app: App,
    caller: Caller,
    token: str,
    verdict: str | Wrong,
    label: str | Wrong | None = None,
    note: str | Wrong | None = None,
) -> dict[str, Any]:
    """Record the doctor's read on the shared record (replacing their earlier read of it).

    ``verdict``, ``label`` and ``note`` are checked against the record; one given with the wrong type
    (``WRONG``) fails its check here, in its place among the others."""
    doctor, reviewer, owner, record_id, share_id = _shared(app, caller, token)
    review: dict[str, Any] = {}

    def write(record: dict[str, Any]) -> dict[str, Any]:
        share = _check_share(record, share_id, doctor.uid)
        _require_done(record)
        review.update(validate_review(record, verdict, label, note))
        review.update(
            {
                "by": reviewer["name"],
                "reviewer": doctor.uid,
                "at": clock.now_iso(),
                "share": share_id,
                "model_label": record.get("label"),
                "model_version": (record.get("model") or {}).get("version"),
            }
        )
        share.setdefault("claimed_by", doctor.uid)
        share.setdefault("claimed_name", reviewer["name"])
        record["review"] = dict(review)
        record["updated_at"] = clock.now_iso()
        return record

    update_record(app, owner, record_id, write)
    _audit(
        app,
        "review",
        f"reviewer:{doctor.uid}",
        record=record_id,
        share=share_id,
        verdict=review["verdict"],
        agrees=review["label"] == review["model_label"] if review["label"] else None,
    )
    return {"review": review}


__all__ = [
    "ShareTokens",
    "add_reviewer",
    "create_share",
    "list_reviewers",
    "open_share",
    "remove_reviewer",
    "review_share",
    "revoke_share",
    "set_consent",
    "whoami",
]
