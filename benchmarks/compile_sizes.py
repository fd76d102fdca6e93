"""Compiled inference with every size symbolic (``dynamic=True``) against batch sizes symbolic and
the weights' shapes constant (``dynamic=None``, the default since 2026-11-30).

Both functions are compiled in one process and called in alternation on two 64-atom graphs of
different sizes (a rattled diamond cell, the shipped ``si-sw`` model, one thread), so a drift of
the machine's speed hits both alike. Prints and saves the per-call medians and their ratio to
``benchmarks/results/compile_sizes.json``.

    python benchmarks/compile_sizes.py [--rounds 10] [--calls 20] [--model si-sw]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "compile_sizes.json"


def graphs(model, n: int = 2):  # type: ignore[no-untyped-def]
    import torch
    from ase.build import bulk

    from crosstrain.graph import SkinNeighbours, batch_graph
    from crosstrain.structure import Structure

    out = []
    for k in range(n):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
        atoms.rattle(0.05 + 0.15 * k, seed=1 + 2 * k)  # another rattle: other edge and triplet counts
        s = Structure.from_atoms(atoms, source=f"rattled cell {k}", read_labels=False)
        topology = SkinNeighbours(model.neighbour_cutoff)(s)
        out.append(batch_graph([s], [topology], dtype=model.dtype, device=torch.device("cpu")))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=20, help="calls per graph per round")
    parser.add_argument("--model", default="si-sw")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    from crosstrain.io.atomic import write_text
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.model.compiled import energy_forces_fn
    from crosstrain.pretrained import resolve_model
    from crosstrain.provenance import provenance

    torch.set_num_threads(1)
    model = load_checkpoint(resolve_model(args.model)).model.eval()
    gs = graphs(model)
    fns = {"every size symbolic (dynamic=True)": energy_forces_fn(model, dynamic=True),
           "batch sizes symbolic (dynamic=None)": energy_forces_fn(model, dynamic=None)}  # fmt: skip
    compile_s = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        for g in (*gs, *gs):
            fn(g)
        compile_s[name] = time.perf_counter() - t
    forces = [fn(gs[1])[1] for fn in fns.values()]
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(args.calls):
                for g in gs:
                    fn(g)
            times[name].append((time.perf_counter() - t) / (args.calls * len(gs)) * 1e3)
    medians = {name: float(np.median(v)) for name, v in times.items()}
    old, new = medians.values()
    rows = {name: {"median_ms_per_call": medians[name], "ms_per_call_by_round": times[name],
                   "compile_and_warmup_s": compile_s[name]} for name in fns}  # fmt: skip
    doc = {"benchmark": "compile_sizes", "model": args.model, "threads": 1,
           "graphs": [{"atoms": int(g.numbers.shape[0]), "edges": int(g.centers.shape[0]),
                       "triplets": int(g.idx_kj.shape[0])} for g in gs],
           "seeds": {"rattle": [1, 3]}, "rounds": args.rounds, "calls_per_graph_per_round": args.calls,
           "rows": rows, "ratio_new_over_old": new / old,
           "max_force_difference_eV_per_A": float((forces[0] - forces[1]).abs().max()), **provenance()}  # fmt: skip
    for name, m in medians.items():
        print(f"{name}: {m:.2f} ms per call (median of {args.rounds} rounds)")
    print(f"ratio {new / old:.3f}; forces differ by at most {doc['max_force_difference_eV_per_A']:.1e} eV/Å")
    write_text(args.out, json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
