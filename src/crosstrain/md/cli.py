"""``crosstrain md``: one MD run (ASE or LAMMPS engine), a LAMMPS input with a model, or a stability test."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np


def _cmd_md(args: argparse.Namespace) -> int:
    from ase.build import bulk

    from crosstrain.io.atomic import write_text
    from crosstrain.md.run import MDSettings, run_md
    from crosstrain.md.stability import stability

    if args.checkpoint == "sw":
        from crosstrain.analysis.references import sw_calculator

        def factory():
            return sw_calculator(args.element)
    else:
        from crosstrain.calculator import CrosstrainCalculator
        from crosstrain.pretrained import resolve_model

        args.checkpoint = str(resolve_model(args.checkpoint))  # a path or a shipped model's name

        def factory():
            return CrosstrainCalculator(args.checkpoint, compile=args.compile, device=args.device)

    if args.structure:
        from ase import Atoms
        from ase.io import read

        frames: list[Atoms] = list(read(args.structure, index=":"))
        atoms = frames[-1]  # the last frame of a trajectory
    else:
        from crosstrain.species import lattice_guess

        atoms = bulk(args.element, "diamond", a=lattice_guess(args.element), cubic=True) * (2, 2, 2)
    uses_atoms = args.structure or not args.lammps_input  # a LAMMPS input may build its own system
    if args.checkpoint != "sw" and uses_atoms:  # an element the model does not know is refused before the first step
        from crosstrain.io.checkpoint import read_meta
        from crosstrain.species import SpeciesMap

        known = SpeciesMap.from_elements(read_meta(args.checkpoint).species)
        known.check(atoms.numbers, source=args.structure or f"--element {args.element}")
    from crosstrain.request import SMOKE_ENV, smoke_mode

    if smoke_mode() and args.steps > 20:
        print(f"{SMOKE_ENV}: {args.steps} MD steps cut to 20 (a quick check, not a result)")
        args.steps = 20
    settings = MDSettings(
        temperature=args.temperature,
        steps=args.steps,
        timestep_fs=args.timestep_fs,
        ensemble=args.ensemble,
        seed=args.seed,
        trajectory=args.trajectory,
    )
    if args.lammps_input or args.engine == "lammps":
        report = _md_lammps(args, atoms, settings)
    elif args.runs:
        temps = [float(t) for t in (args.temperatures or str(args.temperature)).split(",")]
        model = None
        if args.batched and args.checkpoint != "sw":
            from crosstrain.md.replicas import batched

            model = batched(args.checkpoint, device=args.device)
        report = stability(
            atoms, factory, temps, runs=args.runs, settings=settings, progress=True, model=model
        ).to_json()
        print(f"fraction stable: {report['fraction_stable']:.2f}")
    else:
        result = run_md(atoms, factory(), settings)
        report = result.to_json()
        _print_md(args, result)
    if args.json:
        write_text(args.json, json.dumps(report, indent=2))
    return 0


def _print_md(args: argparse.Namespace, result: Any) -> None:
    status = (
        "stable" if result.stable else f"FAILED at step {result.steps_done} ({result.time_ps:.3f} ps): {result.reason}"
    )
    mean_t = f"; mean T {np.mean(result.temperatures):.0f} K" if result.temperatures else ""
    print(
        f"{args.ensemble.upper()} {args.temperature:g} K, {result.steps_done} steps: {status}{mean_t}"
        + (f"; drift {result.energy_drift_per_atom:.2e} eV/atom" if args.ensemble == "nve" else "")
    )


def _md_lammps(args: argparse.Namespace, atoms: Any, settings: Any) -> dict[str, Any]:
    """``crosstrain md --engine lammps``: the same run through LAMMPS, or the user's own input."""
    from crosstrain.errors import ConfigError
    from crosstrain.md.lammps import run_lammps, run_md_lammps

    if args.checkpoint == "sw":
        raise ConfigError("--engine lammps runs crosstrain models; for Stillinger-Weber use LAMMPS's pair_style sw")
    if args.runs:
        raise ConfigError("--runs (the stability test) runs on the ASE engine; drop --engine lammps")
    options = {"device": args.device, "compile": args.compile, "log": args.log, "elements": args.types}
    if not args.lammps_input:
        result = run_md_lammps(atoms, args.checkpoint, settings, source=f"{args.checkpoint} in LAMMPS", **options)
        _print_md(args, result)
        return result.to_json()
    from pathlib import Path

    path = Path(args.lammps_input)
    if not path.is_file():
        raise ConfigError(f"--lammps-input {path}: no such file")
    start = atoms if args.structure else None  # else the input builds the system (read_data ...)
    run = run_lammps(args.checkpoint, path.read_text(), atoms=start, source=str(path), screen=True, **options)
    per_step = 1000 * run.model_seconds / max(run.model_calls, 1)
    print(f"{path}: {run.steps} steps, elements {' '.join(run.elements)}; model {per_step:.1f} ms per call")
    return run.to_json()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``md`` command."""
    p = sub.add_parser("md", help="MD with a model (or 'sw'), or a stability test with --runs")
    p.add_argument("checkpoint", help="model checkpoint, or 'sw' for the Stillinger-Weber reference")
    p.add_argument("--element", default="Si", help="element of the default 64-atom diamond cell")
    p.add_argument("--structure", help="start from this structure file instead")
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--timestep-fs", type=float, default=1.0, dest="timestep_fs")
    p.add_argument("--ensemble", choices=["nvt", "nve"], default="nvt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trajectory", help="write an extxyz trajectory here")
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the model (a compile of minutes once, then faster steps)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (the model's device)")
    p.add_argument("--runs", type=int, help="stability test: independent runs per temperature")
    p.add_argument("--temperatures", help="stability test temperatures, e.g. 300,1200,2400")
    p.add_argument(
        "--batched", action="store_true", help="stability test: a temperature's runs in one model call per step"
    )
    p.add_argument(
        "--engine",
        choices=["ase", "lammps"],
        default="ase",
        help="MD engine: ASE, or LAMMPS with the model through fix external (--trajectory is then a LAMMPS dump)",
    )
    p.add_argument(
        "--lammps-input",
        dest="lammps_input",
        help="run this LAMMPS input (units metal; your fixes, computes, dumps, thermo, run) with the model; "
        "it builds the system unless --structure is given",
    )
    p.add_argument("--types", nargs="+", help="LAMMPS: the element of each atom type, in order (default: by mass)")
    p.add_argument("--log", help="LAMMPS: write its log here")
    p.add_argument("--json", help="write the result as JSON here")
    p.set_defaults(func=_cmd_md)
