"""MD cost against system size through both engines: ASE and LAMMPS (``fix external``).

Ge diamond cells of 64, 512, 4,096 and 13,824 atoms (2³ to 12³ cubic cells at the guessed lattice
constant, rattled 0.03 Å, 300 K velocities), velocity Verlet, eager, on one thread and on two. The
model is the shipped 5 Å DFT parent ``si-dft5`` with Ge added as a copy of Si at length scale
5.43/5.66 (the network of every 5 Å DFT model users run; its weights do not change the cost). Each
point runs in its own process, so the peak resident memory is that run's. Linear cost shows as a
constant time per atom-step. The LAMMPS runs include the virial every step (for ``press``). ASE runs
with glibc's default allocator and with :func:`crosstrain.allocator.keep_freed_memory` (what the MD
engines use: freed activations stay in the heap, no page faults every step); LAMMPS runs keep.

    python benchmarks/md-speed/md_scaling.py [--atoms 64 512 4096 13824] [--threads 1 2]
                                             [--engines ase lammps] [--out md_scaling.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPEATS = {64: 2, 512: 4, 4096: 8, 13824: 12}
STEPS = {64: 60, 512: 12, 4096: 3, 13824: 2}  # timed steps after one warm-up step
LATTICE_SI, SEED = 5.43, 0


def ge_model():  # type: ignore[no-untyped-def]
    import torch

    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model
    from crosstrain.species import lattice_guess

    model = load_checkpoint(resolve_model("si-dft5")).model
    model.copy_element("Ge", "Si")
    with torch.no_grad():
        model.length_scale[32] = model.length_scale[14] * LATTICE_SI / lattice_guess("Ge")
    return model.eval()


def ge_cell(n_atoms: int):  # type: ignore[no-untyped-def]
    from ase.build import bulk

    from crosstrain.md.run import MDSettings, initial_velocities
    from crosstrain.species import lattice_guess

    atoms = bulk("Ge", "diamond", a=lattice_guess("Ge"), cubic=True) * ((REPEATS[n_atoms],) * 3)
    atoms.rattle(0.03, seed=SEED)
    initial_velocities(atoms, MDSettings(temperature=300, seed=SEED))
    return atoms


def one(n_atoms: int, engine: str, threads: int, keep_memory: bool = True) -> dict:
    """One measurement in this process: seconds per step after a warm-up step, peak memory."""
    import torch

    from crosstrain.allocator import keep_freed_memory

    torch.set_num_threads(threads)
    if keep_memory:
        keep_freed_memory()
    model, atoms, steps = ge_model(), ge_cell(n_atoms), STEPS[n_atoms]
    if engine == "ase":
        from ase import units
        from ase.md.verlet import VelocityVerlet

        from crosstrain.calculator import CrosstrainCalculator

        atoms.calc = CrosstrainCalculator(model)
        dyn = VelocityVerlet(atoms, 1.0 * units.fs)
        dyn.run(1)
        t0 = time.perf_counter()
        dyn.run(steps)
        seconds = time.perf_counter() - t0
    else:
        from crosstrain.md.lammps import LammpsSession

        with LammpsSession(model, atoms=atoms) as session:
            session.commands(["timestep 0.001", "fix 1 all nve", "thermo 1000", "run 1"])
            t0 = time.perf_counter()
            session.command(f"run {steps} pre no post no")
            seconds = time.perf_counter() - t0
    return {
        "atoms": n_atoms,
        "engine": engine,
        "threads": threads,
        "keep_freed_memory": keep_memory,
        "steps": steps,
        "steps_per_second": steps / seconds,
        "ms_per_step": 1000 * seconds / steps,
        "us_per_atom_step": 1e6 * seconds / steps / n_atoms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, nargs="+", default=sorted(REPEATS), choices=sorted(REPEATS))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--engines", nargs="+", default=["ase", "lammps"], choices=["ase", "lammps"])
    p.add_argument("--out", default=str(HERE / "md_scaling.json"))
    p.add_argument("--one", nargs=4, metavar=("ATOMS", "ENGINE", "THREADS", "KEEP"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1], int(args.one[2]), args.one[3] == "keep")))
        return
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    rows = []
    # ASE also without keep_freed_memory (glibc's default allocator), the "before"; LAMMPS always keeps
    arms = [(e, k) for e in args.engines for k in ((False, True) if e == "ase" else (True,))]
    for threads in args.threads:
        for engine, keep in arms:
            for n in args.atoms:
                cmd = [sys.executable, __file__, "--one", str(n), engine, str(threads), "keep" if keep else "default"]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    tail = done.stderr.strip().splitlines()[-1:] or ["?"]
                    rows.append(
                        {"atoms": n, "engine": engine, "threads": threads, "keep_freed_memory": keep, "failed": tail[0]}
                    )
                else:
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
    result = {
        "benchmark": "md_scaling",
        "model": "si-dft5 with Ge = Si at length scale 5.43/a_Ge (5 Å DFT network), eager, float32",
        "seeds": {"rattle": SEED, "velocities": SEED},
        "rows": rows,
        "linear": _linearity(rows),
        **provenance().to_json(),
    }
    write_record(args.out, make_record("benchmark", command_line(), result, threads=max(args.threads)))
    print(json.dumps(result["linear"], indent=1))


def _linearity(rows: list[dict]) -> dict:
    """Per engine, allocator and thread count: time per atom-step at the largest size over that at 512 atoms."""
    out = {}
    for key in sorted({(r["engine"], r.get("keep_freed_memory", True), r["threads"]) for r in rows}):
        cost = {
            r["atoms"]: r["us_per_atom_step"]
            for r in rows
            if (r["engine"], r.get("keep_freed_memory", True), r["threads"]) == key and "failed" not in r
        }
        if 512 in cost and len(cost) > 1:
            largest = max(cost)
            name = f"{key[0]}{' keep' if key[1] else ''} {key[2]} thread(s)"
            out[name] = {"largest": largest, "ratio_to_512": cost[largest] / cost[512]}
    return out


if __name__ == "__main__":
    main()
