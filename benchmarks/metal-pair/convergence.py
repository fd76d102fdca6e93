"""Convergence of the DFT label setting for the metal pair's target (Na), one setting at a time.

A few structures of ``crosstrain sample`` (a hot bulk frame, a strained cubic cell, a slab) are
labelled at the base setting (``crosstrain label``'s defaults, 350 eV, 3.5 k-points per Å⁻¹,
Fermi–Dirac 0.1 eV, with ``--setups``: GPAW's 1-electron Na setup, several times cheaper than the
default with its 2s2p semicore) and with one setting changed at a time, the semicore setup among
them; each row gives the change of the energy per atom, the forces (RMS and largest component) and
the stress against the base.
Labels are cached under ``--dir``, so a killed run resumes. Writes
``benchmarks/metal-pair/convergence_<element>.json``.

    crosstrain sample Na --out runs/na-sample --temperatures 100,200,300,400,600 --setups Na=1
    python benchmarks/metal-pair/convergence.py runs/na-sample/structures.extxyz --pick 79 110 135 --setups Na=1
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from crosstrain.dft.cli import setup_pairs

RESULTS = Path(__file__).resolve().parent

#: one setting varied at a time around the base
VARIATIONS = {
    "setups": [()],  # GPAW's default setups (Na: 7 electrons, 2s2p semicore)
    "kpoint_density": [5.0, 6.5],
    "ecut_ev": [450.0],
    "smearing_ev": [0.05],
}


def differences(base, other) -> dict:  # type: ignore[no-untyped-def]
    """Label ``other`` minus ``base``: energy per atom (meV), forces (eV/Å), stress (GPa)."""
    from ase.units import GPa

    n = len(base.forces)
    df = np.asarray(other.forces) - np.asarray(base.forces)
    out = {
        "energy_meV_per_atom": 1000 * (other.energy - base.energy) / n,
        "force_rms": float(np.sqrt(np.mean(df**2))),
        "force_max": float(np.abs(df).max()),
    }
    if base.stress is not None and other.stress is not None:
        out["stress_max_GPa"] = float(np.abs(np.asarray(other.stress) - np.asarray(base.stress)).max() / GPa)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structures", help="extxyz from crosstrain data sample")
    parser.add_argument("--pick", type=int, nargs="+", required=True, help="indices of the structures to label")
    parser.add_argument("--dir", default="runs/metal-pair/convergence")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--vary", nargs="+", choices=list(VARIATIONS), default=list(VARIATIONS))
    parser.add_argument("--setups", type=setup_pairs, default=(), help="the base's PAW setups, e.g. Na=1")
    args = parser.parse_args()

    from crosstrain.data.extxyz import read_structures
    from crosstrain.dft.label import label_structures
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.records import command_line, make_record, write_record

    every = read_structures(args.structures)
    picked = [every[i] for i in args.pick]
    element = picked[0].to_atoms().get_chemical_symbols()[0]
    base = DFTSettings(setups=args.setups)
    start = time.perf_counter()
    base_run = label_structures(picked, Path(args.dir), base, workers=args.workers)
    rows = []
    for name in args.vary:
        for value in VARIATIONS[name]:
            settings = dataclasses.replace(base, **{name: value})
            run = label_structures(picked, Path(args.dir), settings, workers=args.workers)
            for s, b, o in zip(picked, base_run.labels, run.labels):
                shown = dict(value) if name == "setups" else value
                what = s.info.get("description", s.source)
                row = {"varied": name, "value": shown or "GPAW default", "structure": what}
                row.update(differences(b, o) if b.ok and o.ok else {"failed": o.reason or b.reason})
                row["cpu_seconds"] = o.seconds
                rows.append(row)
                print(row, flush=True)
    # the k-point density, the setting that matters: each value against the densest
    runs = (
        {
            v: label_structures(
                picked, Path(args.dir), dataclasses.replace(base, kpoint_density=v), workers=args.workers
            )
            for v in [base.kpoint_density, *VARIATIONS["kpoint_density"]]
        }
        if "kpoint_density" in args.vary
        else {}
    )
    densest = max(runs) if runs else None
    against_densest = [
        {"kpoint_density": v, "against": densest, "structure": s.info.get("description", s.source), **differences(d, o)}
        for v, run in runs.items()
        if v != densest
        for s, o, d in zip(picked, run.labels, runs[densest].labels)
        if o.ok and d.ok
    ]
    for row in against_densest:
        print(row, flush=True)
    result = {
        "element": element,
        "base_settings": base.to_dict(),
        "structures": [
            {"index": i, "atoms": len(s), "what": s.info.get("description", s.source), "cpu_seconds": lab.seconds}
            for i, s, lab in zip(args.pick, picked, base_run.labels)
        ],
        "rows": rows,
        "kpoints_against_densest": against_densest,
        "wall_seconds": time.perf_counter() - start,
    }
    path = write_record(RESULTS / f"convergence_{element}.json", make_record("benchmark", command_line(), result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
