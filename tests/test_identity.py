"""Identity: bearer tokens (round trip, expiry, tampering, wrong key, alg=none, wrong alg, garbage),
the mini program openid from the platform context (all three sources, their priority, the
*_CONTEXT_KEYS rules), keyed uids, redaction, and the local server's secret file."""

from __future__ import annotations

import base64
import inspect
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from xiaofei.errors import Unauthorized
from xiaofei.identity import (
    ANONYMOUS,
    AUDIENCE,
    ISSUER,
    LEEWAY_S,
    Caller,
    TokenIssuer,
    caller_from_authorization,
    load_or_create_secret,
    uid_for,
    wx_caller_from_context,
)

SECRET = b"s" * 32
OPENID = "oABCD1234efgh5678ijkl9012mnop"
APPID = "wx0123456789abcdef"


# --------------------------------------------------------------------------------------------- uids


def test_uid_is_a_keyed_hash() -> None:
    uid = uid_for("wx", OPENID, SECRET)
    assert len(uid) == 32 and all(c in "0123456789abcdef" for c in uid)
    assert uid == uid_for("wx", OPENID, SECRET)
    assert uid != uid_for("web", OPENID, SECRET)  # providers never share a uid
    assert uid != uid_for("wx", OPENID, b"t" * 32)  # without the secret, nobody can compute it
    assert uid != uid_for("wx", OPENID + "x", SECRET)
    assert OPENID not in uid
    with pytest.raises(ValueError):
        uid_for("wx", OPENID, b"")


def test_caller_never_shows_its_subject() -> None:
    caller = Caller(provider="wx", subject=OPENID, uid=uid_for("wx", OPENID, SECRET), appid=APPID)
    for text in (repr(caller), str(caller), f"{caller}", f"{caller!r}", repr([caller])):
        assert OPENID not in text
        assert caller.uid in text
    assert not caller.anonymous
    assert ANONYMOUS.anonymous


# ------------------------------------------------------------------------------------------- tokens


def test_token_round_trip() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    token, expires_at = issuer.issue()
    assert time.time() + 3590 < expires_at <= time.time() + 3600
    caller = issuer.verify(token)
    assert caller.provider == "web" and not caller.anonymous
    assert caller.uid == uid_for("web", caller.subject, SECRET)
    # Every session is a new random subject; a given subject keeps its uid across tokens.
    assert issuer.verify(issuer.issue()[0]).uid != caller.uid
    again, _ = issuer.issue(caller.subject)
    assert issuer.verify(again).uid == caller.uid


def test_expired_token_is_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "s_x", "iat": now - 7200}
    expired = jwt.encode({**claims, "exp": now - LEEWAY_S - 5}, issuer._key, algorithm="HS256")
    with pytest.raises(Unauthorized):
        issuer.verify(expired)
    # Clock skew within the (small) leeway is tolerated.
    just = jwt.encode({**claims, "exp": now - 5}, issuer._key, algorithm="HS256")
    assert issuer.verify(just).subject == "s_x"
    assert LEEWAY_S <= 60


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def test_tampered_payload_is_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    token, _ = issuer.issue()
    header, _, signature = token.split(".")
    forged = {**_claims(token), "sub": "s_someone_else"}
    with pytest.raises(Unauthorized):
        issuer.verify(f"{header}.{_b64(forged)}.{signature}")
    longer = {**_claims(token), "exp": int(time.time()) + 10**8}
    with pytest.raises(Unauthorized):
        issuer.verify(f"{header}.{_b64(longer)}.{signature}")


def test_token_from_another_secret_is_refused() -> None:
    token, _ = TokenIssuer(b"o" * 32, ttl_s=3600).issue()
    with pytest.raises(Unauthorized):
        TokenIssuer(SECRET, ttl_s=3600).verify(token)


