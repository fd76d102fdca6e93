"""ML-MD speed: steps per second of ASE velocity-Verlet MD driven by a crosstrain model.

For diamond cells of 64-1000 atoms (rattled, 600 K velocities), the shipped ``si-dft`` parent
(CPU preset, 4.2 Å cutoff; ``--model si-dft5`` for the 5 Å DFT models) on one thread, with the
eager calculator and the compiled one
(``CrosstrainCalculator(..., compile=True)``; its one-off compile time is reported apart). The
first steps are warm-up and not timed. ``--replicas`` adds the stability harness's batched mode
(:mod:`crosstrain.md.replicas`: R independent 64-atom runs in one model call per step), as
replica-steps per second next to R separate runs (R × the single-run rate). Results go to
``benchmarks/md-speed/md_speed.json``.

    python benchmarks/md-speed/md_speed.py [--atoms 64 216 512 1000] [--steps 100] [--threads 1] [--no-compile]
                                  [--replicas 1 2 4 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "md_speed.json"
REPEATS = {64: (2, 2, 2), 216: (3, 3, 3), 512: (4, 4, 4), 1000: (5, 5, 5)}


def cell(n_atoms: int):  # type: ignore[no-untyped-def]
    from ase.build import bulk

    if n_atoms not in REPEATS:
        raise SystemExit(f"--atoms: choose from {sorted(REPEATS)}")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * REPEATS[n_atoms]
    atoms.rattle(0.05, seed=1)
    return atoms


def measure(n_atoms: int, compiled: bool, steps: int, warmup: int, device: str = "cpu", model: str = "si-dft") -> dict:
    from ase import units

    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.pretrained import resolve_model

    atoms = cell(n_atoms)
    atoms.calc = CrosstrainCalculator(resolve_model(model), device=device, compile=compiled)
    thermalize_momenta(atoms, temperature_K=600, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, 1.0 * units.fs)
    t0 = time.perf_counter()
    dyn.run(warmup)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - t0
    return {
        "atoms": n_atoms,
        "mode": "compiled" if compiled else "eager",
        "device": device,
        "steps": steps,
        "steps_per_second": steps / seconds,
        "ms_per_step": 1000 * seconds / steps,
        "warmup_seconds": warm,
        "warmup_steps": warmup,
    }


def measure_replicas(replicas: int, steps: int, model_name: str = "si-dft") -> dict:
    from crosstrain.md.replicas import batched, run_replicas
    from crosstrain.md.run import MDSettings

    model = batched(model_name)
    settings = MDSettings(temperature=600, steps=steps, ensemble="nve", check_every=10)
    run_replicas(cell(64), model, MDSettings(temperature=600, steps=10, ensemble="nve"), seeds=list(range(replicas)))
    t0 = time.perf_counter()
    results = run_replicas(cell(64), model, settings, seeds=list(range(replicas)))
    seconds = time.perf_counter() - t0
    rate = replicas * steps / seconds
    stable = sum(r.stable for r in results)
    return {
        "atoms": 64,
        "mode": "replicas",
        "replicas": replicas,
        "steps": steps,
        "replica_steps_per_second": rate,
        "stable": stable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atoms", nargs="+", type=int, default=[64, 216, 512])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (printed and recorded)")
    parser.add_argument("--no-compile", action="store_true", dest="no_compile")
    parser.add_argument("--replicas", nargs="*", type=int, default=[], help="batched replica counts, e.g. 1 2 4 8")
    parser.add_argument("--model", default="si-dft", help="shipped name or checkpoint (si-dft5: 5 Å)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(args.threads)
    rows = []
    for n in args.atoms:
        for compiled in (False,) if args.no_compile else (False, True):
            row = measure(n, compiled, args.steps, args.warmup, args.device, args.model)
            rows.append(row)
            print(
                f"{n:5d} atoms {row['mode']:8s} on {args.device}: {row['steps_per_second']:7.1f} steps/s "
                f"(warm-up {row['warmup_seconds']:.0f} s)",
                flush=True,
            )
    for r in args.replicas:
        row = measure_replicas(r, args.steps, args.model)
        rows.append(row)
        print(f"{r} replicas of 64 atoms, batched: {row['replica_steps_per_second']:7.1f} replica-steps/s", flush=True)
    doc = {
        "benchmark": "md_speed",
        "model": f"{args.model} (CPU preset)",
        "threads": args.threads,
        "seeds": {"rattle": 1, "velocities": 0},
        "rows": rows,
        **provenance().to_json(),
    }
    args.out.parent.mkdir(exist_ok=True)
    write_record(args.out, make_record("benchmark", command_line(), doc, threads=args.threads))


if __name__ == "__main__":
    main()
