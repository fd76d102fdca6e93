"""``crosstrain data``: generate the Stillinger-Weber reference data, convert the mlearn DFT sets."""

from __future__ import annotations

import argparse


def temperature_list(text: str) -> tuple[float, ...]:
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
    if args.workers is not None:
        from crosstrain.parallel import plan_workers

        plan_workers(args.workers, args.workers)  # one line if there are more workers than cores
    manifest = build_sw_dataset(args.out, tuple(args.elements), SWProtocol(**kwargs), workers=args.workers)
    gen = manifest.generation
    assert gen is not None  # build_sw_dataset records its run
    print(
        f"SW data in {args.out}: "
        + ", ".join(
            f"{k} ({v.structures})" for k, v in manifest.files.items() if k.count(".") == 1 and k.endswith(".extxyz")
        )
        + f"; {gen.jobs_run_now} of {gen.jobs_total} jobs run now in {gen.wall_seconds_now:.0f} s "
        f"({gen.workers} workers x {gen.threads_per_worker} threads)"
    )
    return 0


def _cmd_data_mlearn(args: argparse.Namespace) -> int:
    from crosstrain.data.mlearn_dataset import build_mlearn_dataset

    manifest = build_mlearn_dataset(
        args.out,
        root=args.root,
        elements=tuple(args.elements),
        n_valid=args.valid,
        n_test=args.test,
        seed=args.seed,
        n_train=args.train,
        train_seed=args.train_seed,
    )
    print(f"mlearn data in {args.out}: " + ", ".join(f"{k} ({v.structures})" for k, v in manifest.files.items()))
    return 0


def _cmd_data_split(args: argparse.Namespace) -> int:
    """A labelled extxyz file into leak-free train/valid/test files (whole families; stratified)."""
    import json
    from collections import Counter
    from pathlib import Path

    from crosstrain.data.extxyz import read_structures, write_structures
    from crosstrain.data.splits import families, stratified_split
    from crosstrain.io.atomic import write_text
    from crosstrain.io.hashing import sha256_file

    structures = read_structures(args.data, require=("energy", "forces"))
    split = stratified_split(structures, args.valid, args.test, seed=args.seed, key=args.by)
    out = Path(args.out)
    for part, indices in split.items():
        write_structures(out / f"{part}.extxyz", [structures[i] for i in indices])
    fam = families(structures)
    doc = {
        "source": str(args.data),
        "source_sha256": sha256_file(args.data),
        "seed": args.seed,
        "stratified_by": args.by,
        "indices": split,
        "counts": {
            part: dict(Counter(str(structures[i].info.get(args.by, "")) for i in idx)) for part, idx in split.items()
        },
        "families": len(set(fam)),
    }
    write_text(out / "split.json", json.dumps(doc, indent=1))
    sizes = ", ".join(f"{part} {len(idx)}" for part, idx in split.items())
    print(f"{args.data}: {sizes} ({len(set(fam))} families, none on two sides) -> {out}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``crosstrain data sw``, ``crosstrain data mlearn`` and ``crosstrain data split``."""
    data = sub.add_parser("data", help="generate or convert reference data sets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("sw", help="Stillinger-Weber MD data from LAMMPS (resumable)")
    p.add_argument("--out", required=True)
    p.add_argument("--elements", nargs="+", default=["Si", "Ge"])
    p.add_argument("--temperatures", type=temperature_list, help="e.g. 300:3600:100 (default) or 300,1200")
    p.add_argument("--per-temperature", type=int, dest="per_temperature", help="snapshots per temperature (70)")
    p.add_argument("--equilibration-ps", type=float, dest="equilibration_ps", help="default 5")
    p.add_argument("--interval-ps", type=float, dest="interval_ps", help="time between snapshots (0.5)")
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
        "(default: $CROSSTRAIN_MLEARN or the copy shipped with crosstrain)",
    )
    p.add_argument("--elements", nargs="+", default=["Si", "Ge"])
    p.add_argument("--valid", type=int, default=22, help="validation structures per element (22)")
    p.add_argument("--test", type=int, default=25, help="test structures per element (25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split (0)")
    p.add_argument("--train", type=int, help="keep a seeded draw of this many training structures (default: all)")
    p.add_argument("--train-seed", type=int, default=0, dest="train_seed", help="seed of the --train draw (0)")
    p.set_defaults(func=_cmd_data_mlearn)
    p = dsub.add_parser("split", help="your labelled extxyz into leak-free train/valid/test files")
    p.add_argument("data", help="extxyz with energies and forces (info 'group' and 'family' are used if present)")
    p.add_argument("--out", required=True, help="folder: train.extxyz, valid.extxyz, test.extxyz, split.json")
    p.add_argument("--valid", type=int, default=22, help="validation structures (22)")
    p.add_argument("--test", type=int, default=25, help="test structures (25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    p.add_argument("--by", default="group", help="the info key whose values are stratified (group)")
    p.set_defaults(func=_cmd_data_split)
