"""The operator's commands for the doctor's read.

    xiaofei reviewer list
    xiaofei reviewer add CODE --name NAME           a mini program doctor (CODE: shown to them in the app)
    xiaofei reviewer add --web --name NAME [--days D]   a web doctor: prints a sign-in link (a token)
    xiaofei reviewer remove CODE
    xiaofei export-reviewed --out DIR [--model pneumonia] [--since YYYY-MM-DD]

(``xiaofei model agreement``, the doctors' agreement per model version, is a ``model`` command:
``registry_cli``.)

Every change is audited with ``by`` = ``$USER``; reviewer codes are uids (keyed hashes), never openids.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from xiaofei.adapters.registry_cli import operator
from xiaofei.errors import BadRequest

MAX_WEB_DAYS = 366


def add_reviewer_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="reviewer_command", required=True)
    commands.add_parser("list", help="the site's reviewers")
    add = commands.add_parser("add", help="put a doctor on the reviewer list")
    add.add_argument("code", nargs="?", help="the doctor's reviewer code (the mini program shows it)")
    add.add_argument("--name", required=True, help="how owners see the doctor, e.g. 'Dr Li, radiology'")
    add.add_argument("--web", action="store_true", help="a web doctor: mint a sign-in link instead")
    add.add_argument("--days", type=int, default=180, help="--web: how long the sign-in link works")
    add.add_argument("--reason", default="")
    remove = commands.add_parser("remove", help="take a doctor off the list (their links stop working)")
    remove.add_argument("code")
    remove.add_argument("--reason", default="")
    for sub in commands.choices.values():
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="a new (or empty) folder")
    parser.add_argument("--model", default="pneumonia")
    parser.add_argument("--since", help="only films read by the model on or after this date")


def _operator() -> str:
    return operator()


def run_reviewer(args: argparse.Namespace) -> int:
    from xiaofei.app import App
    from xiaofei.usecases import reviews

    app = App()
    result: dict[str, Any]
    if args.reviewer_command == "list":
        result = {"reviewers": reviews.list_reviewers(app)}
        text = (
            "\n".join(
                f"{r['uid']}  {r['name']}  ({r['provider']}, added {r['added_at']} by {r['by']})"
                for r in result["reviewers"]
            )
            or "no reviewers"
        )
    elif args.reviewer_command == "add":
        result, text = _add(app, args)
    else:
        entry = reviews.remove_reviewer(app, args.code, by=_operator(), reason=args.reason)
        result, text = {"removed": entry}, f"removed {entry['uid']} ({entry['name']})"
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else text)
    return 0


def _add(app: Any, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    from xiaofei.usecases import reviews

    if args.web == (args.code is not None):
        raise BadRequest(
            "Give a reviewer CODE, or --web (not both).", "请提供审阅医生编码，或使用 --web（二选一）。"
        )
    if not args.web:
        entry = reviews.add_reviewer(
            app, args.code, args.name, provider="code", by=_operator(), reason=args.reason
        )
        return {"reviewer": entry}, f"added {entry['uid']} ({entry['name']})"
    if not 1 <= args.days <= MAX_WEB_DAYS:
        raise BadRequest(f"--days must be 1..{MAX_WEB_DAYS}.", f"--days 必须在 1 到 {MAX_WEB_DAYS} 之间。")
    from xiaofei.identity import TokenIssuer

    issuer = TokenIssuer(hashlib.sha256(b"token:" + app.secret).digest(), args.days * 86400)  # as app.tokens
    token, expires_at = issuer.issue()
    uid = issuer.verify(token).uid
    entry = reviews.add_reviewer(app, uid, args.name, provider="web", by=_operator(), reason=args.reason)
    link = f"{app.settings.public_url.rstrip('/')}/review.html#signin={token}"
    result = {"reviewer": entry, "token": token, "expires_at": int(expires_at), "signin_url": link}
    return result, (
        f"added {uid} ({entry['name']}); give the doctor this sign-in link (keep it private, valid "
        f"{args.days} days):\n{link}"
    )


def run_export(args: argparse.Namespace) -> int:
    from xiaofei.app import App
    from xiaofei.usecases.export import export_reviewed

    summary = export_reviewed(App(), args.out, model=args.model, since=args.since, by=_operator())
    print(
        f"exported {summary['count']} reviewed films with consent to {args.out} {summary['labels']}"
        f" (skipped: {summary['skipped'] or 'none'})\ntrain: {summary['train']}"
    )
    return 0
