"""The package's public surface, the one table of actions, and the redacting views of platform input."""

from __future__ import annotations

import ast
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import xiaofei
from tests.conftest import wx_context

ROOT = Path(__file__).resolve().parent.parent

# --- the public surface ----------------------------------------------------------------------------


def test_the_public_surface_is_exactly_all_and_every_name_resolves() -> None:
    assert sorted(dir(xiaofei)) == sorted(xiaofei.__all__)
    assert len(set(xiaofei.__all__)) == len(xiaofei.__all__)
    for name in xiaofei.__all__:
        assert getattr(xiaofei, name) is not None, name
    assert xiaofei.NotFound().status == 404 and issubclass(xiaofei.NotFound, xiaofei.AppError)
    with pytest.raises(AttributeError):
        _ = xiaofei.service  # type: ignore[attr-defined]


def test_the_type_checkers_view_of_the_surface_is_the_same() -> None:
    # The names imported under TYPE_CHECKING (what mypy and editors see) are exactly the lazy ones.
    tree = ast.parse((ROOT / "xiaofei" / "__init__.py").read_text())
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for stmt in node.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }
    assert typed == set(xiaofei.__all__) - {"__version__"}


def test_importing_the_package_loads_nothing_else() -> None:
    code = (
        "import json, sys, xiaofei; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'xiaofei')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(out.stdout) == ["xiaofei"]


# --- one table of actions --------------------------------------------------------------------------


def test_http_routes_and_cloud_calls_come_from_the_one_table() -> None:
    from xiaofei.adapters import api
    from xiaofei.adapters.http_api import ROUTES

    assert [(m, p.pattern) for m, p, _, _ in ROUTES] == [
        (a.http[0], "^" + a.http[1] + "$") for a in api.ACTIONS if a.http
    ]
    assert set(api.CALLS) == {
        ("predict", "predict"), ("predict", "upload"), ("predict", "models"),
        ("history", "list"), ("history", "get"), ("history", "delete"), ("history", "delete_all"),
        ("history", "share"), ("history", "unshare"), ("history", "consent"),
        ("history", "reviewer"), ("history", "shared"), ("history", "review"),
    }  # fmt: skip
    assert api.CALL_DEFAULTS == {"predict": "predict", "history": "list"}
    assert api.HTTP_PREFIXES == (
        "/predict", "/session", "/uploads", "/history", "/models", "/healthz", "/shared", "/reviewer",
    )  # fmt: skip
    names = [a.name for a in api.ACTIONS]
    assert len(names) == len(set(names))


def test_the_local_server_routes_each_path_to_the_function_api_gateway_does() -> None:
    from xiaofei.adapters.api import function_for

    doc = yaml.safe_load((ROOT / "infra" / "scf" / "apigw" / "serverless.yml").read_text())
    for endpoint in doc["inputs"]["endpoints"]:
        path = re.sub(r"\{\w+\}", "01hzx0000000000000000000aa", endpoint["path"])
        function = endpoint["function"]["functionName"].rsplit("-", 1)[-1]
        assert function_for(path) == function, endpoint["path"]


# --- platform input never shows its secrets --------------------------------------------------------

SECRETS = ("AKIDsecretkey0000", "sessiontoken0000", "xiaofei-secret-0000", "Bearer eyJhbGciOi.tok.en")


def _secret_context() -> dict[str, Any]:
    context = wx_context()
    environment = json.loads(context["environment"])
    environment.update(
        TENCENTCLOUD_SECRETKEY=SECRETS[0], TENCENTCLOUD_SESSIONTOKEN=SECRETS[1], XIAOFEI_SECRET=SECRETS[2]
    )
    context["environment"] = json.dumps(environment)
    context["environ"] = ";".join(f"{k}={v}" for k, v in environment.items())
    return context


def test_the_scf_context_view_is_read_only_and_never_shows_its_secrets() -> None:
    from xiaofei.adapters.views import ScfContext

    view = ScfContext(_secret_context())
    assert view["environment"] and view.request_id == "req-openid" and view.function_name == "predict"
    for text in (repr(view), str(view), f"{view}", repr({"context": view})):
        assert not any(s in text for s in SECRETS), text
        assert "request_id" in text and "[REDACTED]" in text
    with pytest.raises(AttributeError):
        view.x = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        view["environ"] = ""  # type: ignore[index]


def test_http_headers_never_show_the_authorization() -> None:
    from xiaofei.adapters.http_api import HttpRequest

    req = HttpRequest(
        "GET", "/history", {"Authorization": SECRETS[3], "Cookie": "sid=" + SECRETS[1]}, body=b"x"
    )
    assert req.header("authorization") == SECRETS[3]
    assert not any(s in repr(req) or s in str(req.headers) for s in SECRETS), repr(req)


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        formatted = logging.Formatter("%(message)s").format(record)
        self.text.append(formatted + repr(record.__dict__))


def test_a_secret_never_reaches_the_logs(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from xiaofei.adapters import api
    from xiaofei.adapters.scf import handle

    listener = _Everything()
    logger = logging.getLogger("xiaofei")
    logger.addHandler(listener)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        # GIVEN calls whose context carries the role's credentials and the service secret: one that
        # works, one that fails, one that hits a bug; and an HTTP request with a bearer token
        handle("history", {"action": "list"}, _secret_context(), app)
        handle("history", {"action": "get", "id": "nope"}, _secret_context(), app)

        def bug(*_: Any) -> Any:
            raise RuntimeError("bug")

        monkeypatch.setitem(
            api.CALLS, ("history", "reviewer"), api.Action("reviewer", api.NoArgs.parse, bug, "known")
        )
        assert (
            handle("history", {"action": "reviewer"}, _secret_context(), app)["error"]["code"]
            == "internal_error"
        )
        http = {"httpMethod": "GET", "path": "/history", "headers": {"authorization": SECRETS[3]}, "body": ""}
        handle("history", http, _secret_context(), app)
    finally:
        logger.removeHandler(listener)
        logger.setLevel(old_level)
    # THEN nothing logged shows any of them
    logged = "\n".join(listener.text)
    assert "handled" in logged
    assert not any(s in logged for s in SECRETS)


# --- the order of checks is the same on every channel ----------------------------------------------


def _http(app: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    from xiaofei.adapters.scf import handle

    event = {
        "httpMethod": method,
        "path": path,
        "headers": {"content-type": "application/json", **(headers or {})},
        "queryString": {},
        "body": json.dumps(body) if body is not None else "",
    }
    result = handle("predict", event, {}, app)
    return result["statusCode"], json.loads(result["body"])


def test_a_caller_is_required_before_arguments_are_checked(app: Any) -> None:
    # An anonymous upload with a bad extension is refused as anonymous first (401, not 415)
    status, body = _http(app, "POST", "/uploads", {"ext": "exe"})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    # and with a session, the extension is what fails
    token = _http(app, "POST", "/session")[1]["token"]
    status, body = _http(app, "POST", "/uploads", {"ext": "exe"}, {"authorization": f"Bearer {token}"})
    assert (status, body["error"]["code"]) == (415, "unsupported_format")


def test_wrong_types_fail_with_the_documented_errors_in_their_order(app: Any) -> None:
    from xiaofei.adapters.scf import handle

    def hist(**data: Any) -> Any:
        return handle("history", data, wx_context(), app)["error"]

    assert hist(action="get", id=5)["code"] == "not_found"
    assert hist(action="list", cursor=5)["code"] == "bad_request"
    assert hist(action="list", limit=True)["code"] == "bad_request"
    assert hist(action="consent", id=5, export="yes")["details"] == {"field": "export"}
    # A review's fields are checked only after the caller is known to be a reviewer
    assert hist(action="review", share="x", verdict=1, note=5)["code"] == "not_reviewer"
    # A bad model name is reported before a bad request id, by its text
    error = handle("predict", {"image": "aGk=", "model": 7, "request_id": 5}, wx_context(), app)["error"]
    assert error["code"] == "unknown_model" and "'7'" in error["message"]["en"]
