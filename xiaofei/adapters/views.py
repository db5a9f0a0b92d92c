"""Read-only typed views of what a platform hands a function, which never show their secrets.

* ``Headers``: an HTTP request's headers, names lower-cased; ``Authorization``, cookies and any
  ``X-…-Token`` are readable by code but never appear in ``repr``/``str`` (so not in a log line either).
* ``ScfContext``: the SCF/CloudBase ``context`` argument. It may carry ``environ``/``environment`` with the
  function role's ``TENCENTCLOUD_SECRETKEY``/``SESSIONTOKEN`` and the service's ``XIAOFEI_SECRET``: the
  view exposes the fields a handler uses, reads the rest as a mapping (``identity`` reads the WeChat
  caller from it), and shows only harmless keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# Context fields shown as they are; everything else (environ, environment, …) is redacted.
_PLAIN_CONTEXT = frozenset(
    {
        "request_id",
        "function_name",
        "function_version",
        "namespace",
        "memory_limit_in_mb",
        "time_limit_in_ms",
        "tencentcloud_region",
        "tencentcloud_appid",
        "tencentcloud_uin",
    }
)


def _secret_header(name: str) -> bool:
    return name in _SECRET_HEADERS or "token" in name or "secret" in name or name.endswith("-key")


class _View(Mapping[str, Any]):
    """A frozen mapping whose repr names every key but shows only the values ``_shown`` allows."""

    __slots__ = ("_data",)
    _data: Mapping[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", MappingProxyType(dict(data)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def _shown(self, key: str) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        items = ", ".join(
            f"{k!r}: {self._data[k]!r}" if self._shown(k) else f"{k!r}: {REDACTED!r}" for k in self
        )
        return f"{type(self).__name__}({{{items}}})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled (or copied) with its secrets into somewhere else
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class Headers(_View):
    """HTTP headers, names lower-cased, values text."""

    __slots__ = ()

    def __init__(self, headers: Mapping[str, Any] | None = None) -> None:
        super().__init__({str(k).lower(): str(v) for k, v in (headers or {}).items()})

    def _shown(self, key: str) -> bool:
        return not _secret_header(key)


class ScfContext(_View):
    """The ``context`` of one invocation (a dict in the cloud; anything else reads as empty)."""

    __slots__ = ()

    def __init__(self, context: Any = None) -> None:
        super().__init__({str(k): v for k, v in context.items()} if isinstance(context, Mapping) else {})

    def _shown(self, key: str) -> bool:
        return key in _PLAIN_CONTEXT

    @property
    def request_id(self) -> str:
        value = self._data.get("request_id")
        return str(value) if value else ""

    @property
    def function_name(self) -> str:
        return str(self._data.get("function_name") or "")
