"""Bucket rules and CAM policies (infra/): their content, and apply_bucket against a real S3 endpoint.

The local S3 server is moto's (tests/s3server.py), reached over HTTP with virtual-hosted addressing as
COS requires; the rules are applied, read back, compared, and applied again (idempotent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import apply_bucket
from tests.s3server import S3Settings
from xiaofei.config import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parent.parent
USER_PREFIXES = {"uploads/", "images/", "heatmaps/", "history/", "idem/"}


def _serverless_env() -> dict[str, str]:
    doc = yaml.safe_load((ROOT / "serverless.yml").read_text())
    return {str(e["key"]): str(e["value"]) for e in doc["inputs"]["functions"]["predict"]["environments"]}


def _statements(name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads((ROOT / "infra" / "cam" / name).read_text())["statement"]
    return statements


# --- lifecycle -------------------------------------------------------------------------------------------


def test_lifecycle_expires_user_data_and_never_models_or_audit() -> None:
    # GIVEN the lifecycle file as committed
    rules = json.loads((ROOT / "infra" / "cos" / "lifecycle.json").read_text())["Rules"]
    by_prefix = {rule["Filter"]["Prefix"]: rule for rule in rules}
    # THEN every user prefix expires, uploads after a day, and nothing else has a rule
    assert set(by_prefix) == USER_PREFIXES
    assert by_prefix["uploads/"]["Expiration"]["Days"] == 1
    assert all(rule["Status"] == "Enabled" for rule in rules)
    assert not any(p.startswith(("models", "audit")) or p == "" for p in by_prefix)
    assert len({rule["ID"] for rule in rules}) == len(rules)


def test_lifecycle_days_agree_with_the_settings_and_serverless_yml() -> None:
    # GIVEN the defaults of the settings and what serverless.yml sets for the functions
    defaults = Settings()
    env = _serverless_env()
    rules = json.loads((ROOT / "infra" / "cos" / "lifecycle.json").read_text())["Rules"]
    days = {rule["Filter"]["Prefix"]: rule["Expiration"]["Days"] for rule in rules}
    # THEN the committed file, the settings' defaults and the deployed environment say the same
    assert days["uploads/"] == defaults.upload_retention_days == int(env["XIAOFEI_UPLOAD_RETENTION_DAYS"])
    for prefix in USER_PREFIXES - {"uploads/"}:
        assert days[prefix] == defaults.retention_days == int(env["XIAOFEI_RETENTION_DAYS"])


def test_lifecycle_rules_take_the_retention_settings() -> None:
    config = apply_bucket.lifecycle_rules(retention_days=90, upload_retention_days=2)
    days = {rule["Filter"]["Prefix"]: rule["Expiration"]["Days"] for rule in config["Rules"]}
    assert days.pop("uploads/") == 2
    assert set(days.values()) == {90}
    with pytest.raises(ValueError):
        apply_bucket.lifecycle_rules(retention_days=0, upload_retention_days=1)


# --- CORS ------------------------------------------------------------------------------------------------


def test_cors_allows_the_presigned_put_from_the_page_origin_only() -> None:
    (rule,) = apply_bucket.cors_rules("https://xiaofei.example.com")["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://xiaofei.example.com"]
    assert "PUT" in rule["AllowedMethods"] and "DELETE" not in rule["AllowedMethods"]
    assert rule["AllowedHeaders"] == ["Content-Type"]  # the presigned PUT signs Content-Type
    for bad in ("*", "https://x.example.com/path", "javascript:alert(1)", ""):
        with pytest.raises(ValueError):
            apply_bucket.cors_rules(bad)


# --- CAM -------------------------------------------------------------------------------------------------


def test_serving_policy_is_limited_to_the_user_prefixes_and_reads_models() -> None:
    statements = _statements("policy.json")
    writes = {"name/cos:PutObject", "name/cos:DeleteObject"}
    for statement in statements:
        assert statement["effect"] == "allow"
        assert not any("*" in action for action in statement["action"])  # no wildcard action
        for resource in statement["resource"]:
            assert resource.startswith("qcs::cos:${REGION}:uid/${APPID}:${COS_BUCKET}/")
            prefix = resource.split("${COS_BUCKET}/", 1)[1]
            if writes & set(statement["action"]):
                assert prefix.rstrip("*") in USER_PREFIXES, prefix
            elif prefix != "*":
                assert prefix.rstrip("*") in USER_PREFIXES | {"models/"}
    read_models = [s for s in statements if any(r.endswith("/models/*") for r in s["resource"])]
    assert read_models and all(
        set(s["action"]) <= {"name/cos:GetObject", "name/cos:HeadObject"} for s in read_models
    )
    # Listing is allowed only under the project's prefixes
    (listing,) = [s for s in statements if "name/cos:GetBucket" in s["action"]]
    assert {p.rstrip("*") for p in listing["condition"]["string_like"]["cos:prefix"]} == USER_PREFIXES | {
        "models/"
    }


def test_model_update_policy_writes_models_and_appends_audit_only() -> None:
    statements = _statements("model-update-policy.json")
    resources = {r.split("${COS_BUCKET}/", 1)[1] for s in statements for r in s["resource"]}
    assert resources <= {"models/*", "audit/*", "*"}
    audit = [s for s in statements if any(r.endswith("/audit/*") for r in s["resource"])]
    assert audit and all("name/cos:DeleteObject" not in s["action"] for s in audit)  # append-only


def test_policies_render_with_the_bucket_and_refuse_missing_values() -> None:
    values = {"REGION": "ap-shanghai", "APPID": "1250000000", "COS_BUCKET": "xiaofei-1250000000",
              "UIN": "100000000001", "SCF_FUNCTION": "predict"}  # fmt: skip
    rendered = json.dumps(apply_bucket.render_policies(values))
    assert (
        "${" not in rendered
        and "qcs::cos:ap-shanghai:uid/1250000000:xiaofei-1250000000/history/*" in rendered
    )
    with pytest.raises(ValueError, match="COS_BUCKET"):
        apply_bucket.render_policies({k: v for k, v in values.items() if k != "COS_BUCKET"})


def test_functions_run_under_the_roles_the_policies_describe() -> None:
    doc = yaml.safe_load((ROOT / "serverless.yml").read_text())
    roles = {name: body.get("role") for name, body in doc["inputs"]["functions"].items()}
    assert roles == {
        "predict": "xiaofei-serving",
        "history": "xiaofei-serving",
        "model_update": "xiaofei-model-update",
    }
    trust = json.loads((ROOT / "infra" / "cam" / "trust.json").read_text())
    assert trust["statement"][0]["principal"] == {"service": "scf.qcloud.com"}
    assert "XIAOFEI_RETENTION_DAYS" in ENV_VARS


# --- applying against the local S3 server ---------------------------------------------------------------


def test_apply_bucket_applies_and_reads_back_lifecycle_and_cors(s3_settings: S3Settings) -> None:
    # GIVEN a fresh bucket on the local S3 server, reached with virtual-hosted addressing
    client = apply_bucket.make_client(s3_settings.bucket, s3_settings.region, s3_settings.endpoint, "virtual")
    lifecycle = apply_bucket.lifecycle_rules(30, 1)
    cors = apply_bucket.cors_rules("https://xiaofei.example.com")
    # WHEN the rules are applied (twice: a re-run must be harmless)
    apply_bucket.apply(client, s3_settings.bucket, lifecycle, cors)
    apply_bucket.apply(client, s3_settings.bucket, lifecycle, cors)
    # THEN the bucket holds exactly them
    got_lifecycle, got_cors = apply_bucket.read_back(client, s3_settings.bucket)
    assert apply_bucket.differences(lifecycle, got_lifecycle, "Rules") == []
    assert apply_bucket.differences(cors, got_cors, "CORSRules") == []
    days = {r["Filter"]["Prefix"]: r["Expiration"]["Days"] for r in got_lifecycle["Rules"]}
    assert days == {"uploads/": 1, "images/": 30, "heatmaps/": 30, "history/": 30, "idem/": 30}


def test_apply_bucket_cli_reports_success_and_detects_drift(
    s3_settings: S3Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    where = [
        "--bucket",
        s3_settings.bucket,
        "--region",
        s3_settings.region,
        "--endpoint",
        s3_settings.endpoint,
    ]
    args = [*where, "--origin", "http://localhost:8000", "--retention-days", "7"]
    assert apply_bucket.main(args) == 0
    assert "read back: identical" in capsys.readouterr().out
    # A rule someone changed by hand shows up as a difference
    client = apply_bucket.make_client(s3_settings.bucket, s3_settings.region, s3_settings.endpoint, "virtual")
    wanted = apply_bucket.lifecycle_rules(7, 1)
    drifted = apply_bucket.lifecycle_rules(7, 1)
    drifted["Rules"][1]["Expiration"]["Days"] = 365
    client.put_bucket_lifecycle_configuration(Bucket=s3_settings.bucket, LifecycleConfiguration=drifted)
    got, _ = apply_bucket.read_back(client, s3_settings.bucket)
    assert apply_bucket.differences(wanted, got, "Rules") == [
        "Rules: xiaofei-images.Expiration is {'Days': 365}, wanted {'Days': 7}"
    ]


def test_apply_bucket_cli_needs_an_origin(capsys: pytest.CaptureFixture[str]) -> None:
    assert apply_bucket.main(["--bucket", "xiaofei-1250000000", "--region", "ap-shanghai"]) == 2
    assert "--origin" in capsys.readouterr().err
