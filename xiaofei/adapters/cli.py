"""The ``xiaofei`` command: serve locally, predict one image, invoke a function with an event file,
and (``xiaofei model …``) operate the model registry."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from xiaofei.errors import AppError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="xiaofei", description="Xiaofei (小肺): AI second opinion, locally."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the local server (the same handlers as the cloud)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--web", type=Path, default=_checkout("web"), help="the web page's folder")
    serve.add_argument(
        "--functions", type=Path, default=_checkout("functions"), help="the functions' entry points"
    )

    predict = commands.add_parser("predict", help="predict one image and print the answer")
    predict.add_argument("image", type=Path)
    predict.add_argument("--model", default=None)
    predict.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    predict.add_argument("--heatmap", type=Path, help="write the heatmap overlay PNG here")

    invoke = commands.add_parser("invoke", help="call a function's main_handler with an event file")
    invoke.add_argument("function", help="predict | history | model_update")
    invoke.add_argument("--event", type=Path, required=True)
    invoke.add_argument("--context", type=Path)
    invoke.add_argument(
        "--functions", type=Path, default=_checkout("functions"), help="the functions' entry points"
    )

    model = commands.add_parser("model", help="operate the model registry")
    _add_model_commands(model)

    from xiaofei.adapters.review_cli import add_export_arguments, add_reviewer_commands

    add_reviewer_commands(commands.add_parser("reviewer", help="the site's reviewer list (doctors)"))
    add_export_arguments(
        commands.add_parser("export-reviewed", help="write consented, reviewed films for retraining")
    )

    args = parser.parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except AppError as exc:
        print(f"error [{exc.code}]: {exc.en} / {exc.zh}", file=sys.stderr)
        return 2


def _checkout(folder: str) -> Path | None:
    """``folder`` of the checkout this package runs from (``web``, ``functions``), or None outside one."""
    path = Path(__file__).resolve().parents[2] / folder
    return path if path.is_dir() else None


def _serve(args: argparse.Namespace) -> int:
    from xiaofei.adapters.local_server import serve
    from xiaofei.app import App
    from xiaofei.config import Settings
    from xiaofei.log import configure

    settings = Settings.from_env()
    if "XIAOFEI_PUBLIC_URL" not in os.environ:
        settings = Settings.from_env({**os.environ, "XIAOFEI_PUBLIC_URL": f"http://{args.host}:{args.port}"})
    configure(settings.log_level)
    if args.functions is None:
        print("error: --functions is required outside a checkout", file=sys.stderr)
        return 2
    server = serve(args.host, args.port, App(settings), functions_dir=args.functions, web_dir=args.web)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(
        f"Xiaofei is serving on http://{host}:{port}/  (storage: {settings.storage}; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _predict(args: argparse.Namespace) -> int:
    from xiaofei.app import App
    from xiaofei.usecases.common import resolve_model_name
    from xiaofei.usecases.predict import ImageSource, predict

    try:
        data = args.image.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.image}: {exc.strerror}", file=sys.stderr)
        return 2
    app = App()
    answer = predict(app, None, ImageSource(data=data), resolve_model_name(app, args.model))
    if args.heatmap:
        _write_heatmap(args.heatmap, data, answer)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0


def _write_heatmap(path: Path, data: bytes, answer: dict[str, Any]) -> None:
    """The image as analysed (upright, at most 1024 px) with the heat layer drawn over it, as a PNG."""
    from PIL import Image

    from xiaofei.imaging.heatmap import composite
    from xiaofei.imaging.image_io import decode

    layer = base64.b64decode(answer["heatmap"]["data_url"].partition(",")[2])
    image = decode(data, min_side=1024).image
    image.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    composite(image, layer).save(path, format="PNG")


def format_answer(answer: dict[str, Any]) -> str:
    model = answer["model"]
    lines = [
        f"model: {model['name']} {model['version']}"
        + ("  [DEMO — synthetic training data]" if model["demo"] else "")
    ]
    quality = answer["quality"]
    if not quality["ok"]:
        message = quality["message"] or {}
        lines.append(f"REFUSED ({quality['reason']}): {message.get('en', '')} / {message.get('zh', '')}")
        lines.append("No diagnosis is given for this image. 不给出诊断。")
        note = answer.get("probabilities_note") or {}
        lines.append(f"probabilities, for transparency only: {note.get('en', '')} / {note.get('zh', '')}")
    else:
        flag = "  (UNCERTAIN — have a doctor read it)" if answer["uncertain"] else ""
        lines.append(f"answer: {answer['label_en']} / {answer['label_zh']}  {answer['confidence']:.1%}{flag}")
    for p in answer["probabilities"]:
        lines.append(f"  {p['label']:<26} {p['p']:6.1%}  {'#' * round(p['p'] * 30)}")
    for warning in quality["warnings"]:
        lines.append(f"warning ({warning['code']}): {warning['en']} / {warning['zh']}")
    lines.append(f"latency: {answer['latency_ms']['total']:.1f} ms")
    lines.append(f"{answer['disclaimer']['zh']} / {answer['disclaimer']['en']}")
    return "\n".join(lines)


def _invoke(args: argparse.Namespace) -> int:
    from xiaofei.adapters.local_server import load_handler, local_context

    try:
        event = json.loads(args.event.read_text())
        context = json.loads(args.context.read_text()) if args.context else local_context(args.function)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the event or context file: {exc}", file=sys.stderr)
        return 2
    if args.functions is None:
        print("error: --functions is required outside a checkout", file=sys.stderr)
        return 2
    result = load_handler(args.function, args.functions)(event, context)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _add_model_commands(parser: argparse.ArgumentParser) -> None:
    try:
        from xiaofei.adapters.registry_cli import add_commands
    except ImportError:  # the registry CLI arrives with the registry
        parser.set_defaults(model_command=None)
        return
    add_commands(parser)


def _model(args: argparse.Namespace) -> int:
    from xiaofei.adapters.registry_cli import run

    return run(args)


def _reviewer(args: argparse.Namespace) -> int:
    from xiaofei.adapters.review_cli import run_reviewer

    return run_reviewer(args)


def _export(args: argparse.Namespace) -> int:
    from xiaofei.adapters.review_cli import run_export

    return run_export(args)


_COMMANDS = {
    "serve": _serve,
    "predict": _predict,
    "invoke": _invoke,
    "model": _model,
    "reviewer": _reviewer,
    "export-reviewed": _export,
}

if __name__ == "__main__":
    sys.exit(main())
