"""Command line: ``python -m model.pipeline demo|train ...`` (run from the repository root).

models --data ../shared/data --out model [--epochs N]  rebuild the bundled pneumonia package (real films)
golden --data ../shared/data --out DIR [--per-class N]  a real golden set for the gate (never shipped)
demo  --out model [--only skin] [--data ../shared/data]  rebuild the skin demo package (synthetic data)
train --data DIR --layout kermany|folders --backbone NAME [--pretrained FILE] --out DIR
      [--model pneumonia|skin] [--epochs N] [--version V] [--group-pattern REGEX] [--members N] [--ema D]
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import bundled, nets
from .build import BuildConfig, Counts, FolderSource, build_package
from .data import make_splits, read_folders, read_kermany
from .demo import DEMOS, build_demo
from .specs import TASKS
from .train import TrainConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="rebuild the bundled demo packages from synthetic images")
    demo.add_argument("--out", type=Path, default=Path("model"))
    demo.add_argument("--only", choices=sorted(DEMOS), action="append")
    demo.add_argument("--processes", type=int, default=2, help="image-drawing worker processes")
    demo.add_argument("--threads", type=int, default=2, help="torch threads")
    demo.add_argument("--data", type=Path, help="shared/data: fit the skin gate on real photos too")
    models = sub.add_parser("models", help="rebuild the bundled pneumonia package from shared/data")
    models.add_argument("--data", type=Path, default=Path("../shared/data"))
    models.add_argument("--out", type=Path, default=Path("model"))
    models.add_argument("--epochs", type=int, default=bundled.EPOCHS)
    models.add_argument("--processes", type=int, default=2, help="image-decoding worker processes")
    models.add_argument("--threads", type=int, default=2, help="torch threads")
    models.add_argument(
        "--reuse-training-of", type=Path, help="a package built before: re-fit its gate, do not train again"
    )
    golden = sub.add_parser("golden", help="write a real golden set (outside the project) from shared/data")
    golden.add_argument("--data", type=Path, default=Path("../shared/data"))
    golden.add_argument("--out", type=Path, required=True)
    golden.add_argument("--per-class", type=int, default=20)
    tr = sub.add_parser("train", help="train a package on a real data set")
    tr.add_argument("--data", type=Path, required=True)
    tr.add_argument("--layout", choices=("kermany", "folders"), required=True)
    tr.add_argument(
        "--model", choices=sorted(TASKS), help="label set (default: pneumonia for kermany, skin for folders)"
    )
    tr.add_argument("--backbone", choices=nets.BACKBONES, default=nets.SMALL)
    tr.add_argument("--pretrained", type=Path, help="a local torchvision state dict (never downloaded)")
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--epochs", type=int, default=15)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--version", default=datetime.now(timezone.utc).strftime("%Y.%m.%d"))
    tr.add_argument("--group-pattern", help="folders layout: regex with a (?P<group>...) patient id")
    tr.add_argument("--no-outlier-exposure", action="store_true")
    tr.add_argument("--members", type=int, default=1, help="an ensemble of N networks trained apart")
    tr.add_argument("--ema", type=float, default=0.0, help="validate a moving average of the weights (0.998)")
    tr.add_argument("--processes", type=int, default=2)
    tr.add_argument("--threads", type=int, default=2)
    return parser


def _train(args: argparse.Namespace) -> None:
    name = args.model or ("pneumonia" if args.layout == "kermany" else "skin")
    task = TASKS[name]
    if args.pretrained and not args.pretrained.is_file():
        raise SystemExit(f"--pretrained {args.pretrained}: no such file (weights are never downloaded)")
    if args.layout == "kermany":
        items, notes = read_kermany(args.data)
    else:
        items, notes = read_folders(args.data, task.label_ids, args.group_pattern)
    dataset = make_splits(items, task.label_ids, seed=args.seed)
    dataset.notes.update(notes)
    logging.info("splits: %s; notes: %s", dataset.counts(), dataset.notes)
    counts = Counts(train={}, photo_crops=3)
    description = (
        f"{args.data.name} ({args.layout} layout), split by patient after MD5 de-duplication; {dataset.notes}"
    )
    config = BuildConfig(
        task=task,
        out=args.out,
        version=args.version,
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        counts=counts,
        seed=args.seed,
        backbone=args.backbone,
        members=args.members,
        pretrained=args.pretrained,
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            threads=args.threads,
            augment=task.family,
            outlier_weight=0.0 if args.no_outlier_exposure else 0.5,
            ema_decay=args.ema,
            channels_last=True,
        ),
        processes=args.processes,
        demo=False,
        data_description=description,
    )
    build_package(config, FolderSource(task, dataset, args.seed))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "models":
            bundled.build_pneumonia(
                args.data,
                args.out,
                epochs=args.epochs,
                processes=args.processes,
                threads=args.threads,
                reuse_training_of=args.reuse_training_of,
            )
        elif args.command == "golden":
            print(bundled.write_golden(args.data, args.out, per_class=args.per_class))
        elif args.command == "demo":
            for name in args.only or sorted(DEMOS):
                build_demo(name, args.out, processes=args.processes, threads=args.threads, data=args.data)
        else:
            _train(args)
    except nets.BackboneUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
