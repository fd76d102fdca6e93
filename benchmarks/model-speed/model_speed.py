"""Milliseconds per training step and per inference of DimeNet++ on a 64-atom diamond Si cell.

Training step = energy + forces (create_graph) + force loss + backward to the parameters.
Inference = energy + forces. Both presets, 1 thread and all threads; ``--compile`` adds the
opt-in torch.func + torch.compile path (a cold compile takes 1-2 minutes per case).

    python benchmarks/model-speed/model_speed.py [--compile] [--repeats 10] \\
        [--out benchmarks/model-speed/model_speed.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk

from crosstrain.graph import batch_graph, topology, triplets
from crosstrain.model.compiled import energy_forces_fn, force_loss_step
from crosstrain.model.derivatives import predict
from crosstrain.model.dimenet import DimeNetPP
from crosstrain.model.dimenet.config import preset
from crosstrain.provenance import provenance
from crosstrain.records import command_line, make_record, write_record
from crosstrain.species import SpeciesMap
from crosstrain.structure import Structure


def si64(rattle: float = 0.05, seed: int = 1) -> Structure:
    atoms = bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2)
    atoms.rattle(rattle, seed=seed)  # thermal-like displacements, as in training data
    return Structure.from_atoms(atoms)


def timed(fn, repeats: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def run_case(preset_name: str, threads: int, compiled: bool, repeats: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = preset(preset_name).replace(output_init="glorot")
    model = DimeNetPP(config, SpeciesMap.from_elements(["Si"]))
    structure = si64()
    topo = topology(structure, config.cutoff)
    graph = batch_graph([structure], topologies=[topo])
    reference = torch.randn(len(structure), 3)
    result = {
        "preset": preset_name,
        "threads": threads,
        "mode": "compiled" if compiled else "eager",
        "n_atoms": len(structure),
        "n_edges": topo.n_edges,
        "n_triplets": int(triplets(topo, n_atoms=len(structure))[0].size),
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }
    if compiled:
        torch._dynamo.reset()  # a fresh compile per case: no cached graph of another model is reused
        step = force_loss_step(model, compile=True, dynamic=False)
        infer = energy_forces_fn(model, compile=True, dynamic=False)
        t0 = time.perf_counter()
        step(graph, reference)
        infer(graph)
        result["compile_seconds"] = time.perf_counter() - t0
        result["train_step"] = timed(lambda: step(graph, reference), repeats)
        result["inference"] = timed(lambda: infer(graph), repeats)
        return result
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        pred = predict(model, graph, create_graph=True)
        loss = (pred.forces - reference).pow(2).sum()
        loss.backward()

    result["train_step"] = timed(train_step, repeats)
    result["inference"] = timed(lambda: predict(model, graph), repeats)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, os.cpu_count() or 1])
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile path")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "model_speed.json"))
    args = parser.parse_args()
    results = []
    modes = [False, True] if args.compile else [False]
    for name in args.presets:
        for threads in sorted(set(args.threads)):
            for compiled in modes:
                r = run_case(name, threads, compiled, args.repeats)
                results.append(r)
                print(
                    f"{name:6s} {r['mode']:8s} threads={threads}  E={r['n_edges']} T={r['n_triplets']}  "
                    f"train step {r['train_step']['median_ms']:7.1f} ms  "
                    f"inference {r['inference']['median_ms']:7.1f} ms"
                    + (f"  (compile {r['compile_seconds']:.0f} s)" if compiled else ""),
                    flush=True,
                )
    doc = {
        "benchmark": "model_speed",
        "system": "64-atom diamond Si, rattled 0.05 Å",
        **provenance().to_json(),
        "results": results,
    }
    threads = set(args.threads)  # one thread count: the record's; several: none
    record = make_record("benchmark", command_line(), doc, threads=threads.pop() if len(threads) == 1 else None)
    write_record(args.out, record)
    print(f"saved {args.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
