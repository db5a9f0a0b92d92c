"""``xiaofei model …``: the operator's commands over the model registry.

    xiaofei model list
    xiaofei model publish DIR [--name NAME]
    xiaofei model evaluate NAME VERSION
    xiaofei model promote NAME VERSION [--canary W] [--force]
    xiaofei model rollback NAME
    xiaofei model status NAME
    xiaofei model golden NAME DIR            replace the golden set
    xiaofei model policy NAME [FILE]         show, or replace, the policy
    xiaofei model audit [--model NAME] [--limit N]
    xiaofei model agreement NAME [--version V] [--since DATE] [--out DIR]   model vs the site's doctors

Every change is recorded in the audit log with ``by`` = ``$USER`` (or ``cli``) and ``--reason``. The store
is the one ``XIAOFEI_STORAGE`` names, exactly as the functions see it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xiaofei.errors import BadRequest, NotFound


def add_commands(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands = parser.add_subparsers(dest="model_command", required=True)

    def add(command: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(command, help=help, parents=[common])

    add("list", "models, their serving / canary versions and candidates")

    publish = add("publish", "upload a package folder (model.onnx + manifest.json)")
    publish.add_argument("dir", type=Path)
    publish.add_argument("--name", help="registry name (default: the manifest's name)")

    evaluate = add("evaluate", "run the evaluation gate now and write evaluation.json")
    evaluate.add_argument("name")
    evaluate.add_argument("version")

    promote = add("promote", "serve a version (or start a canary with --canary W)")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--canary", type=float, metavar="W", help="share of callers, 0 < W < 1")
    promote.add_argument("--force", action="store_true", help="promote without a passed evaluation")

    rollback = add("rollback", "end the canary, or serve the previous version again")
    rollback.add_argument("name")

    status = add("status", "pointer, policy, versions and recent audit entries")
    status.add_argument("name")

    golden = add("golden", "replace the golden set (index.json + images)")
    golden.add_argument("name")
    golden.add_argument("dir", type=Path)

    policy = add("policy", "show the policy, or replace it from a JSON file")
    policy.add_argument("name")
    policy.add_argument("file", type=Path, nargs="?")

    audit = add("audit", "the newest audit entries")
    audit.add_argument("--model")
    audit.add_argument("--limit", type=int, default=20)

    add_agreement_arguments(add("agreement", "agreement with the site's doctors, per version (a report)"))

    for sub in (publish, evaluate, promote, rollback, golden, policy):
        sub.add_argument("--reason", default="", help="why (kept in the audit log)")


def add_agreement_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--version", help="one model version only")
    parser.add_argument("--since", help="only films read by the model on or after this date (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where the report goes")


def operator() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "cli"


def run(args: argparse.Namespace) -> int:
    from xiaofei.app import App

    app = App()
    registry = app.registry
    result = _ACTIONS[args.model_command](app, registry, args)
    if getattr(args, "json", False):
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(_text(args.model_command, result))
    return 0 if result.get("ok", True) else 1


def _list(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    names = sorted(set(app.settings.model_names) | set(registry.names()))
    models = {}
    for name in names:
        registry.bootstrap(name)
        models[name] = _summary(registry, name)
    return {"models": models}


def _summary(registry: Any, name: str) -> dict[str, Any]:
    pointer = registry.pointer(name)
    versions = []
    for entry in registry.versions(name):
        evaluation = registry.evaluation(name, entry["version"])
        versions.append(
            {
                "version": entry["version"],
                "verdict": (evaluation or {}).get("verdict", "candidate"),
                "rollout": (evaluation or {}).get("rollout"),
                "reasons": [r.get("en") for r in (evaluation or {}).get("reasons", [])],
            }
        )
    return {"pointer": pointer.to_json() if pointer else None, "versions": versions}


def _publish(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    name, version = registry.publish(args.dir, name=args.name, by=operator(), reason=args.reason)
    return {
        "published": {"name": name, "version": version},
        "next": "the model_update job evaluates it on its next run (or: xiaofei model evaluate)",
    }


def _evaluate(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    from xiaofei.lifecycle.evaluation import evaluate

    s = app.settings
    if not registry.exists(args.name, args.version):
        raise NotFound(
            f"{args.name} {args.version} is not published.", f"{args.name} {args.version} 尚未发布。"
        )
    evaluation = evaluate(
        registry,
        args.name,
        args.version,
        threads=s.threads,
        max_bytes=s.max_body_bytes,
        max_pixels=s.max_pixels,
        by=operator(),
    )
    registry.audit(
        "evaluate",
        by=operator(),
        reason=args.reason or evaluation["verdict"],
        model=args.name,
        version=args.version,
        details={"verdict": evaluation["verdict"], "reasons": evaluation["reasons"]},
    )
    return {"ok": evaluation["verdict"] == "passed", "evaluation": evaluation}


def _promote(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    pointer = registry.promote(
        args.name,
        args.version,
        by=operator(),
        reason=args.reason,
        canary_weight=args.canary,
        force=args.force,
    )
    return {"pointer": pointer.to_json(), **_scf(app, registry)}


def _rollback(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    pointer = registry.rollback(args.name, by=operator(), reason=args.reason)
    return {"pointer": pointer.to_json(), **_scf(app, registry)}


def _scf(app: Any, registry: Any) -> dict[str, Any]:
    if not app.settings.scf_rollout:
        return {}
    from xiaofei.adapters.rollout_scf import reconcile_from_settings

    return {"scf": reconcile_from_settings(registry, app.settings)}


def _status(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    registry.bootstrap(args.name)
    return {
        **_summary(registry, args.name),
        "policy": registry.load_policy(args.name).to_json(),
        "audit": registry.audit_log(limit=10, model=args.name),
    }


def _golden(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    count = registry.publish_golden(args.name, args.dir, by=operator(), reason=args.reason)
    return {"golden": {"name": args.name, "items": count}}


def _policy(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    if args.file is not None:
        try:
            policy = json.loads(args.file.read_text())
        except (OSError, ValueError) as exc:
            raise BadRequest(f"{args.file} is not a JSON file.", f"{args.file} 不是 JSON 文件。") from exc
        registry.put_policy(args.name, policy, by=operator(), reason=args.reason)
    return {"policy": registry.load_policy(args.name).to_json()}


def _audit(app: Any, registry: Any, args: argparse.Namespace) -> dict[str, Any]:
    if not 1 <= args.limit <= 1000:
        raise BadRequest("--limit must be 1..1000.", "--limit 必须在 1 到 1000 之间。")
    return {"audit": registry.audit_log(limit=args.limit, model=args.model)}


_ACTIONS: dict[str, Callable[[Any, Any, argparse.Namespace], dict[str, Any]]] = {
    "list": _list,
    "publish": _publish,
    "evaluate": _evaluate,
    "promote": _promote,
    "rollback": _rollback,
    "status": _status,
    "golden": _golden,
    "policy": _policy,
    "audit": _audit,
    "agreement": lambda app, registry, args: _agreement(app, args),
}


def _agreement(app: Any, args: argparse.Namespace) -> dict[str, Any]:
    from xiaofei.usecases.agreement import agreement, report, write_report

    result = agreement(app, args.name, version=args.version, since=args.since)
    try:
        files = write_report(result, args.out)
    except ImportError:  # matplotlib is in the [train] extra: the figures still print and go to JSON
        files = {}
    return {**result, "report": files, "text": report(result)}


# ------------------------------------------------------------------------------------------- printing


def _pointer_line(pointer: dict[str, Any] | None) -> str:
    if not pointer:
        return "no serving version"
    line = f"serving {pointer['version']}"
    if pointer.get("canary"):
        canary = pointer["canary"]
        line += f", canary {canary['version']} at {canary['weight']:.0%} since {canary['started_at']}"
    if pointer.get("previous"):
        line += f" (previous {pointer['previous']})"
    return line + f" — {pointer.get('by', '')}: {pointer.get('reason', '')}"


def _versions_lines(versions: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in versions:
        state = v["verdict"] + (f", {v['rollout']}" if v.get("rollout") else "")
        lines.append(f"    {v['version']:<20} {state}")
        lines.extend(f"        - {reason}" for reason in v.get("reasons", []))
    return lines


def _text(command: str, result: dict[str, Any]) -> str:
    if command == "list":
        lines = []
        for name, model in result["models"].items():
            lines.append(f"{name}: {_pointer_line(model['pointer'])}")
            lines.extend(_versions_lines(model["versions"]))
        return "\n".join(lines)
    if command == "status":
        lines = [
            _pointer_line(result["pointer"]),
            "versions:",
            *_versions_lines(result["versions"]),
            "policy: " + json.dumps(result["policy"], ensure_ascii=False),
            "recent actions:",
        ]
        lines.extend(
            f"    {e['at']}  {e['by']:<12} {e['action']:<9} {e.get('version') or '':<14} {e.get('reason')}"
            for e in result["audit"]
        )
        return "\n".join(lines)
    if command == "evaluate":
        return _evaluation_text(result["evaluation"])
    if command == "agreement":
        files = result["report"]
        return str(result["text"]) + (
            f"\nreport: {files['html']}" if files else "\n(no plot: matplotlib is missing)"
        )
    if command in ("promote", "rollback"):
        return _pointer_line(result["pointer"]) + (
            f"\nSCF: {json.dumps(result['scf'])}" if "scf" in result else ""
        )
    if command == "audit":
        return "\n".join(
            f"{e['at']}  {e['by']:<12} {e['action']:<9} {e.get('model') or '':<10} "
            f"{e.get('version') or '':<14} {e.get('reason', '')}"
            for e in result["audit"]
        )
    return json.dumps(result, ensure_ascii=False, indent=2)


def _evaluation_text(ev: dict[str, Any]) -> str:
    lines = [f"{ev['name']} {ev['version']}: {ev['verdict'].upper()}"]
    for reason in ev["reasons"]:
        lines.append(f"  [{reason['check']}] {reason['en']} / {reason['zh']}")
    for check in ev["checks"]:
        lines.append(f"  {'ok ' if check['ok'] else 'FAIL'} {check['check']:<11} {check['ms']:>8.1f} ms")
    metrics = ev.get("metrics") or {}
    if metrics:
        shown = {
            k: metrics[k]
            for k in (
                "accuracy",
                "macro_f1",
                "ece",
                "acceptance_rate",
                "rejection_rate",
                "p95_ms",
                "model_bytes",
            )
            if k in metrics
        }
        lines.append("  metrics: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    serving = ev.get("serving") or {}
    if serving.get("metrics"):
        lines.append(
            f"  serving {serving['version']}: accuracy={serving['metrics']['accuracy']}, "
            f"macro_f1={serving['metrics']['macro_f1']}"
        )
    return "\n".join(lines)
