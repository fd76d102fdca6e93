"""Before and after: DimeNet++'s sum over listed triplets against the sum through spherical harmonics.

Until commit ``260a749`` crosstrain summed DimeNet++'s angle terms over every listed triplet (a fused
custom-autograd kernel eagerly, plain gather-scatter when compiled); since then it sums them per
atom through the addition theorem (:mod:`crosstrain.model.dimenet.harmonics`), the same model to
float rounding. This script measures both commits side by side on this machine: the base commit is
checked out in a temporary git worktree, and the same probe (this file with ``--probe``) runs under
each commit's source in turn, A B A B ..., so that a drift of the machine's speed hits both alike.

The probe: ASE velocity-Verlet MD of a rattled 64-atom Si diamond cell with ``--model`` (``si-dft5``,
the 5 Å DFT network; one thread; eager and ``compile=True``; the first steps not timed), and the
eager training step of four rattled 64-atom cells (energy and force loss, forces with
``create_graph``, backward). Each round is a fresh process per commit. Medians over rounds and
the per-round ratios go to ``triplet_sum.json``.

    python benchmarks/md-speed/triplet_sum.py [--base 260a749] [--rounds 3] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "triplet_sum.json"


def probe(model_name: str, steps: int) -> dict[str, float]:
    import numpy as np
    import torch
    from ase import units
    from ase.build import bulk
    from ase.md.verlet import VelocityVerlet

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.graph import batch_graph, topology
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.model.derivatives import predict
    from crosstrain.pretrained import resolve_model
    from crosstrain.structure import Structure

    torch.set_num_threads(1)

    def cell(seed: int):  # type: ignore[no-untyped-def]
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2)
        atoms.rattle(0.05, seed=seed)
        return atoms

    out: dict[str, float] = {}
    for compiled in (False, True):
        atoms = cell(1)
        atoms.calc = CrosstrainCalculator(resolve_model(model_name), compile=compiled)
        atoms.set_momenta(np.random.default_rng(0).normal(scale=0.2, size=(len(atoms), 3)))
        dyn = VelocityVerlet(atoms, 1.0 * units.fs)
        t0 = time.perf_counter()
        dyn.run(10)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        dyn.run(steps)
        mode = "compiled" if compiled else "eager"
        out[f"md_{mode}_steps_per_second"] = steps / (time.perf_counter() - t0)
        out[f"md_{mode}_warmup_seconds"] = warm
    model = load_checkpoint(resolve_model(model_name)).model.train()
    structures = [Structure.from_atoms(cell(10 + k), read_labels=False) for k in range(4)]
    graph = batch_graph(structures, topologies=[topology(s, model.neighbour_cutoff) for s in structures])
    times = []
    for k in range(7):
        t0 = time.perf_counter()
        pred = predict(model, graph, create_graph=True)
        loss = pred.energy.square().sum() + pred.forces.square().sum()
        model.zero_grad()
        loss.backward()
        if k >= 2:  # the first calls warm up the allocator
            times.append(time.perf_counter() - t0)
    out["train_step_ms"] = 1000 * statistics.median(times)
    return out


def run_probe(src: Path, model_name: str, steps: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--probe", "--model", model_name, "--steps", str(steps)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"probe under {src} failed:\n{done.stderr[-2000:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="260a749", help="the commit with listed triplets")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--model", default="si-dft5")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.model, args.steps)))
        return

    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), args.base], check=True)
        try:
            rounds = []
            for k in range(args.rounds):
                after = run_probe(ROOT / "src", args.model, args.steps)
                before = run_probe(base / "src", args.model, args.steps)
                rounds.append({"before": before, "after": after})
                print(f"round {k + 1}: before {before}\n         after  {after}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    keys = list(rounds[0]["after"])
    summary = {
        key: {
            "before": statistics.median(r["before"][key] for r in rounds),
            "after": statistics.median(r["after"][key] for r in rounds),
            "ratio_after_over_before": statistics.median(r["after"][key] / r["before"][key] for r in rounds),
            "ratio_range": [
                min(r["after"][key] / r["before"][key] for r in rounds),
                max(r["after"][key] / r["before"][key] for r in rounds),
            ],
        }
        for key in keys
    }
    for key, s in summary.items():
        print(f"{key:32s} before {s['before']:9.2f}  after {s['after']:9.2f}  ratio {s['ratio_after_over_before']:.2f}")
    doc = {
        "benchmark": "triplet_sum",
        "model": args.model,
        "atoms": 64,
        "threads": 1,
        "base_commit": args.base,
        "md_steps": args.steps,
        "seeds": {"rattle": 1, "momenta": 0, "training cells": [10, 11, 12, 13]},
        "rounds": rounds,
        "summary": summary,
        **provenance().to_json(),
    }
    write_record(args.out, make_record("benchmark", command_line(), doc, threads=1))


if __name__ == "__main__":
    main()
