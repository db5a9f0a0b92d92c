"""Record ids: 26 lower-case Crockford base32 characters, time-ordered (48-bit ms + 80 random bits).

The time part lets history keys be derived from an id alone (``history/{uid}/{inverted-ms}-{id}.json``),
so ``get`` and ``delete`` need no listing. ``is_valid_id`` is the only gate between a caller's string
and a storage key.
"""

from __future__ import annotations

import re
import secrets

from xiaofei import clock

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_RE = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")
MAX_MS = (1 << 48) - 1


def new_id(now_ms: int | None = None) -> str:
    ms = int(clock.now() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value)) and value[0] in "01234567"


def id_time_ms(record_id: str) -> int:
    value = 0
    for ch in record_id:
        value = (value << 5) | _ALPHABET.index(ch)
    return value >> 80


def inverted_ms(ms: int) -> str:
    """A fixed-width key part that sorts newest first."""
    return f"{MAX_MS - ms:015d}"
