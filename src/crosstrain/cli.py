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


def _temperatures(text: str) -> tuple[float, ...]:
    """``"300:3600:100"`` (inclusive range) or ``"300,600,900"``."""
    try:
        if ":" in text:
            lo, hi, step = (float(x) for x in text.split(":"))
            n = int(round((hi - lo) / step)) + 1
            return tuple(lo + k * step for k in range(n))
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"temperatures must look like 300:3600:100 or 300,900, got {text!r}") from None


def _cmd_data_sw(args: argparse.Namespace) -> int:
    from crosstrain.data.sw import SWProtocol
    from crosstrain.data.sw_dataset import build_sw_dataset

    fields = (
        "per_temperature",
        "equilibration_ps",
        "interval_ps",
        "thermostat",
        "seed",
        "timestep_fs",
        "damping_fs",
        "n_train",
        "n_valid",
        "n_test",
    )
    kwargs = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
    if args.temperatures is not None:
        kwargs["temperatures"] = args.temperatures
    manifest = build_sw_dataset(args.out, tuple(args.elements), SWProtocol(**kwargs), workers=args.workers)
    gen = manifest["generation"]
    print(
        f"SW data in {args.out}: "
        + ", ".join(
            f"{k} ({v['structures']})"
            for k, v in manifest["files"].items()
            if k.count(".") == 1 and k.endswith(".extxyz")
        )
        + f"; {gen['jobs_run_now']} of {gen['jobs_total']} jobs run now in {gen['wall_seconds_now']:.0f} s"
    )
    return 0


def _cmd_data_mlearn(args: argparse.Namespace) -> int:
    from crosstrain.data.mlearn_dataset import build_mlearn_dataset

    manifest = build_mlearn_dataset(args.out, args.root, tuple(args.elements), args.valid, args.test, args.seed)
    print(f"mlearn data in {args.out}: " + ", ".join(f"{k} ({v['structures']})" for k, v in manifest["files"].items()))
    return 0


def _add_data_parsers(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="generate or convert reference data sets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("sw", help="Stillinger-Weber MD data from LAMMPS (resumable)")
    p.add_argument("--out", required=True)
    p.add_argument("--elements", nargs="+", default=["Si", "Ge"])
    p.add_argument("--temperatures", type=_temperatures, help="e.g. 300:3600:100 (default) or 300,1200")
    p.add_argument("--per-temperature", type=int, dest="per_temperature", help="snapshots per temperature (70)")
    p.add_argument("--equilibration-ps", type=float, dest="equilibration_ps", help="default 5")
    p.add_argument("--interval-ps", type=float, dest="interval_ps", help="time between snapshots (1)")
    p.add_argument("--timestep-fs", type=float, dest="timestep_fs", help="default 1")
    p.add_argument("--thermostat", choices=["langevin", "nose-hoover"])
    p.add_argument("--damping-fs", type=float, dest="damping_fs", help="thermostat time constant (100)")
    p.add_argument("--n-train", type=int, dest="n_train", help="training pool per temperature (10)")
    p.add_argument("--n-valid", type=int, dest="n_valid", help="validation per temperature (5)")
    p.add_argument("--n-test", type=int, dest="n_test", help="test per temperature (50)")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="parallel LAMMPS processes (default: all cores)")
    p.set_defaults(func=_cmd_data_sw)
    p = dsub.add_parser("mlearn", help="convert the mlearn DFT JSON files to extxyz with splits")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--root",
        help="folder holding Si/training.json and Ge/training.json "
        "(default: $CROSSTRAIN_MLEARN or ../shared/data/mlearn)",
    )
    p.add_argument("--elements", nargs="+", default=["Si", "Ge"])
    p.add_argument("--valid", type=int, default=22, help="validation structures per element (22)")
    p.add_argument("--test", type=int, default=25, help="test structures per element (25)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_data_mlearn)


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

    _add_data_parsers(sub)

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
