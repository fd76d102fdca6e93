"""Command-line interface: a thin dispatcher over library functions.

Every user error is a :class:`~crosstrain.errors.CrosstrainError`; it is printed as one line on
standard error and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import crosstrain
from crosstrain.errors import CrosstrainError


def _cmd_demo(args: argparse.Namespace) -> int:
    from crosstrain.demo import print_smoke, smoke

    print_smoke(smoke(args.out, preset_name=args.preset, seed=args.seed))
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    import torch

    from crosstrain.io.checkpoint import save_checkpoint
    from crosstrain.model.config import preset
    from crosstrain.model.dimenet import DimeNetPP
    from crosstrain.species import SpeciesMap

    torch.manual_seed(args.seed)
    model = DimeNetPP(preset(args.preset), SpeciesMap.from_elements(args.elements))
    if args.dtype == "float64":
        model = model.to(torch.float64)
    path = save_checkpoint(model, args.out, training={"seed": args.seed, "preset": args.preset})
    print(f"wrote {path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from crosstrain.io.checkpoint import read_metadata

    print(json.dumps(read_metadata(args.checkpoint), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosstrain", description="Transfer learning of interatomic potentials across chemical elements."
    )
    parser.add_argument("--version", action="version", version=f"crosstrain {crosstrain.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the end-to-end demo on built-in data")
    p.add_argument("--out", default="crosstrain-demo", help="output folder (default: crosstrain-demo)")
    p.add_argument("--preset", default="cpu", help="model preset: cpu or paper")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("init", help="write a freshly initialised model checkpoint")
    p.add_argument("--elements", nargs="+", required=True, help="element symbols, e.g. Si Ge")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("info", help="print a checkpoint's metadata")
    p.add_argument("checkpoint")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CrosstrainError as exc:
        print(f"crosstrain: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crosstrain: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
