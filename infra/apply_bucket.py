"""Apply the bucket's lifecycle and CORS rules through the COS S3 API, then read them back to verify.

    python -m infra.apply_bucket --bucket xiaofei-1250000000 --region ap-shanghai \\
        --origin https://xiaofei.example.com            # the web page's origin (presigned PUTs)

Credentials come from the environment as for the functions (``TENCENTCLOUD_SECRETID`` /
``TENCENTCLOUD_SECRETKEY`` [/ ``TENCENTCLOUD_SESSIONTOKEN``], or ``AWS_ACCESS_KEY_ID`` / …). The endpoint
defaults to ``https://cos.<region>.myqcloud.com`` with virtual-hosted addressing: COS refuses path-style
requests for buckets made after 2024-01-01. Retention comes from ``XIAOFEI_RETENTION_DAYS`` /
``XIAOFEI_UPLOAD_RETENTION_DAYS`` (the functions' settings) unless given here. ``--print-policies``
renders the CAM policies of infra/cam/ for this bucket instead.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from xiaofei.config import Settings

INFRA = Path(__file__).resolve().parent
LIFECYCLE = INFRA / "cos" / "lifecycle.json"
CORS = INFRA / "cos" / "cors.json"
POLICIES = {
    "xiaofei-serving": INFRA / "cam" / "policy.json",
    "xiaofei-model-update": INFRA / "cam" / "model-update-policy.json",
    "xiaofei-model-update (SCF rollout mode)": INFRA / "cam" / "model-update-scf-rollout.json",
}
UPLOADS = "uploads/"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def lifecycle_rules(retention_days: int, upload_retention_days: int) -> dict[str, Any]:
    """infra/cos/lifecycle.json with the retention settings: uploads/ short-lived, the rest after
    ``retention_days``; models/ and audit/ never expire (no rule names them)."""
    if retention_days < 1 or upload_retention_days < 1:
        raise ValueError("retention days must be at least 1")
    config = json.loads(LIFECYCLE.read_text(encoding="utf-8"))
    for rule in config["Rules"]:
        days = upload_retention_days if rule["Filter"]["Prefix"] == UPLOADS else retention_days
        rule["Expiration"]["Days"] = days
    return config


def cors_rules(origin: str) -> dict[str, Any]:
    """infra/cos/cors.json for the web page's origin (scheme://host[:port], no path, never '*')."""
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?", origin):
        raise ValueError(f"origin must look like https://host[:port], not {origin!r}")
    return render(json.loads(CORS.read_text(encoding="utf-8")), {"WEB_ORIGIN": origin})


def render(document: Any, values: dict[str, str]) -> Any:
    """Replace ``${NAME}`` placeholders in every string; an unknown one is an error."""
    if isinstance(document, dict):
        return {k: render(v, values) for k, v in document.items()}
    if isinstance(document, list):
        return [render(v, values) for v in document]
    if isinstance(document, str):
        missing = [m for m in _PLACEHOLDER.findall(document) if m not in values]
        if missing:
            raise ValueError(f"no value for {', '.join(sorted(set(missing)))}")
        return _PLACEHOLDER.sub(lambda m: values[m[1]], document)
    return document


def render_policies(values: dict[str, str]) -> dict[str, Any]:
    return {
        role: render(json.loads(path.read_text(encoding="utf-8")), values) for role, path in POLICIES.items()
    }


# --- applying ---------------------------------------------------------------------------------------------


def make_client(bucket: str, region: str, endpoint: str | None, addressing: str) -> Any:
    """An S3 client for COS, built the way the functions build theirs (xiaofei.storage.open)."""
    from xiaofei.storage.open import make_s3_client, parse_s3_url

    query = {
        "region": region,
        "addressing": addressing,
        "endpoint": endpoint or f"https://cos.{region}.myqcloud.com",
    }
    client = make_s3_client(parse_s3_url(f"s3://{bucket}?{urlencode(query)}"))
    for operation in ("PutBucketLifecycleConfiguration", "PutBucketCors"):
        client.meta.events.register(f"before-sign.s3.{operation}", _content_md5)
    return client


