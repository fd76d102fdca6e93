"""NVE energy conservation of a trained Ge model inside LAMMPS (``fix external``), at 600 K.

A 64-atom Ge diamond cell at ASE's lattice guess, velocities drawn at 600 K, then
``--equilibrate`` ps of ``fix langevin`` at 600 K, then ``--ps`` ps of ``fix nve`` at 1 fs, with
the total energy every 10 fs. Reports the drift per atom (end minus start, and the slope of a
straight-line fit per ps) and the largest excursion, with the temperature of the NVE part.

The model is any Ge checkpoint; the record names its file and sha256. The published record uses
the ``rescaled`` n = 22, seed 0 model of the Ge study, made by
``crosstrain study --spec benchmarks/dft-transfer/n22.yaml --dir runs/study-n22``
(``runs/study-n22/models/rescaled/n22/seed0.ckpt``).

    python benchmarks/md-stability/lammps_nve_drift.py --model runs/study-n22/models/rescaled/n22/seed0.ckpt
        [--ps 10] [--equilibrate 1] [--compile] [--out benchmarks/md-stability/lammps_nve_drift.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 7


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--ps", type=float, default=10.0)
    p.add_argument("--equilibrate", type=float, default=1.0)
    p.add_argument("--temperature", type=float, default=600.0)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "lammps_nve_drift.json"))
    args = p.parse_args()

    import torch
    from ase.build import bulk

    from crosstrain.io.checkpoint import file_sha256
    from crosstrain.md.lammps import LammpsSession
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record
    from crosstrain.species import lattice_guess

    torch.set_num_threads(args.threads)
    atoms = bulk("Ge", "diamond", a=lattice_guess("Ge"), cubic=True) * (2, 2, 2)
    t, every = args.temperature, 10
    nve_steps, eq_steps = round(args.ps * 1000), round(args.equilibrate * 1000)
    energies, temps = [], []
    t0 = time.perf_counter()
    with LammpsSession(args.model, atoms=atoms, compile=args.compile, source=args.model) as s:
        s.commands(
            [
                "timestep 0.001",
                f"velocity all create {t:g} {SEED} mom yes rot yes dist gaussian",
                "fix nve all nve",
                f"fix bath all langevin {t:g} {t:g} 0.1 {SEED} zero yes",
                f"run {eq_steps}",
                "unfix bath",
                "run 0",
            ]
        )
        for _ in range(nve_steps // every + 1):
            energies.append(float(s.lmp.get_thermo("etotal")))
            temps.append(float(s.lmp.get_thermo("temp")))
            if len(energies) <= nve_steps // every:
                s.command(f"run {every} pre no post no")
        calls, model_seconds = s.coupling.calls, s.coupling.seconds  # type: ignore[union-attr]
    wall = time.perf_counter() - t0
    n = len(atoms)
    e = (np.array(energies) - energies[0]) / n
    times_ps = np.arange(len(e)) * every / 1000
    slope = float(np.polyfit(times_ps, e, 1)[0])
    result = {
        "benchmark": "lammps_nve_drift",
        "model": args.model,
        "model_sha256": file_sha256(args.model),
        "atoms": n,
        "temperature_K": t,
        "equilibrate_ps": args.equilibrate,
        "nve_ps": args.ps,
        "timestep_fs": 1.0,
        "compiled": args.compile,
        "seeds": {"velocities": SEED, "langevin": SEED},
        "drift_per_atom_eV": float(e[-1]),
        "drift_slope_eV_per_atom_per_ps": slope,
        "max_excursion_per_atom_eV": float(np.abs(e).max()),
        "nve_mean_temperature_K": float(np.mean(temps)),
        "model_ms_per_call": 1000 * model_seconds / max(calls, 1),
        "wall_seconds": wall,
        "energies_per_atom_every_10fs": [round(float(x), 8) for x in e],
        "threads": args.threads,
        **provenance().to_json(),
    }
    write_record(args.out, make_record("benchmark", command_line(), result, threads=args.threads))
    print(
        f"NVE {args.ps:g} ps at {np.mean(temps):.0f} K: drift {e[-1]:+.2e} eV/atom "
        f"(slope {slope:+.2e} eV/atom/ps, largest excursion {np.abs(e).max():.2e}); {wall:.0f} s"
    )


if __name__ == "__main__":
    main()
