"""Who is calling: a WeChat openid injected by the platform, a bearer token we signed, or nobody.

* Mini program cloud calls: the openid comes from the call *context* the platform builds
  (``context["environment"]`` JSON, else ``context["environ"]`` ``k=v;k=v``), then from the process
  environment for keys the platform lists in ``WX_CONTEXT_KEYS`` / ``TCB_CONTEXT_KEYS`` — the order
  and rules of ``@cloudbase/node-sdk`` ``getCloudbaseContext``. The ``event`` is client data
  (``event.userInfo`` included) and is never consulted: these functions do not even take it.
* HTTP: ``Authorization: Bearer <JWT>`` minted by ``TokenIssuer`` (PyJWT, HS256, with issuer,
  audience, expiry and issued-at all required).
* Keys and logs carry ``uid``, a keyed hash of (provider, subject); the raw subject never leaves
  ``Caller`` (its repr redacts it).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from xiaofei import clock
from xiaofei.errors import Unauthorized

ISSUER = "xiaofei"
AUDIENCE = "xiaofei-web"
LEEWAY_S = 30
MAX_TOKEN_CHARS = 2048
_SUBJECT_RE = re.compile(r"^[A-Za-z0-9_\-.@:]{1,128}$")  # openids are 28 chars of [A-Za-z0-9_-]
_UID_CHARS = 32


@dataclass(frozen=True, repr=False)
class Caller:
    provider: str  # "wx" (mini program openid) | "web" (bearer token subject) | "anon"
    subject: str  # the raw id: never logged, never in a key
    uid: str  # keyed hash of (provider, subject): 32 hex chars, safe for keys and logs
    appid: str = ""

    @property
    def anonymous(self) -> bool:
        return self.provider == "anon" or not self.uid

    def __repr__(self) -> str:
        return f"Caller(provider={self.provider!r}, uid={self.uid!r}, subject='[REDACTED]')"

    __str__ = __repr__


ANONYMOUS = Caller(provider="anon", subject="", uid="")


def uid_for(provider: str, subject: str, secret: bytes) -> str:
    """HMAC-SHA256 of (provider, subject) under ``secret``, as 32 hex characters (128 bits)."""
    if not secret:
        raise ValueError("a secret is required to derive user ids")
    message = f"{provider}\x00{subject}".encode()
    return hmac.new(secret, b"uid\x00" + message, hashlib.sha256).hexdigest()[:_UID_CHARS]


# ------------------------------------------------------------------------------------- mini program


def _parse_environ(raw: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in raw.split(";"):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            values[name.strip()] = value
    return values


def _context_values(context: Mapping[str, Any] | None) -> dict[str, str]:
    """The platform's per-call variables: ``environment`` (JSON, newer) else ``environ`` (older)."""
    if not isinstance(context, Mapping):
        return {}
    environment = context.get("environment")
    if isinstance(environment, str) and environment.strip():
        with contextlib.suppress(ValueError):
            environment = json.loads(environment)
    if isinstance(environment, Mapping) and environment:
        return {str(k): v for k, v in environment.items() if isinstance(v, str)}
    environ = context.get("environ")
    if isinstance(environ, str) and environ.strip():
        return _parse_environ(environ)
    return {}


def wx_context(context: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Everything the platform says about this call, with ``@cloudbase/node-sdk``'s priority:
    every context value; plus, for keys listed in WX_CONTEXT_KEYS / TCB_CONTEXT_KEYS (read from the
    context first), the context's value or else the process environment's."""
    from_context = _context_values(context)
    merged: dict[str, str] = {}
    for list_name in ("TCB_CONTEXT_KEYS", "WX_CONTEXT_KEYS"):
        listed = from_context.get(list_name) or environ.get(list_name) or ""
        for name in (n.strip() for n in listed.split(",")):
            value = from_context.get(name) or environ.get(name)
            if name and value:
                merged[name] = value
    merged.update({k: v for k, v in from_context.items() if v})
    return merged


def wx_caller_from_context(
    context: Mapping[str, Any] | None, environ: Mapping[str, str], secret: bytes
) -> Caller | None:
    """The mini program user of this call, or None when the platform vouches for nobody (timer, HTTP,
    a console test, a malformed openid). Callers turn None into ``Unauthorized``."""
    values = wx_context(context, environ)
    openid = values.get("WX_OPENID", "")
    if not _SUBJECT_RE.match(openid):
        return None
    appid = values.get("WX_APPID", "")
    return Caller(
        provider="wx",
        subject=openid,
        uid=uid_for("wx", openid, secret),
        appid=appid if _SUBJECT_RE.match(appid) else "",
    )


# ---------------------------------------------------------------------------------------------- HTTP


def _invalid_token() -> Unauthorized:
    return Unauthorized()


class TokenIssuer:
    """Bearer tokens for anonymous browser sessions: a JWT (HS256) with a random subject."""

    def __init__(self, secret: bytes, ttl_s: int) -> None:
        if not secret:
            raise ValueError("a secret is required to sign tokens")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._secret = secret
        # A key of its own (not the uid key), and always 32 bytes as HS256 wants.
        self._key = hmac.new(secret, b"xiaofei-jwt-hs256", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, subject: str | None = None) -> tuple[str, float]:
        subject = subject or "s_" + secrets.token_urlsafe(18)
        if not _SUBJECT_RE.match(subject):
            raise ValueError("invalid subject")
        now = int(clock.now())
        expires_at = now + self.ttl_s
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": expires_at,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), float(expires_at)

    def verify(self, token: str) -> Caller:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise _invalid_token()
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            raise _invalid_token() from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _SUBJECT_RE.match(subject):
            raise _invalid_token()
        if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > clock.now() + LEEWAY_S:
            raise _invalid_token()  # minted in the future: not by us
        return Caller(provider="web", subject=subject, uid=uid_for("web", subject, self._secret))


def caller_from_authorization(header: str | None, issuer: TokenIssuer) -> Caller | None:
    """None when there is no Authorization header; the caller for a valid ``Bearer`` token;
    ``Unauthorized`` for anything else (wrong scheme, garbage, forged, expired)."""
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid_token()
    return issuer.verify(token.strip())


# ---------------------------------------------------------------------------------------- the secret


def load_or_create_secret(store_root: Path) -> bytes:
    """The local server's secret, kept in ``<root>/.secret`` (mode 0600), made on first use.

    Creation writes a temp file and hard-links it into place, so two processes starting together agree
    on one secret and nobody reads a half-written file.
    """
    root = Path(store_root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".secret"
    if not path.exists():
        tmp = root / f".secret.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            with contextlib.suppress(FileExistsError):  # another process won the race: use its secret
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < 32:
        raise ValueError(f"{path} is not a secret written by xiaofei; delete it to make a new one")
    return secret