def _content_md5(request: Any, **_: Any) -> None:
    # COS requires Content-MD5 on these PUTs; newer botocore sends only a CRC32 checksum header.
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    if "Content-MD5" not in request.headers:
        request.headers["Content-MD5"] = base64.b64encode(
            hashlib.md5(body, usedforsecurity=False).digest()
        ).decode()


def apply(client: Any, bucket: str, lifecycle: dict[str, Any], cors: dict[str, Any]) -> None:
    """PUT replaces the whole configuration (COS keeps one lifecycle and one CORS document per bucket)."""
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=copy.deepcopy(lifecycle))
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration=copy.deepcopy(cors))


def read_back(client: Any, bucket: str) -> tuple[dict[str, Any], dict[str, Any]]:
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    cors = client.get_bucket_cors(Bucket=bucket)
    return {"Rules": lifecycle.get("Rules", [])}, {"CORSRules": cors.get("CORSRules", [])}


def differences(wanted: dict[str, Any], got: dict[str, Any], key: str) -> list[str]:
    """What the bucket holds that differs from what was applied (rules matched by ID)."""
    have = {rule.get("ID"): rule for rule in got.get(key, [])}
    problems = []
    for rule in wanted[key]:
        actual = have.get(rule["ID"])
        if actual is None:
            problems.append(f"{key}: rule {rule['ID']} is missing")
            continue
        for field, value in rule.items():
            if _normal(actual.get(field)) != _normal(value):
                problems.append(f"{key}: {rule['ID']}.{field} is {actual.get(field)!r}, wanted {value!r}")
    extra = set(have) - {rule["ID"] for rule in wanted[key]}
    problems += [f"{key}: unexpected rule {name}" for name in sorted(extra, key=str)]
    return problems


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(_normal(v) for v in value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _parse(argv: list[str] | None) -> argparse.Namespace:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m infra.apply_bucket", description=__doc__.split("\n")[0])
    parser.add_argument("--bucket", required=True, help="BucketName-APPID")
    parser.add_argument("--region", required=True, help="e.g. ap-shanghai")
    parser.add_argument("--origin", help="the web page's origin, for CORS")
    parser.add_argument("--endpoint", help="default https://cos.<region>.myqcloud.com")
    parser.add_argument("--addressing", choices=("virtual", "path"), default="virtual")
    parser.add_argument("--retention-days", type=int, default=settings.retention_days)
    parser.add_argument("--upload-retention-days", type=int, default=settings.upload_retention_days)
    parser.add_argument("--dry-run", action="store_true", help="print the documents, change nothing")
    parser.add_argument("--print-policies", action="store_true", help="render infra/cam/*.json and exit")
    parser.add_argument("--appid", help="for --print-policies (the bucket's -APPID suffix by default)")
    parser.add_argument("--uin", default="${UIN}", help="for --print-policies (the SCF rollout policy)")
    parser.add_argument("--scf-function", default="${SCF_FUNCTION}", help="for --print-policies")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.print_policies:
        appid = args.appid or args.bucket.rsplit("-", 1)[-1]
        values = {"REGION": args.region, "APPID": appid, "COS_BUCKET": args.bucket, "UIN": args.uin,
                  "SCF_FUNCTION": args.scf_function}  # fmt: skip
        print(json.dumps(render_policies(values), indent=2, ensure_ascii=False))
        return 0
    if not args.origin:
        print("--origin is required (the web page's origin, for presigned uploads)", file=sys.stderr)
        return 2
    lifecycle = lifecycle_rules(args.retention_days, args.upload_retention_days)
    cors = cors_rules(args.origin)
    if args.dry_run:
        print(json.dumps({"lifecycle": lifecycle, "cors": cors}, indent=2))
        return 0
    client = make_client(args.bucket, args.region, args.endpoint, args.addressing)
    apply(client, args.bucket, lifecycle, cors)
    got_lifecycle, got_cors = read_back(client, args.bucket)
    problems = differences(lifecycle, got_lifecycle, "Rules") + differences(cors, got_cors, "CORSRules")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    rules, origins = len(lifecycle["Rules"]), len(cors["CORSRules"])
    print(
        f"applied {rules} lifecycle rules and {origins} CORS rule(s) to {args.bucket}; read back: identical"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
