"""The clients' bilingual message tables cover what the server can send, read from the server's source.

The web page (web/i18n.js: ERRORS, REFUSALS) and the mini program (miniprogram/app/services/errors.js:
MESSAGES; miniprogram/app/utils/format.js: QUALITY_REASONS) each keep their own table. Their JS tests
compare them with docs/API.md or only run in a browser; this one compares them with ``xiaofei/`` itself
(every AppError code, every ``code="…"`` override, every refusal reason in ``quality.MESSAGES``), so a
new server code without a client message fails here, in the quick suite.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from xiaofei.inference.input_gate import MESSAGES as REFUSAL_MESSAGES

ROOT = Path(__file__).resolve().parent.parent
SERVER_DIRS = (ROOT / "xiaofei", ROOT / "functions")

# Raised only by operator paths (the model-update timer job, the registry gate and CLI), never by the
# predict / history calls or HTTP routes the clients use; a client that meets one anyway shows the
# server's own bilingual message. Each entry says where the code comes from.
OPERATOR_ONLY = {
    "invalid_policy": "xiaofei/lifecycle/policy.py (registry gate, model-update job, registry CLI)",
    "rollout_failed": "xiaofei/adapters/rollout_scf.py (model-update job)",
}

# (file, const): each client table of error codes, and of refusal reasons.
ERROR_TABLES = [
    ("web/i18n.js", "ERRORS"),
    ("miniprogram/app/services/errors.js", "MESSAGES"),
]
REFUSAL_TABLES = [
    ("web/i18n.js", "REFUSALS"),
    ("miniprogram/app/utils/format.js", "QUALITY_REASONS"),
]


def js_table_keys(source: str, name: str) -> set[str]:
    """The keys of the top-level ``const <name> = {…}`` in ``source``.

    The tables are written one entry a line at two spaces' indent and closed by ``}`` at column 0 (the
    clients' formatter keeps them so); nested fields are indented deeper, so they are not keys here.
    """
    start = re.search(rf"^const {name} = \{{\s*$", source, re.MULTILINE)
    assert start, f"no `const {name} = {{` table"
    end = re.search(r"^\};?\s*$", source[start.end() :], re.MULTILINE)
    assert end, f"the `{name}` table is not closed at column 0"
    body = source[start.end() : start.end() + end.start()]
    return set(re.findall(r"^  ([A-Za-z_][A-Za-z0-9_]*)\s*:", body, re.MULTILINE))


def _literal_codes(node: ast.AST) -> set[str]:
    """The strings an expression can evaluate to: a literal, or either branch of ``a if … else b``
    (not the condition's own strings); a computed code (``code=code``) is not a literal and adds none."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literal_codes(node.body) | _literal_codes(node.orelse)
    return set()


def codes_in_source(source: str) -> set[str]:
    """Error codes a Python module sets: class attributes ``code = "…"`` and ``code="…"`` arguments
    (including both sides of a conditional, as in ``code="a" if … else "b"``)."""
    codes: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign):
                    targets = [stmt.target]
                value = getattr(stmt, "value", None)
                if value is not None and any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                    codes |= _literal_codes(value)
        elif isinstance(node, ast.keyword) and node.arg == "code":
            codes |= _literal_codes(node.value)
    return codes


def server_error_codes() -> set[str]:
    codes: set[str] = set()
    for folder in SERVER_DIRS:
        for path in sorted(folder.rglob("*.py")):
            codes |= codes_in_source(path.read_text(encoding="utf-8"))
    return codes


def client_facing_codes() -> set[str]:
    return server_error_codes() - set(OPERATOR_ONLY)


# ------------------------------------------------------------------------------------ the helpers


def test_js_table_keys_reads_top_level_keys_only() -> None:
    source = (
        "const OTHER = {\n  nope: {zh: 'x', en: 'y'},\n}\n"
        "const T = {\n"
        "  // a comment: not a key\n"
        "  one: {zh: '一', en: 'one'},\n"
        "  two: {\n    zh: '二 {n}',\n    en: 'two',\n  },\n"
        "};\n"
        "const AFTER = {\n  later: 1,\n}\n"
    )
    assert js_table_keys(source, "T") == {"one", "two"}
    with pytest.raises(AssertionError):
        js_table_keys(source, "MISSING")


def test_codes_in_source_finds_class_codes_and_overrides() -> None:
    source = (
        "class E(AppError):\n    code = 'class_code'\n"
        "class F(AppError):\n    code: str = 'annotated'\n"
        "def f(x):\n"
        "    raise BadRequest('a', 'b', code='override' if x in ('', None) else 'other')\n"
        "def g(code):\n    return code\n"
    )
    assert codes_in_source(source) == {"class_code", "annotated", "override", "other"}


def test_the_server_codes_include_the_contract_and_the_overrides() -> None:
    from xiaofei.errors import ALL_CODES

    codes = server_error_codes()
    assert set(ALL_CODES) <= codes
    assert {"unknown_model", "unknown_action", "invalid_manifest", "unavailable"} <= codes


def test_operator_only_codes_are_still_sent_by_the_server_and_not_in_the_contract() -> None:
    # An exemption for a code the server no longer has, or one callers are promised, would hide a gap.
    from xiaofei.errors import ALL_CODES

    assert set(OPERATOR_ONLY) <= server_error_codes()
    assert not set(OPERATOR_ONLY) & set(ALL_CODES)


# ------------------------------------------------------------------------------------ the tables


@pytest.mark.parametrize(("path", "table"), ERROR_TABLES)
def test_every_client_facing_error_code_has_a_client_message(path: str, table: str) -> None:
    keys = js_table_keys((ROOT / path).read_text(encoding="utf-8"), table)
    missing = sorted(client_facing_codes() - keys)
    assert not missing, f"{path} {table} has no message for server code(s) {missing}"


@pytest.mark.parametrize(("path", "table"), REFUSAL_TABLES)
def test_every_refusal_reason_has_a_client_message(path: str, table: str) -> None:
    keys = js_table_keys((ROOT / path).read_text(encoding="utf-8"), table)
    missing = sorted(set(REFUSAL_MESSAGES) - keys)
    assert not missing, f"{path} {table} has no message for refusal reason(s) {missing}"