def test_alg_none_is_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    claims = _claims(issuer.issue()[0])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(Unauthorized):
        issuer.verify(unsigned)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithms_are_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    claims = _claims(issuer.issue()[0])
    key = issuer._key  # even with our own key, only HS256 is accepted
    with pytest.raises(Unauthorized):
        issuer.verify(jwt.encode(claims, key, algorithm="HS512"))


@pytest.mark.parametrize(
    "claims_change",
    [
        {"iss": "someone-else"},
        {"aud": "another-app"},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"sub": ""},
        {"sub": 42},
        {"sub": "a" * 500},
        {"iat": int(time.time()) + 3600},
    ],
)
def test_required_claims(claims_change: dict[str, Any]) -> None:
    issuer = TokenIssuer(SECRET, ttl_s=3600)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "s_x",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    claims.update(claims_change)
    claims = {k: v for k, v in claims.items() if v is not None}
    with pytest.raises(Unauthorized):
        issuer.verify(jwt.encode(claims, issuer._key, algorithm="HS256"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "....", "\x00", "x" * 5000, "eyJ.eyJ.x"])
def test_garbage_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        TokenIssuer(SECRET, ttl_s=60).verify(token)


def test_authorization_header() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=60)
    token, _ = issuer.issue()
    assert caller_from_authorization(None, issuer) is None
    assert caller_from_authorization("", issuer) is None
    caller = caller_from_authorization(f"Bearer {token}", issuer)
    assert caller is not None and caller.provider == "web"
    assert caller_from_authorization(f"bearer   {token} ", issuer) == caller
    for bad in ("Bearer", "Bearer ", f"Basic {token}", token, "Bearer garbage", f"Token {token}"):
        with pytest.raises(Unauthorized):
            caller_from_authorization(bad, issuer)


def test_issuer_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        TokenIssuer(b"", ttl_s=60)
    with pytest.raises(ValueError):
        TokenIssuer(SECRET, ttl_s=0)


# ------------------------------------------------------------------------------------- mini program


def environment_context(**values: str) -> dict[str, Any]:
    return {"request_id": "r1", "function_name": "predict", "environment": json.dumps(values)}


def environ_context(**values: str) -> dict[str, Any]:
    return {"request_id": "r1", "environ": ";".join(f"{k}={v}" for k, v in values.items())}


def test_openid_from_context_environment_json() -> None:
    ctx = environment_context(WX_OPENID=OPENID, WX_APPID=APPID, WX_CONTEXT_KEYS="WX_OPENID,WX_APPID")
    caller = wx_caller_from_context(ctx, {}, SECRET)
    assert caller is not None
    assert (caller.provider, caller.subject, caller.appid) == ("wx", OPENID, APPID)
    assert caller.uid == uid_for("wx", OPENID, SECRET)


def test_openid_from_context_environ_string() -> None:
    ctx = environ_context(SCF_NAMESPACE="default", WX_OPENID=OPENID, WX_APPID=APPID)
    caller = wx_caller_from_context(ctx, {}, SECRET)
    assert caller is not None and caller.subject == OPENID and caller.appid == APPID


def test_openid_from_process_environment_when_listed() -> None:
    env = {"WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID,WX_UNIONID", "WX_OPENID": OPENID, "WX_APPID": APPID}
    caller = wx_caller_from_context(None, env, SECRET)
    assert caller is not None and caller.subject == OPENID
    # The list may also arrive in the context while the values sit in the environment.
    ctx = environment_context(WX_CONTEXT_KEYS="WX_OPENID")
    caller = wx_caller_from_context(ctx, {"WX_OPENID": OPENID}, SECRET)
    assert caller is not None and caller.subject == OPENID


def test_process_environment_is_not_trusted_without_the_key_list() -> None:
    # wx-server-sdk returns {} when WX_CONTEXT_KEYS is empty; a leftover WX_OPENID must not log anyone in.
    assert wx_caller_from_context(None, {"WX_OPENID": OPENID}, SECRET) is None
    assert wx_caller_from_context({}, {"WX_OPENID": OPENID, "WX_CONTEXT_KEYS": "WX_APPID"}, SECRET) is None
    assert wx_caller_from_context(None, {"WX_OPENID": OPENID, "TCB_CONTEXT_KEYS": "WX_OPENID"}, SECRET)


