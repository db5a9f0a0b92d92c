"""The doctor's read through the real handlers: a patient shares one record, a doctor on the reviewer
list opens it and records a read, the owner sees it; every forged, expired, revoked, foreign or
non-reviewer use of a link is refused with its documented code, and nothing is half-written."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from functions.history.index import main_handler as history_handler
from functions.predict.index import main_handler as predict_handler
from tests import films
from tests.conftest import SECRET, make_settings, wx_context
from tests.test_predict import call, http_event
from xiaofei import clock
from xiaofei.adapters import cli
from xiaofei.app import App, set_app
from xiaofei.errors import ALL_CODES
from xiaofei.records import audit
from xiaofei.usecases import reviews

OWNER, DOCTOR, OTHER_DOCTOR, STRANGER = (
    "oOwner-openid-0001",
    "oDoctor-openid-0002",
    "oDoc2-openid-0003",
    "oNobody-04",
)


def hist(openid: str, **data: Any) -> dict[str, Any]:
    result: dict[str, Any] = history_handler(data, wx_context(openid))
    return result


def predict_as(openid: str, seed: int = 0) -> dict[str, Any]:
    image = base64.b64encode(films.drawn("normal", seed)).decode()
    result: dict[str, Any] = predict_handler({"image": image}, wx_context(openid))
    assert "error" not in result, result
    return result


def code_of(result: dict[str, Any]) -> str:
    return str(result["error"]["code"])


def make_reviewer(app: App, openid: str, name: str = "Dr Li") -> str:
    code = hist(openid, action="reviewer")["code"]
    reviews.add_reviewer(app, code, name, provider="code", by="test")
    return str(code)


def stored_text(app: App) -> str:
    root = Path(app.settings.storage.removeprefix("file://"))
    return "\n".join(
        str(p.relative_to(root)) + " " + p.read_bytes().decode("utf-8", "replace")
        for p in root.rglob("*")
        if p.is_file() and p.suffix == ".json"
    )


@pytest.fixture
def shared(app: App) -> dict[str, Any]:
    """A done record of OWNER, shared once; DOCTOR is a reviewer."""
    record = predict_as(OWNER)
    link = hist(OWNER, action="share", id=record["id"], expires_in_hours=24)
    assert "error" not in link, link
    make_reviewer(app, DOCTOR)
    return {"record": record, "link": link, "token": link["token"]}


def test_share_review_and_the_owner_sees_it(app: App, shared: dict[str, Any]) -> None:
    record, link = shared["record"], shared["link"]
    # GIVEN a share link: the web page keeps the token in the fragment, the mini program in its path
    assert link["url"].endswith("/review.html#share=" + link["token"])
    assert link["mp_path"] == "/pages/review/index?share=" + link["token"]
    other = predict_as(OWNER, seed=1)  # a second record, never shared

    # WHEN the doctor opens it
    view = hist(DOCTOR, action="shared", share=link["token"])
    # THEN they see that one record's film and answer, and nothing of the owner's
    assert view["record"]["id"] == record["id"] and view["record"]["image"]["url"]
    assert set(view["record"]) >= {"label", "probabilities", "quality", "model", "heatmap"}
    assert not {"uid", "image_key", "upload_key", "consent", "shares"} & set(view["record"])
    assert [label["id"] for label in view["labels"]] == sorted(p["label"] for p in record["probabilities"])
    assert "image" not in json.dumps(view["record"]["image"]) or "key" not in view["record"]["image"]

    # WHEN they record a read: their own label and a note
    label = next(lb["id"] for lb in view["labels"] if lb["id"] != record["label"])
    saved = hist(DOCTOR, action="review", share=link["token"], verdict="label", label=label, note=" 右下肺 ")
    assert saved["review"]["label"] == label and saved["review"]["note"] == "右下肺"
    assert saved["review"]["by"] == "Dr Li" and saved["review"]["model_label"] == record["label"]

    # THEN the owner sees it on the record and in the history list (reviewed vs not)
    mine = hist(OWNER, action="get", id=record["id"])
    assert mine["review"]["verdict"] == "label" and mine["review"]["label"] == label
    assert mine["shares"][0]["claimed_name"] == "Dr Li"
    listed = {r["id"]: r for r in hist(OWNER, action="list")["items"]}
    assert "review" in listed[record["id"]] and "review" not in listed[other["id"]]

    # AND a second read replaces the first (agree with the model)
    again = hist(DOCTOR, action="review", share=link["token"], verdict="agree")
    assert again["review"]["label"] == record["label"]
    assert hist(OWNER, action="get", id=record["id"])["review"]["verdict"] == "agree"

    # AND share, open and review are audited with uids only
    actions = [e["action"] for e in audit.recent(app.store, limit=50)]
    assert {"share", "share_open", "review", "reviewer_add"} <= set(actions)
    text = stored_text(app)
    for openid in (OWNER, DOCTOR):
        assert openid not in text


def test_a_non_reviewer_is_refused_and_told_their_code(app: App, shared: dict[str, Any]) -> None:
    result = hist(STRANGER, action="shared", share=shared["token"])
    assert code_of(result) == "not_reviewer" and result["error"]["status"] == 403
    assert result["error"]["details"]["reviewer_code"] == hist(STRANGER, action="reviewer")["code"]
    assert code_of(hist(STRANGER, action="review", share=shared["token"], verdict="agree")) == "not_reviewer"
    # even the owner is not a reviewer of their own record
    assert code_of(hist(OWNER, action="shared", share=shared["token"])) == "not_reviewer"
    # a doctor taken off the list loses access at once
    reviews.remove_reviewer(app, hist(DOCTOR, action="reviewer")["code"], by="test")
    assert code_of(hist(DOCTOR, action="shared", share=shared["token"])) == "not_reviewer"
    assert "review" not in hist(OWNER, action="get", id=shared["record"]["id"])


def _tampered(token: str, **claims: Any) -> str:
    head, payload, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    new = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{head}.{new}.{sig}"


def test_forged_links_are_refused(app: App, shared: dict[str, Any]) -> None:
    token, record = shared["token"], shared["record"]
    other = predict_as(OWNER, seed=2)
    owner_uid = hist(OWNER, action="reviewer")["code"]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = {
        "another secret": reviews.ShareTokens(b"not-this-site").issue(
            owner_uid, record["id"], claims["sub"], claims["exp"]
        ),
        "another record": _tampered(token, rec=other["id"]),
        "longer": _tampered(token, exp=claims["exp"] + 10**6),
        "alg none": jwt.encode(claims, key="", algorithm="none"),
        "a session token": app.tokens.issue()[0],
        "truncated": token[:-5],
        "garbage": "not.a.token",
        "too long": token + "A" * 2000,
        "empty": "",
    }
    for what, bad in forged.items():
        result = hist(DOCTOR, action="shared", share=bad)
        assert code_of(result) == "invalid_share", what
        assert code_of(hist(DOCTOR, action="review", share=bad, verdict="agree")) == "invalid_share", what
    for bad in (None, 42, ["x"], {"t": token}):
        assert code_of(hist(DOCTOR, action="shared", share=bad)) == "invalid_share"
    # a signed link to a share the record never had (e.g. from a copy of the store) is refused too
    stray = reviews.share_tokens(app).issue(owner_uid, other["id"], claims["sub"], claims["exp"])
    assert code_of(hist(DOCTOR, action="shared", share=stray)) == "invalid_share"
    # nothing changed on either record
    for rid in (record["id"], other["id"]):
        mine = hist(OWNER, action="get", id=rid)
        assert "review" not in mine and not any(s.get("claimed_by") for s in mine.get("shares") or [])


def test_expired_links_are_refused(app: App, shared: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token, record = shared["token"], shared["record"]
    claims = jwt.decode(token, options={"verify_signature": False})
    # a token past its own expiry (signed by us)
    owner_uid = hist(OWNER, action="reviewer")["code"]
    old = reviews.share_tokens(app).issue(owner_uid, record["id"], claims["sub"], claims["iat"] - 1)
    result = hist(DOCTOR, action="shared", share=old)
    assert code_of(result) == "share_expired" and result["error"]["status"] == 410
    # the share's own expiry in the record decides as well, whatever the token says
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + 25 * 3600)
    assert code_of(hist(DOCTOR, action="shared", share=token)) == "share_expired"
    assert code_of(hist(DOCTOR, action="review", share=token, verdict="agree")) == "share_expired"
    monkeypatch.setattr(clock, "now", real_now)
    assert hist(DOCTOR, action="shared", share=token)["record"]["id"] == record["id"]


def test_a_revoked_share_is_refused(app: App, shared: dict[str, Any]) -> None:
    token, record = shared["token"], shared["record"]
    share_id = shared["link"]["share"]["id"]
    assert hist(DOCTOR, action="shared", share=token)["record"]["id"] == record["id"]
    # another user cannot revoke it, nor name a share that does not exist
    assert code_of(hist(STRANGER, action="unshare", id=record["id"], share_id=share_id)) == "not_found"
    assert code_of(hist(OWNER, action="unshare", id=record["id"], share_id="0" * 26)) == "not_found"
    assert code_of(hist(OWNER, action="unshare", id=record["id"], share_id="../x")) == "not_found"
    assert hist(OWNER, action="unshare", id=record["id"], share_id=share_id) == {"revoked": share_id}
    result = hist(DOCTOR, action="shared", share=token)
    assert code_of(result) == "share_revoked" and result["error"]["status"] == 410
    assert code_of(hist(DOCTOR, action="review", share=token, verdict="agree")) == "share_revoked"
    assert "share_revoke" in [e["action"] for e in audit.recent(app.store, limit=20)]
    # a new link works again
    fresh = hist(OWNER, action="share", id=record["id"])
    assert hist(DOCTOR, action="shared", share=fresh["token"])["record"]["id"] == record["id"]


def test_a_link_opens_for_one_doctor_only(app: App, shared: dict[str, Any]) -> None:
    token = shared["token"]
    make_reviewer(app, OTHER_DOCTOR, "Dr Wang")
    assert hist(DOCTOR, action="shared", share=token)["record"]["id"] == shared["record"]["id"]
    result = hist(OTHER_DOCTOR, action="shared", share=token)
    assert code_of(result) == "share_claimed" and result["error"]["status"] == 403
    assert code_of(hist(OTHER_DOCTOR, action="review", share=token, verdict="cannot_tell")) == "share_claimed"
    assert "review" not in hist(OWNER, action="get", id=shared["record"]["id"])
    # a second link for the other doctor: they do not see the first doctor's read
    hist(DOCTOR, action="review", share=token, verdict="agree", note="first read")
    assert hist(DOCTOR, action="shared", share=token)["record"]["review"]["note"] == "first read"
    assert "reviewer" not in hist(DOCTOR, action="shared", share=token)["record"]["review"]
    second = hist(OWNER, action="share", id=shared["record"]["id"])["token"]
    assert "review" not in hist(OTHER_DOCTOR, action="shared", share=second)["record"]


def test_only_the_owner_shares_and_deleted_records_end_their_links(app: App, shared: dict[str, Any]) -> None:
    record, token = shared["record"], shared["token"]
    assert code_of(hist(STRANGER, action="share", id=record["id"])) == "not_found"
    assert code_of(hist(STRANGER, action="consent", id=record["id"], export=True)) == "not_found"
    for bad_id in ("../../etc", "", None, 42, "Z" * 26):
        assert code_of(hist(OWNER, action="share", id=bad_id)) == "not_found"
    # erasure of the owner removes the record, its shares and reviews with it
    hist(DOCTOR, action="review", share=token, verdict="cannot_tell")
    hist(OWNER, action="delete_all")
    assert code_of(hist(DOCTOR, action="shared", share=token)) == "not_found"
    assert code_of(hist(DOCTOR, action="review", share=token, verdict="agree")) == "not_found"
    # (the append-only audit log keeps that a share and a read happened, by uid: nothing of the film)
    root = Path(app.settings.storage.removeprefix("file://"))
    assert not any(record["id"] in p.read_text() for p in root.rglob("*.json") if "audit" not in p.parts)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"verdict": None}, "verdict"),
        ({"verdict": "label", "label": "cancer"}, "label"),
        ({"verdict": "label"}, "label"),
        ({"verdict": "agree", "label": "normal"}, "label"),
        ({"verdict": "cannot_tell", "note": "x" * 1001}, "note"),
        ({"verdict": "cannot_tell", "note": "bad\x00note"}, "note"),
        ({"verdict": "cannot_tell", "note": 12}, "note"),
    ],
)
def test_bad_reviews_are_refused_and_nothing_is_written(
    app: App, shared: dict[str, Any], data: dict[str, Any], field: str
) -> None:
    result = hist(DOCTOR, action="review", share=shared["token"], **data)
    assert code_of(result) == "bad_request" and result["error"]["details"]["field"] == field
    assert "review" not in hist(OWNER, action="get", id=shared["record"]["id"])


@pytest.mark.parametrize("hours", [0, -1, 721, "abc", True, 1.5, [1]])
def test_bad_share_lifetimes_are_refused(app: App, hours: Any) -> None:
    record = predict_as(OWNER)
    result = hist(OWNER, action="share", id=record["id"], expires_in_hours=hours)
    assert code_of(result) == "bad_request" and result["error"]["details"]["field"] == "expires_in_hours"
    assert "shares" not in hist(OWNER, action="get", id=record["id"])


def test_consent_is_explicit_and_revocable(app: App) -> None:
    record = predict_as(OWNER)
    assert "consent" not in hist(OWNER, action="get", id=record["id"])  # absent means no
    for bad in ("yes", 1, None, "true"):
        result = hist(OWNER, action="consent", id=record["id"], export=bad)
        assert code_of(result) == "bad_request" and result["error"]["details"]["field"] == "export"
    assert hist(OWNER, action="consent", id=record["id"], export=True)["consent"]["export"] is True
    assert hist(OWNER, action="get", id=record["id"])["consent"]["export"] is True
    assert hist(OWNER, action="consent", id=record["id"], export=False)["consent"]["export"] is False
    assert [e["details"]["export"] for e in audit.recent(app.store) if e["action"] == "consent"] == [
        False,
        True,
    ]


def test_a_pending_record_cannot_be_shared_or_consented(app: App) -> None:
    upload = hist(OWNER, action="list")  # warm the function
    assert upload["items"] == []
    pending = predict_handler({"action": "upload", "ext": "jpg"}, wx_context(OWNER))
    for action, extra in (("share", {}), ("consent", {"export": True})):
        result = hist(OWNER, action=action, id=pending["id"], **extra)
        assert code_of(result) == "record_not_ready" and result["error"]["status"] == 409


def test_too_many_open_links(app: App) -> None:
    record = predict_as(OWNER)
    for _ in range(reviews.MAX_ACTIVE_SHARES):
        assert "token" in hist(OWNER, action="share", id=record["id"])
    assert code_of(hist(OWNER, action="share", id=record["id"])) == "too_many_shares"


def test_new_codes_are_documented() -> None:
    api = (Path(__file__).resolve().parent.parent / "docs" / "API.md").read_text()
    for code in (
        "not_reviewer",
        "invalid_share",
        "share_claimed",
        "share_expired",
        "share_revoked",
        "record_not_ready",
        "too_many_shares",
    ):
        assert f"`{code}`" in api, code
    assert ALL_CODES["share_expired"] == 410 and ALL_CODES["invalid_share"] == 403


# ------------------------------------------------------------------------------- over HTTP (web doctor)


def http(method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    data = b"" if body is None else json.dumps(body).encode()
    return call(http_event(method, path, data, headers=headers))


def test_web_owner_and_web_doctor_over_http(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a web doctor added by the operator with the CLI (a sign-in link with a token)
    for key, value in {"XIAOFEI_STORAGE": app.settings.storage, "XIAOFEI_SECRET": SECRET}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["reviewer", "add", "--web", "--name", "Dr Zhao", "--days", "30", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    doctor = added["token"]
    assert added["signin_url"].endswith("/review.html#signin=" + doctor)
    assert cli.main(["reviewer", "list", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)["reviewers"]] == ["Dr Zhao"]

    # AND a web owner with a stored prediction
    status, session = http("POST", "/session")
    owner = session["token"]
    status, record = call(
        http_event("POST", "/predict", films.drawn(), "image/jpeg", {"authorization": f"Bearer {owner}"})
    )
    assert status == 200, record
    status, link = http("POST", f"/release/history/{record['id']}/share", owner, {"expires_in_hours": 2})
    assert status == 200, link
    # no identity → 401; a stranger's session → not_reviewer 403
    assert http("POST", "/shared", None, {"share": link["token"]})[0] == 401
    status, body = http("POST", "/shared", http("POST", "/session")[1]["token"], {"share": link["token"]})
    assert (status, body["error"]["code"]) == (403, "not_reviewer")
    status, body = http("POST", "/shared", doctor, {"share": link["token"] + "x"})
    assert (status, body["error"]["code"]) == (403, "invalid_share")
    status, body = http("GET", "/reviewer", doctor)
    assert status == 200 and body["reviewer"] is True and body["name"] == "Dr Zhao"

    status, view = http("POST", "/shared", doctor, {"share": link["token"]})
    assert status == 200 and view["record"]["id"] == record["id"]
    status, body = http("POST", "/shared/review", doctor, {"share": link["token"], "verdict": "bogus"})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, saved = http("POST", "/shared/review", doctor, {"share": link["token"], "verdict": "cannot_tell"})
    assert status == 200 and saved["review"]["verdict"] == "cannot_tell" and saved["review"]["label"] is None
    status, mine = http("GET", f"/history/{record['id']}", owner)
    assert mine["review"]["by"] == "Dr Zhao"
    status, body = http("POST", f"/history/{record['id']}/consent", owner, {"export": True})
    assert status == 200 and body["consent"]["export"] is True
    status, body = http("DELETE", f"/history/{record['id']}/share/{link['share']['id']}", owner)
    assert status == 200
    status, body = http("POST", "/shared", doctor, {"share": link["token"]})
    assert (status, body["error"]["code"]) == (410, "share_revoked")
    status, body = http("POST", f"/history/{record['id']}/share", owner, {"expires_in_hours": "x"})
    assert status == 400
    # the CLI can take the doctor off the list
    code = added["reviewer"]["uid"]
    assert cli.main(["reviewer", "remove", code]) == 0
    assert http("POST", "/shared", doctor, {"share": link["token"]})[1]["error"]["code"] == "not_reviewer"
    assert cli.main(["reviewer", "add", "not-a-code", "--name", "X"]) == 2
    assert cli.main(["reviewer", "add", "--name", "X"]) == 2


def test_on_s3_over_http(tmp_path: Path, s3_settings: Any) -> None:
    """The same flow on the local S3 server: conditional writes of the record are real there too."""
    instance = App(make_settings(tmp_path, storage=s3_settings.url))
    set_app(instance)
    try:
        record = predict_as(OWNER)
        make_reviewer(instance, DOCTOR)
        link = hist(OWNER, action="share", id=record["id"])
        assert hist(DOCTOR, action="shared", share=link["token"])["record"]["id"] == record["id"]
        assert (
            hist(DOCTOR, action="review", share=link["token"], verdict="agree")["review"]["verdict"]
            == "agree"
        )
        assert hist(OWNER, action="consent", id=record["id"], export=True)["consent"]["export"]
        mine = hist(OWNER, action="get", id=record["id"])
        assert mine["review"]["verdict"] == "agree" and mine["consent"]["export"] is True
    finally:
        set_app(None)


def test_concurrent_changes_to_a_record_are_not_lost(app: App, shared: dict[str, Any]) -> None:
    """The owner's consent and the doctor's read, written at the same time, both land."""
    from concurrent.futures import ThreadPoolExecutor

    record, token = shared["record"], shared["token"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(hist, DOCTOR, action="review", share=token, verdict="agree") for _ in range(3)]
        jobs += [pool.submit(hist, OWNER, action="consent", id=record["id"], export=True) for _ in range(3)]
        results = [j.result() for j in jobs]
    assert all("error" not in r or r["error"]["code"] == "conflict" for r in results), results
    mine = hist(OWNER, action="get", id=record["id"])
    assert mine["review"]["verdict"] == "agree" and mine["consent"]["export"] is True
    assert mine["shares"][0]["claimed_by"]
