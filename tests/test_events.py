"""The platform adapters: every documented event shape becomes the same request, and back."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from xiaofei.adapters.http_api import HttpResponse
from xiaofei.adapters.scf import cos_keys, http_request_from_event, integrated_response, kind_of
from xiaofei.errors import BadRequest

APIGW = {
    "requestContext": {
        "serviceId": "service-f94sy04v",
        "path": "/predict",
        "httpMethod": "POST",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {"secretId": "AKID-x"},
        "sourceIp": "10.0.2.14",
        "stage": "release",
    },
    "headers": {"Content-Type": "application/json", "Host": "service-f94sy04v.gz.apigw.tencentcs.com"},
    "body": '{"image": "aGVsbG8="}',
    "pathParameters": {},
    "queryStringParameters": {"model": "skin"},
    "headerParameters": {},
    "stageVariables": {"stage": "release"},
    "path": "/release/predict",
    "queryString": {"model": "skin", "tag": ["a", "b"], "flag": True},
    "httpMethod": "POST",
}
FUNCTION_URL = {
    "body": "",
    "headers": {"x-scf-remote-addr": "1.2.3.4", "accept": "*/*"},
    "httpMethod": "GET",
    "path": "/history",
    "queryString": {"limit": "5"},
}
CLOUDBASE = {
    "path": "/models",
    "httpMethod": "GET",
    "headers": {"Accept": "application/json"},
    "queryStringParameters": {},
    "requestContext": {"requestId": "cb-req-1", "envId": "env-1", "appId": 1250000000, "uin": 100},
    "body": "",
    "isBase64Encoded": False,
}


def test_kinds() -> None:
    assert kind_of(APIGW) == kind_of(FUNCTION_URL) == kind_of(CLOUDBASE) == "http"
    assert kind_of({"Type": "Timer", "TriggerName": "t", "Time": "2026-01-01T00:00:00Z"}) == "timer"
    assert kind_of({"Type": "timer"}) == "timer"  # the sources disagree on case
    assert kind_of({"Records": [{"cos": {}}]}) == "cos"
    assert kind_of({"image": "…", "userInfo": {"openId": "forged"}}) == "call"
    assert kind_of([1, 2]) == kind_of("x") == kind_of(None) == "invalid"


def test_api_gateway_event() -> None:
    # GIVEN the documented API Gateway event, served under a stage prefix
    req = http_request_from_event(APIGW, "fallback")
    # THEN the route is the tail, headers are lower-case, list/bool query values are flattened
    assert (req.method, req.path) == ("POST", "/predict")
    assert req.header("content-type") == "application/json"
    assert req.query == {"model": "skin", "tag": "b", "flag": ""}
    assert req.body == b'{"image": "aGVsbG8="}'
    assert req.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_function_url_and_cloudbase_events() -> None:
    req = http_request_from_event(FUNCTION_URL, "ctx-req")
    assert (req.method, req.path, req.query, req.body, req.request_id) == (
        "GET",
        "/history",
        {"limit": "5"},
        b"",
        "ctx-req",
    )
    req = http_request_from_event(CLOUDBASE, "ctx-req")
    assert (req.path, req.request_id) == ("/models", "cb-req-1")


def test_base64_bodies_declared_and_undeclared() -> None:
    raw = bytes(range(256)) * 4
    declared = {
        **FUNCTION_URL,
        "httpMethod": "POST",
        "path": "/predict",
        "isBase64Encoded": True,
        "headers": {"content-type": "image/png"},
        "body": base64.b64encode(raw).decode(),
    }
    assert http_request_from_event(declared, "r").body == raw
    # API Gateway's base64 option: binary types arrive encoded with no flag at all
    undeclared = {k: v for k, v in declared.items() if k != "isBase64Encoded"}
    assert http_request_from_event(undeclared, "r").body == raw
    # a JSON body is never base64-decoded by guesswork
    as_json = {**FUNCTION_URL, "headers": {"content-type": "application/json"}, "body": "abcd"}
    assert http_request_from_event(as_json, "r").body == b"abcd"


def test_bad_base64_body_is_a_bad_request() -> None:
    event = {**FUNCTION_URL, "isBase64Encoded": True, "body": "###not base64###"}
    with pytest.raises(BadRequest):
        http_request_from_event(event, "r")


def test_integrated_response_shapes() -> None:
    text = integrated_response(
        HttpResponse(200, json.dumps({"a": "中"}, ensure_ascii=False).encode(), headers={"X": "1"})
    )
    assert text == {
        "isBase64Encoded": False,
        "statusCode": 200,
        "headers": {"Content-Type": "application/json; charset=utf-8", "X": "1"},
        "body": '{"a": "中"}',
    }
    png = integrated_response(HttpResponse(200, b"\x89PNG\r\n", content_type="image/png"))
    assert png["isBase64Encoded"] is True and base64.b64decode(png["body"]) == b"\x89PNG\r\n"


def test_cos_keys_strip_appid_and_bucket() -> None:
    event = {
        "Records": [
            {"cos": {"cosObject": {"key": "/1253970026/testpic/uploads/abc/x%20y.jpg"}}},
            {"cos": {"cosObject": {"key": "/1253970026/testpic"}}},  # no object key: ignored
            {"cos": {}},
        ]
    }
    assert cos_keys(event) == ["uploads/abc/x y.jpg"]


# --- the "handled" line: what CLS counts ------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def handled() -> Any:
    """The "handled" records of xiaofei.adapters.scf (the JSON handler replaces the root's: listen here)."""
    listener = _Records()
    logger = logging.getLogger("xiaofei.adapters.scf")
    logger.addHandler(listener)
    yield lambda: [r for r in listener.records if r.getMessage() == "handled"]
    logger.removeHandler(listener)


def test_handled_line_carries_status_and_error_code(app: Any, handled: Any) -> None:
    from tests.conftest import wx_context
    from xiaofei.adapters.scf import handle

    # GIVEN a good request, an HTTP request that fails, a cloud call that fails, and a non-object event
    ok = {"httpMethod": "GET", "path": "/healthz", "headers": {}, "queryString": {}, "body": ""}
    bad_http = {"httpMethod": "POST", "path": "/predict", "headers": {"content-type": "application/json"},
                "queryString": {}, "body": "{not json"}  # fmt: skip
    bad_call = {"action": "no-such-action"}
    # WHEN each is handled
    for event, context in ((ok, {}), (bad_http, {}), (bad_call, wx_context()), ([1], {})):
        handle("predict", event, context, app)
    # THEN each "handled" line says how it ended, so CLS can count errors by code
    lines = [(r.status, r.error_code) for r in handled()]  # type: ignore[attr-defined]
    assert lines == [(200, None), (400, "bad_request"), (400, "unknown_action"), (400, "bad_request")]
    assert all(r.getMessage() == "handled" and r.latency_ms >= 0 for r in handled())  # type: ignore[attr-defined]


def test_handled_line_counts_an_escaped_exception_as_internal_error(
    app: Any, handled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xiaofei.adapters import scf

    def boom(*_: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setitem(scf._HANDLERS, "timer", boom)
    with pytest.raises(RuntimeError):
        scf.handle("model_update", {"Type": "Timer"}, {}, app)
    (line,) = handled()
    assert (line.status, line.error_code) == (500, "internal_error")  # type: ignore[attr-defined]