def test_context_wins_over_process_environment() -> None:
    env = {"WX_CONTEXT_KEYS": "WX_OPENID", "WX_OPENID": "oSTALEpreviousCaller000000000"}
    ctx = environment_context(WX_OPENID=OPENID, WX_CONTEXT_KEYS="WX_OPENID")
    caller = wx_caller_from_context(ctx, env, SECRET)
    assert caller is not None and caller.subject == OPENID
    # environment (newer) wins over environ (older) when both are present
    both = {
        **environ_context(WX_OPENID="oOLDER000000000000000000000"),
        **environment_context(WX_OPENID=OPENID),
    }
    caller = wx_caller_from_context(both, {}, SECRET)
    assert caller is not None and caller.subject == OPENID


def test_no_identity_is_none() -> None:
    assert wx_caller_from_context(None, {}, SECRET) is None
    assert wx_caller_from_context({}, {}, SECRET) is None
    timer = {
        "request_id": "r",
        "environment": json.dumps({"SCF_NAMESPACE": "default", "TRIGGER_SRC": "timer"}),
    }
    assert wx_caller_from_context(timer, {"TRIGGER_SRC": "timer"}, SECRET) is None
    assert wx_caller_from_context({"environment": "{not json"}, {}, SECRET) is None
    assert wx_caller_from_context({"environment": json.dumps(["x"])}, {}, SECRET) is None
    assert wx_caller_from_context({"environment": 42, "environ": None}, {}, SECRET) is None
    assert wx_caller_from_context("WX_OPENID=" + OPENID, {}, SECRET) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("openid", ["", " ", "o/../../x", "o\x00x", "x" * 200, "o;WX_OPENID=y", "中文"])
def test_malformed_openids_are_refused(openid: str) -> None:
    assert wx_caller_from_context(environment_context(WX_OPENID=openid), {}, SECRET) is None


def test_the_event_has_no_say() -> None:
    # The function cannot even be handed the event: identity comes from context and environment only.
    params = list(inspect.signature(wx_caller_from_context).parameters)
    assert params == ["context", "environ", "secret"]
    event = {"userInfo": {"openId": "oFORGED000000000000000000000", "appId": APPID}, "openid": "oFORGED"}
    # Even a caller that mistakenly passes event data as the "context" gets nobody out of userInfo.
    assert wx_caller_from_context(event, {}, SECRET) is None
    ctx = environment_context(WX_OPENID=OPENID)
    assert wx_caller_from_context({**ctx, **event}, {}, SECRET).subject == OPENID  # type: ignore[union-attr]


def test_real_process_environment_mapping_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WX_CONTEXT_KEYS", "WX_OPENID")
    monkeypatch.setenv("WX_OPENID", OPENID)
    caller = wx_caller_from_context(None, os.environ, SECRET)
    assert caller is not None and caller.subject == OPENID


# -------------------------------------------------------------------------------------- the secret


def test_secret_is_created_once_and_private(tmp_path: Path) -> None:
    root = tmp_path / "store"
    first = load_or_create_secret(root)
    assert len(first) == 32
    assert load_or_create_secret(root) == first
    mode = stat.S_IMODE((root / ".secret").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in root.iterdir()] == [".secret"]  # no temp files left


def test_racing_processes_agree_on_one_secret(tmp_path: Path) -> None:
    root = tmp_path / "race"
    results: list[bytes] = []
    lock = threading.Lock()

    def load() -> None:
        value = load_or_create_secret(root)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=load) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 12


def test_a_foreign_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".secret").write_text("hunter2")
    with pytest.raises(ValueError):
        load_or_create_secret(tmp_path)
