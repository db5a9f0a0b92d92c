"""serverless.yml (and the API Gateway alternative) against what the platform and the code accept.

Handlers exist and import (in a fresh interpreter each), triggers are well-formed (7-field SCF cron,
COS bucket and prefix, function URL options, the API Gateway routes cover the HTTP surface), the
environment is made of variables the settings know (or the platform's) and fits SCF's 4 KB, and the
memory and timeouts are values SCF allows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.code import cloudbase_env, cloudbase_timer, load_deployment
from xiaofei.config import ENV_VARS

ROOT = Path(__file__).resolve().parent.parent
DOC = yaml.safe_load((ROOT / "serverless.yml").read_text())
INPUTS = DOC["inputs"]
FUNCTIONS: dict[str, dict[str, Any]] = INPUTS["functions"]
TRIGGERS: list[dict[str, Any]] = INPUTS["triggers"]
APIGW_DOC: dict[str, Any] = yaml.safe_load((ROOT / "infra" / "scf" / "apigw" / "serverless.yml").read_text())
URLS: list[dict[str, Any]] = yaml.safe_load((ROOT / "infra" / "scf" / "function-urls.yml").read_text())
# What the components accept, read from their sources (each file says which files and commits).
MULTI_SCF: dict[str, Any] = json.loads((ROOT / "infra" / "scf" / "multi-scf-0.3.14.json").read_text())
APIGATEWAY: dict[str, Any] = json.loads((ROOT / "infra" / "scf" / "apigateway-0.4.2.json").read_text())


def env_of(body: dict[str, Any]) -> dict[str, str]:
    """A function's environment in multi-scf's form, environments: [{key, value}]."""
    return {str(e["key"]): str(e["value"]) for e in body["environments"]}


# Variables SCF itself reads (time zone) that a deployment may set beside the XIAOFEI_ ones.
PLATFORM_VARS = {"TZ"}
ENV_LIMIT_BYTES = 4096
# The longest realistic value of each deploy-time ${env:NAME} reference, for the 4 KB budget.
DEPLOY_VALUE_MAX = {
    "COS_BUCKET": 63, "REGION": 20, "XIAOFEI_SECRET": 128, "WEB_ORIGIN": 100, "LAYER_VERSION": 4, "STAGE": 16,
    "CLS_LOGSET_ID": 36, "CLS_TOPIC_ID": 36,
}  # fmt: skip
ENV_REF = re.compile(r"\$\{env:([A-Za-z0-9_]+)\}")


# --- cron -------------------------------------------------------------------------------------------------

_CRON_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
                ("weekday", 0, 6), ("year", 1970, 2099))  # fmt: skip
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def cron_problems(expression: str) -> list[str]:
    """Problems of an SCF cron (sec min hour day month week year); [] when it is well-formed."""
    fields = expression.split()
    if len(fields) != 7:
        return [f"{len(fields)} fields, SCF wants 7 (sec min hour day month week year)"]
    problems = []
    for text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        names = _MONTHS if name == "month" else _DAYS if name == "weekday" else []
        for part in text.split(","):
            if not _cron_part_ok(part, low, high, names, allow_question=name in ("day", "weekday")):
                problems.append(f"{name}: {part!r}")
    return problems


def _cron_part_ok(part: str, low: int, high: int, names: list[str], allow_question: bool) -> bool:
    if part == "*" or (part == "?" and allow_question):
        return True
    base, _, step = part.partition("/")
    if step and not (step.isdigit() and 0 < int(step) <= high):
        return False
    if base == "*":
        return bool(step)

    def value(token: str) -> int | None:
        if token.upper() in names:
            return names.index(token.upper()) + (1 if names is _MONTHS else 0)
        return int(token) if token.isdigit() else None

    bounds = [value(t) for t in base.split("-")]
    if not 1 <= len(bounds) <= 2 or any(b is None or not low <= b <= high for b in bounds):
        return False
    return len(bounds) == 1 or bounds[0] <= bounds[1]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("expression", "ok"),
    [("0 */10 * * * * *", True), ("0 0 2 1 * * *", True), ("0 30 9 ? * MON-FRI *", True),
     ("*/5 * * * *", False), ("0 60 * * * * *", False), ("0 */0 * * * * *", False),
     ("0 5-1 * * * * *", False), ("0 0 0 * 13 * *", False), ("x * * * * * *", False)],
)  # fmt: skip
def test_cron_checker_knows_good_from_bad(expression: str, ok: bool) -> None:
    assert (cron_problems(expression) == []) is ok


# --- functions --------------------------------------------------------------------------------------------


def test_the_three_functions_on_python_3_10_with_the_layer() -> None:
    assert DOC["component"] == "multi-scf"
    assert INPUTS["runtime"] == "Python3.10"
    assert INPUTS["src"]["src"] == "./dist/scf"
    assert set(FUNCTIONS) == {"predict", "history", "model_update"}
    for name, body in FUNCTIONS.items():
        assert body["layers"] == [{"name": "xiaofei-deps", "version": "${env:LAYER_VERSION}"}], name
        memory, timeout = body["memorySize"], body["timeout"]
        assert memory == 64 or (128 <= memory <= 3072 and memory % 128 == 0), name
        assert 1 <= timeout <= 900, name


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_handler_exists_and_imports_in_a_fresh_interpreter(function: str) -> None:
    # GIVEN the handler serverless.yml names: "<function>.main_handler" in the multi-scf folder, which
    # make package fills from functions/<function>/index.py
    module, _, attribute = FUNCTIONS[function]["handler"].rpartition(".")
    assert module == function and attribute == "main_handler"
    entry = ROOT / "functions" / function / "index.py"
    assert entry.is_file()
    # WHEN a fresh interpreter imports it as the platform does (a module from a file)
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location({module!r}, {str(entry)!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        f"fn = getattr(mod, {attribute!r})\n"
        "assert callable(fn) and fn.__code__.co_argcount == 2, 'main_handler(event, context)'\n"
        "heavy = sorted(m for m in ('torch', 'boto3', 'botocore') if m in sys.modules)\n"
        "import json; print(json.dumps(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    # THEN it imports, takes (event, context), and importing it loads neither torch nor boto3 (the
    # object store's client is made on first use)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_functions_share_one_environment_of_known_variables() -> None:
    envs = [env_of(body) for body in FUNCTIONS.values()]
    assert all(env == envs[0] for env in envs)  # one anchor, written once
    for key in envs[0]:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{1,63}", key), key  # SCF's key rule
        assert key in ENV_VARS or key in PLATFORM_VARS, f"{key} is not a setting (xiaofei.config.ENV_VARS)"


def test_secret_is_a_reference_and_storage_is_cos_with_virtual_hosts() -> None:
    env = env_of(FUNCTIONS["predict"])
    assert env["XIAOFEI_SECRET"] == "${env:XIAOFEI_SECRET}"
    storage = env["XIAOFEI_STORAGE"]
    assert storage.startswith("s3://${env:COS_BUCKET}?")
    assert "endpoint=https://cos.${env:REGION}.myqcloud.com" in storage and "addressing=virtual" in storage
    assert env["XIAOFEI_MODEL_CACHE_DIR"].startswith("/tmp/")
    assert set(env["XIAOFEI_MODELS"].split(",")) == {"pneumonia", "skin"}


def test_environment_fits_scf_4kb_with_the_longest_values() -> None:
    for name, body in FUNCTIONS.items():
        total = 0
        for key, value in env_of(body).items():
            refs = ENV_REF.findall(str(value))
            assert set(refs) <= set(DEPLOY_VALUE_MAX), f"{name}: unknown deploy variable in {key}"
            expanded = ENV_REF.sub(lambda m: "x" * DEPLOY_VALUE_MAX[m[1]], str(value))
            total += len(key.encode()) + len(expanded.encode())
        assert total < ENV_LIMIT_BYTES, f"{name}: {total} bytes of environment"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_env_example_lists_every_deploy_variable() -> None:
    names = {name for text in _strings(DOC) + _strings(APIGW_DOC) for name in ENV_REF.findall(text)}
    example = (ROOT / "infra" / "env.example").read_text()
    assert names >= {"COS_BUCKET", "REGION", "XIAOFEI_SECRET", "LAYER_VERSION"}
    for name in names:
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from infra/env.example"


# --- triggers ---------------------------------------------------------------------------------------------


def _triggers(kind: str) -> list[dict[str, Any]]:
    return [t for t in TRIGGERS if t["type"] == kind]


def test_every_trigger_names_a_function_and_a_type_the_components_toolkit_knows() -> None:
    # The toolkit multi-scf 0.3.14 bundles has no `http` (function URL) type: an unknown type throws after
    # the functions are deployed.
    for trigger in TRIGGERS:
        assert trigger["type"] in MULTI_SCF["trigger_types"], trigger["type"]
        assert trigger["function"] in FUNCTIONS
        assert trigger["parameters"].get("qualifier", "$DEFAULT") == "$DEFAULT"


# --- against the component's own schema --------------------------------------------------------------------


def test_inputs_and_functions_use_only_keys_multi_scf_reads() -> None:
    assert set(INPUTS) <= set(MULTI_SCF["input_keys"]), set(INPUTS) - set(MULTI_SCF["input_keys"])
    for name, body in FUNCTIONS.items():
        unknown = set(body) - set(MULTI_SCF["function_keys"])
        assert not unknown, f"{name}: multi-scf does not read {unknown}"
        # multi-scf replaces environment with the (default empty) environments list: it must be the list
        assert "environment" not in body and isinstance(body["environments"], list), name
        assert all(set(e) == {"key", "value"} for e in body["environments"]), name
        assert set(body["cls"]) <= set(MULTI_SCF["cls_keys"]) and set(body["cls"]) == {"logsetId", "topicId"}
        assert all(set(layer) == set(MULTI_SCF["layer_keys"]) for layer in body["layers"])


def multi_scf_name(key: str, stage: str) -> str:
    return MULTI_SCF["function_name"].format(name=DOC["name"], stage=stage, app=DOC["app"], key=key)


def test_function_names_the_component_makes_are_valid_and_documented() -> None:
    from infra.function_urls import function_name

    deploy_doc = (ROOT / "docs" / "DEPLOY.md").read_text()
    for key in FUNCTIONS:
        longest = multi_scf_name(key, "x" * DEPLOY_VALUE_MAX["STAGE"])
        assert re.fullmatch(MULTI_SCF["function_name_rule"], longest), longest
        assert function_name(key, "prod") == multi_scf_name(key, "prod")
        # the docs use the names the component really gives
        assert multi_scf_name(key, "<stage>") in deploy_doc, key
    assert "predict-xiaofei-" not in deploy_doc and "model_update-xiaofei-" not in deploy_doc


def test_runtime_outside_the_components_allow_list_is_a_known_risk() -> None:
    # multi-scf 0.3.14's runtime list stops at Python3.7; SCF itself offers Python3.10. Whether the
    # framework enforces the list could not be checked here: DEPLOY.md says so and gives the fallback.
    assert INPUTS["runtime"] not in MULTI_SCF["runtimes_allowed"]
    assert "Python3.10" in (ROOT / "docs" / "DEPLOY.md").read_text().split("could not be verified")[-1]


def test_timer_runs_model_update_every_ten_minutes_with_a_7_field_cron() -> None:
    (timer,) = _triggers("timer")
    assert timer["function"] == "model_update"
    assert timer["parameters"]["cronExpression"] == "0 */10 * * * * *"
    assert cron_problems(timer["parameters"]["cronExpression"]) == []
    assert timer["parameters"]["enable"] is True


def test_cos_trigger_sends_uploads_to_predict() -> None:
    (cos,) = _triggers("cos")
    params = cos["parameters"]
    assert cos["function"] == "predict"
    assert params["bucket"] == "${env:COS_BUCKET}.cos.${env:REGION}.myqcloud.com"
    assert params["filter"] == {"prefix": "uploads/"}
    assert params["events"] == "cos:ObjectCreated:*" and params["enable"] is True


def test_function_urls_for_predict_and_history() -> None:
    assert not _triggers("http")  # not through multi-scf (see above)
    urls = {u["function"]: u for u in URLS}
    assert set(urls) == {"predict", "history"}
    for params in urls.values():
        assert params["authType"] in {"NONE", "CAM"}
        assert params["netConfig"]["enableExtranet"] is True
        assert params["qualifier"] == "$DEFAULT"
    assert len({p["name"] for p in urls.values()}) == 2


def test_api_gateway_instance_is_what_the_apigateway_component_reads() -> None:
    assert APIGW_DOC["component"] == "apigateway"
    inputs = APIGW_DOC["inputs"]
    assert set(inputs) <= set(APIGATEWAY["input_keys"])
    assert re.fullmatch(APIGATEWAY["service_name_rule"], inputs["serviceName"])
    functions = {multi_scf_name(key, "${env:STAGE}"): key for key in FUNCTIONS}
    for api in inputs["endpoints"]:
        assert set(api) <= set(APIGATEWAY["endpoint_keys"]), set(api) - set(APIGATEWAY["endpoint_keys"])
        assert api["method"] in APIGATEWAY["methods"]
        fn = api["function"]
        assert set(fn) <= set(APIGATEWAY["function_keys"])
        # the integrated response is read under function (an API-level flag is ignored)
        assert fn["isIntegratedResponse"] is True and fn["functionQualifier"] == "$DEFAULT"
        assert fn["functionName"] in functions, fn["functionName"]  # the names multi-scf gives
        low, high = APIGATEWAY["service_timeout"]
        assert low <= api["serviceTimeout"] <= min(high, FUNCTIONS[functions[fn["functionName"]]]["timeout"])
        # a base64 trigger is passed on only with isBase64Encoded: true
        if api.get("isBase64Trigger"):
            assert api["isBase64Encoded"] is True and api["base64EncodedTriggerRules"]


def test_api_gateway_alternative_covers_every_http_route() -> None:
    from xiaofei.adapters.http_api import ROUTES

    apis = APIGW_DOC["inputs"]["endpoints"]
    # Every route the backend answers is reachable: its method and a matching path template.
    for method, pattern, _, _ in ROUTES:
        sample = re.sub(r"\(\?P<\w+>[^)]*\)", "x1", pattern.pattern.strip("^$"))
        assert any(
            a["method"] in (method, "ANY") and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", a["path"]), sample)
            for a in apis
        ), f"{method} {sample} has no API Gateway route"


# --- one source of truth ----------------------------------------------------------------------------------


def test_packaging_reads_the_same_description() -> None:
    deployment = load_deployment()
    assert [s.name for s in deployment.functions] == list(FUNCTIONS)
    predict = next(s for s in deployment.functions if s.name == "predict")
    assert predict.models == ("pneumonia", "skin") and predict.memory_mb == FUNCTIONS["predict"]["memorySize"]
    assert next(s for s in deployment.functions if s.name == "history").models == ()


def test_cloudbase_variant_translates_triggers_and_references() -> None:
    (timer,) = _triggers("timer")
    assert cloudbase_timer(timer) == {"name": "model-update", "type": "timer", "config": "0 */10 * * * * *"}
    assert (
        cloudbase_env("s3://${env:COS_BUCKET}?region=${env:REGION}")
        == "s3://{{env.COS_BUCKET}}?region={{env.REGION}}"
    )


# --- secrets and the release steps ----------------------------------------------------------------------


def test_env_file_with_the_secret_is_ignored_by_git() -> None:
    # infra/env.example tells the deployer to put XIAOFEI_SECRET in .env beside serverless.yml
    for name in (".env", "miniprogram/cloudfunctions/.env", ".env.local"):
        done = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, capture_output=True)
        assert done.returncode == 0, f"{name} is not git-ignored"
    done = subprocess.run(["git", "check-ignore", "-q", "infra/env.example"], cwd=ROOT, capture_output=True)
    assert done.returncode == 1  # the example itself is kept


def test_deploy_doc_has_the_wechat_release_steps() -> None:
    text = (ROOT / "docs" / "DEPLOY.md").read_text()
    release = text.split("## 7. Releasing the mini program")[1].split("\n## ")[0]
    for needed in ("用户隐私保护指引", "wx.chooseMedia", "摄像头", "类目", "医疗机构执业许可证", "提交审核"):
        assert needed in release, needed
