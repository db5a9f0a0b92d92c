"""Create or update the function URLs (函数 URL) that ``infra/scf/function-urls.yml`` describes.

    python -m infra.function_urls --stage prod --region ap-shanghai [--dry-run]

Run it after ``scf deploy`` (the functions must exist). The multi-scf component cannot make these
triggers (its bundled toolkit knows no ``http`` type: ``infra/scf/multi-scf-0.3.14.json``), so this
makes them with the SCF API the toolkit's later versions call (``tencent-component-toolkit`` v2.26
``src/modules/triggers/http.ts``): ``CreateTrigger`` with ``Type: http``, ``Enable: OPEN`` and
``TriggerDesc`` = ``{"AuthType", "NetConfig": {"EnableIntranet", "EnableExtranet"}}``; an existing
trigger of the same name is updated (``UpdateTrigger``) instead, so a re-run is harmless.

Credentials: an operator's key in ``TENCENTCLOUD_SECRETID`` / ``TENCENTCLOUD_SECRETKEY`` (or the SDK's
default chain: ``tccli configure``'s profile). The function names are the ones multi-scf gives:
``{name}-{stage}-{app}-{key}`` (``function_name``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URLS_YML = ROOT / "infra" / "scf" / "function-urls.yml"
SERVERLESS_YML = ROOT / "serverless.yml"


def function_name(key: str, stage: str, *, name: str = "xiaofei", app: str = "xiaofei") -> str:
    """The SCF name multi-scf gives the function ``key`` (formatter.ts ``formatScfName``)."""
    return f"{name}-{stage}-{app}-{key}"


def instance_names(path: Path = SERVERLESS_YML) -> tuple[str, str]:
    """serverless.yml's ``name`` and ``app`` (the stage comes from the deployer's environment)."""
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(doc["name"]), str(doc["app"])


@dataclass(frozen=True)
class UrlTrigger:
    function: str  # the serverless.yml function key
    name: str
    qualifier: str
    auth_type: str
    intranet: bool
    extranet: bool

    def trigger_desc(self) -> str:
        return json.dumps(
            {
                "AuthType": self.auth_type,
                "NetConfig": {"EnableIntranet": self.intranet, "EnableExtranet": self.extranet},
            },
            separators=(",", ":"),
        )


def load_url_triggers(path: Path = URLS_YML) -> list[UrlTrigger]:
    import yaml

    out = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")):
        net = item.get("netConfig") or {}
        out.append(
            UrlTrigger(
                function=str(item["function"]),
                name=str(item["name"]),
                qualifier=str(item.get("qualifier", "$DEFAULT")),
                auth_type=str(item.get("authType", "NONE")),
                intranet=bool(net.get("enableIntranet", False)),
                extranet=bool(net.get("enableExtranet", True)),
            )
        )
    return out


def requests_for(trigger: UrlTrigger, scf_name: str, namespace: str, existing: bool) -> tuple[str, Any]:
    """The SDK action and its request model for one trigger."""
    from tencentcloud.scf.v20180416 import models

    action = "UpdateTrigger" if existing else "CreateTrigger"
    request = getattr(models, f"{action}Request")()
    request.from_json_string(
        json.dumps(
            {
                "FunctionName": scf_name,
                "TriggerName": trigger.name,
                "Type": "http",
                "TriggerDesc": trigger.trigger_desc(),
                "Namespace": namespace,
                "Qualifier": trigger.qualifier,
                "Enable": "OPEN",
            }
        )
    )
    return action, request


def existing_url_triggers(client: Any, scf_name: str, namespace: str) -> dict[str, dict[str, Any]]:
    from tencentcloud.scf.v20180416 import models

    request = models.ListTriggersRequest()
    request.from_json_string(json.dumps({"FunctionName": scf_name, "Namespace": namespace, "Limit": 100}))
    response = client.ListTriggers(request)
    found = {}
    for info in json.loads(response.to_json_string()).get("Triggers") or []:
        if info.get("Type") == "http":
            found[str(info.get("TriggerName"))] = info
    return found


def apply(
    client: Any, stage: str, namespace: str = "default", *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Create or update every function URL; what was done (and each trigger's description as SCF
    returned it: the console's 函数 URL tab shows the address)."""
    name, app = instance_names()
    done = []
    for trigger in load_url_triggers():
        scf_name = function_name(trigger.function, stage, name=name, app=app)
        existing = trigger.name in existing_url_triggers(client, scf_name, namespace)
        action, request = requests_for(trigger, scf_name, namespace, existing)
        entry: dict[str, Any] = {"function": scf_name, "trigger": trigger.name, "action": action}
        if not dry_run:
            response = getattr(client, action)(request)
            info = json.loads(response.to_json_string()).get("TriggerInfo") or {}
            entry["trigger_desc"] = info.get("TriggerDesc")
        done.append(entry)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="the STAGE serverless.yml was deployed with")
    parser.add_argument("--region", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--dry-run", action="store_true", help="list what would be done (still reads)")
    args = parser.parse_args(argv)
    from xiaofei.adapters.rollout_scf import make_client

    client = make_client(args.region)
    for entry in apply(client, args.stage, args.namespace, dry_run=args.dry_run):
        print(json.dumps(entry, ensure_ascii=False))


if __name__ == "__main__":
    main()
