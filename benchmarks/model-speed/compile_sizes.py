"""Compiled inference with every size symbolic (``dynamic=True``) against batch sizes symbolic and
the weights' shapes constant (``dynamic=None``, the default since 2026-11-30).

Both functions are compiled in one process and called in alternation on two 64-atom graphs of
different sizes (a rattled diamond cell, the shipped ``si-sw`` model, one thread), so a drift of
the machine's speed hits both alike. Prints and saves the per-call medians and their ratio to
``benchmarks/model-speed/compile_sizes.json``.

``--training`` does the same for the compiled training step (``crosstrain.train.compiled.loss_step``
with the ``dft-cpu5`` recipe's energy + forces + stress loss, the shipped ``si-dft5`` model):
two batches of 4 mlearn Si structures of different sizes (``compiled_training_sizes.json``). The
same ``torch.func`` step not compiled runs alongside, for its loss (the agreement check) and as
a reference; it is not the trainer's eager path, which runs the fused model through autograd.

    python benchmarks/model-speed/compile_sizes.py [--rounds 10] [--calls 20] [--model si-sw]
    python benchmarks/model-speed/compile_sizes.py --training --rounds 10 --calls 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent


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
        out.append(batch_graph([s], topologies=[topology], dtype=model.dtype, device=torch.device("cpu")))
    return out


def alternate(fns: dict, inputs: list, rounds: int, calls: int) -> tuple[dict, dict]:
    """Warm each function up (twice over the inputs: the compile), then time them in alternation;
    returns the warm-up seconds and the per-call milliseconds of every round, per function."""
    warmup = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        for x in (*inputs, *inputs):
            fn(*x)
        warmup[name] = time.perf_counter() - t
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(calls):
                for x in inputs:
                    fn(*x)
            times[name].append((time.perf_counter() - t) / (calls * len(inputs)) * 1e3)
    return warmup, times


def sizes_of(graph) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        "atoms": int(graph.numbers.shape[0]),
        "edges": int(graph.centers.shape[0]),
        # the angles DimeNet++ sums over: each edge ji with the other edges of its neighbour j
        "triplets": int((graph.centers.bincount(minlength=graph.numbers.shape[0]) ** 2).sum()) - graph.centers.shape[0],
    }


def training_inputs(model, cfg):  # type: ignore[no-untyped-def]
    """Two batches of 4 mlearn Si structures (the first 4 and the last 4 of the file: other sizes)
    with the recipe's loss weights at its first step and each batch's size."""
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn
    from crosstrain.train.batches import Dataset, GlobalSize
    from crosstrain.train.loss import weights_at

    structures = read_mlearn(mlearn_file(find_mlearn_root(), "Si"))
    data = Dataset(structures[:4] + structures[-4:], model.neighbour_cutoff, "mlearn Si")
    out = []
    for idx in ([0, 1, 2, 3], [4, 5, 6, 7]):
        batch = data.batch(idx, dtype=model.dtype)
        size = GlobalSize(4, int(batch.graph.numbers.shape[0]))
        out.append((batch, weights_at(cfg, 0, 1), size))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=20, help="calls per input per round")
    parser.add_argument("--model", default=None, help="default: si-sw (inference), si-dft5 (--training)")
    parser.add_argument("--training", action="store_true", help="the compiled training step instead of inference")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(1)
    name = args.model or ("si-dft5" if args.training else "si-sw")
    model = load_checkpoint(resolve_model(name)).model
    if args.training:
        from crosstrain.config import load_config
        from crosstrain.train.compiled import loss_step

        cfg = load_config("dft-cpu5").train
        inputs = training_inputs(model, cfg)
        fns = {
            "every size symbolic (dynamic=True)": loss_step(model, cfg, dynamic=True),
            "batch sizes symbolic (dynamic=None)": loss_step(model, cfg, dynamic=None),
            "the same step not compiled (compile=False)": loss_step(model, cfg, compile=False),
        }
        sizes = [sizes_of(b.graph) for b, _, _ in inputs]
        results = [fn(*inputs[1])[0] for fn in fns.values()]
        worst = max(abs(r - results[-1]) / abs(results[-1]) for r in results)
        agreement = {"max_loss_relative_difference_to_eager": float(worst)}
    else:
        from crosstrain.model.compiled import energy_forces_fn

        model = model.eval()
        inputs = [(g,) for g in graphs(model)]
        fns = {
            "every size symbolic (dynamic=True)": energy_forces_fn(model, dynamic=True),
            "batch sizes symbolic (dynamic=None)": energy_forces_fn(model, dynamic=None),
        }
        sizes = [sizes_of(g) for (g,) in inputs]
        forces = [fn(*inputs[1])[1] for fn in fns.values()]
        agreement = {"max_force_difference_eV_per_A": float((forces[0] - forces[1]).abs().max())}
    warmup, times = alternate(fns, inputs, args.rounds, args.calls)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    old, new = list(medians.values())[:2]
    rows = {
        k: {"median_ms_per_call": medians[k], "ms_per_call_by_round": times[k], "compile_and_warmup_s": warmup[k]}
        for k in fns
    }
    doc = {
        "benchmark": "compiled_training_sizes" if args.training else "compile_sizes",
        "model": name,
        "threads": 1,
        "inputs": sizes,
        "seeds": {} if args.training else {"rattle": [1, 3]},
        "rounds": args.rounds,
        "calls_per_input_per_round": args.calls,
        "rows": rows,
        "ratio_new_over_old": new / old,
        **agreement,
        **provenance().to_json(),
    }
    for k, m in medians.items():
        print(f"{k}: {m:.2f} ms per call (median of {args.rounds} rounds)")
    print(f"ratio {new / old:.3f}; {agreement}")
    out = args.out or RESULTS / ("compiled_training_sizes.json" if args.training else "compile_sizes.json")
    write_record(out, make_record("benchmark", command_line(), doc, threads=1))


if __name__ == "__main__":
    main()
