"""Ge from few DFT structures: transfer from a Si parent against scratch, like with like.

Every arm uses the same recipe (``--recipe``, default ``dft-cpu``), the same budget in gradient
steps (about 60 validations per run whatever the size, early stopping after 10 without
improvement: at n = 22 exactly the recipe's 5 and 50 epochs), the same validation set for
model selection and the same leak-free test set (the ``crosstrain data mlearn`` split of the
shipped mlearn Ge data, seed 0: 25 test structures that share no family with training or
validation). Seed ``s`` draws the ``n`` training
structures from the training pool and seeds the model; every strategy sees the same draw for a
seed, so arms are compared seed by seed. Transfer arms also record their zero-shot start on
the test set (the parent with its fits on the n structures, no training step). Diverged runs
are recorded and counted. Each run is saved as it finishes, so a killed benchmark resumes.

    python benchmarks/dft-transfer/dft_transfer.py --parent si-dft --sizes 22 --seeds 5 --workers 2
    python benchmarks/dft-transfer/dft_transfer.py --summary-only      # rewrite the summary from saved runs
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent


def split_data() -> dict[str, list]:
    from crosstrain.pretrained import mlearn_split

    return mlearn_split({"element": "Ge", "valid": 22, "test": 25, "seed": 0})


def source_valid() -> list:
    """The shipped Si parent's held-out structures (its split: 22 valid, no test, seed 0)."""
    from crosstrain.pretrained import mlearn_split

    return mlearn_split({"element": "Si", "valid": 22, "test": 0, "seed": 0})["valid"]


def draw(pool: list, n: int, seed: int) -> list:
    order = np.random.default_rng(10_000 + seed).permutation(len(pool))[:n]
    return [pool[i] for i in sorted(order.tolist())]


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or zero-shot) one (strategy, n, seed) and evaluate it on the test set."""
    import torch

    from crosstrain.config import load_config
    from crosstrain.io.atomic import write_text
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate
    from crosstrain.train.loop import TrainingDiverged
    from crosstrain.train.pipeline import fit, zero_shot_report

    torch.set_num_threads(job["threads"])
    data = split_data()
    train = draw(data["train"], job["n"], job["seed"])
    strategy, out = job["strategy"], Path(job["dir"])
    epochs = max(1, math.ceil(job["steps"] / math.ceil(len(train) / job["batch_size"])))
    base = strategy.removesuffix("-zero-shot")
    parent, element_map = job["parent"], {"Ge": "Si"}
    if job.get("continue_from"):  # a further stage on this arm's finished model: same draw, seed and sets
        parent = str(Path(job["continue_from"][base]) / f"{base}-n{job['n']}-s{job['seed']}.ckpt")
        element_map, base = {"Ge": "Ge"}, "full"
    every = max(1, epochs // 60)  # about 60 validations whatever the size; patience = 10 of them
    overrides = [
        f"train.seed={job['seed']}",
        f"train.epochs={epochs}",
        f"train.threads={job['threads']}",
        f"train.batch_size={job['batch_size']}",
        f"transfer.strategy={base}",
        f"train.valid_every={every}",
        f"train.patience={10 * every}",
    ]
    config = load_config(job["recipe"], overrides + job["overrides"])
    ckpt = out / f"{strategy}-n{job['n']}-s{job['seed']}.ckpt"
    t0 = time.perf_counter()
    row: dict[str, Any] = {
        "strategy": strategy,
        "n": job["n"],
        "seed": job["seed"],
        "epochs": epochs,
        "steps": epochs * math.ceil(len(train) / job["batch_size"]),
        "diverged": False,
    }
    try:
        if strategy.endswith("-zero-shot"):
            zero = zero_shot_report(config, train, ckpt, parent, element_map, test=data["test"])
            row["test"] = zero.test.to_json() if zero.test is not None else None
            model = None
        else:
            result, report = fit(
                config,
                train,
                ckpt,
                valid=data["valid"],
                parent=parent,
                element_map=element_map,
                resume=True,
                progress=False,
            )
            model = result.model
            row["test"] = evaluate(
                model, Dataset(data["test"], model.neighbour_cutoff, "test"), by=("group",)
            ).to_json()
            row["best_epoch"] = report.best_epoch
    except TrainingDiverged as exc:
        row.update(diverged=True, reason=str(exc), test=None)
        model = None
    if model is not None and "Si" in model.species.symbols:
        src = source_valid()
        row["source_retention"] = evaluate(model, Dataset(src, model.neighbour_cutoff, "Si valid"), by=()).to_json()
    row["seconds"] = round(time.perf_counter() - t0, 1)
    write_text(out / f"{strategy}-n{job['n']}-s{job['seed']}.json", json.dumps(row, indent=2))
    return row


def summarise(rows: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    from crosstrain.analysis.comparison import cell, paired

    def metric(r: dict[str, Any], key: str) -> float | None:
        return None if r.get("diverged") or not r.get("test") else r["test"].get(key)

    cells: dict[str, Any] = {}
    strategies = sorted({r["strategy"] for r in rows})
    sizes = sorted({r["n"] for r in rows})
    for n in sizes:
        by = {(r["strategy"], r["seed"]): r for r in rows if r["n"] == n}
        for s in strategies:
            seeds = sorted(seed for (name, seed) in by if name == s)  # runs not yet done are not counted
            if not seeds:
                continue
            runs = [by[(s, seed)] for seed in seeds]
            common = [seed for seed in seeds if ("scratch", seed) in by]  # paired over shared seeds only
            entry: dict[str, Any] = {}
            for key in ("force_mae", "energy_mae", "stress_mae"):
                entry[key] = cell([metric(r, key) for r in runs]).to_dict()
                if s != "scratch" and common:
                    mine = [metric(by[(s, seed)], key) for seed in common]
                    base = [metric(by[("scratch", seed)], key) for seed in common]
                    entry[f"{key}_vs_scratch"] = paired(mine, base).to_dict()
                    entry[f"{key}_vs_scratch_text"] = paired(mine, base).text()
            retention = [r.get("source_retention", {}).get("force_mae") for r in runs]
            if any(v is not None for v in retention):
                entry["si_force_mae"] = cell(retention).to_dict()
            entry["seconds_mean"] = float(np.mean([r["seconds"] for r in runs]))
            entry["seeds"] = seeds
            cells[f"{s} n={n}"] = entry
    return {**meta, "cells": cells}


def table(summary: dict[str, Any]) -> str:
    from crosstrain.analysis.comparison import Cell

    lines = [
        "| strategy | n | force MAE (eV/Å) | energy MAE (meV/atom) | stress MAE (GPa) | Si force MAE | s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in summary["cells"].items():
        s, n = name.split(" n=")
        f, en = Cell(**{**e["force_mae"], "values": ()}), Cell(**{**e["energy_mae"], "values": ()})
        st = Cell(**{**e["stress_mae"], "values": ()})
        si = Cell(**{**e["si_force_mae"], "values": ()}).text(3) if "si_force_mae" in e else "-"
        lines.append(f"| {s} | {n} | {f.text(4)} | {en.text(1)} | {st.text(2)} | {si} | {e['seconds_mean']:.0f} |")
    for name, e in summary["cells"].items():
        if "force_mae_vs_scratch_text" in e:
            lines.append(
                f"\n{name} vs scratch: forces {e['force_mae_vs_scratch_text']}; "
                f"energies {e['energy_mae_vs_scratch_text']}"
            )
    return "\n".join(lines)


def check_continue_from(args: argparse.Namespace, out: Path) -> dict[str, str]:
    """``--continue-from ARM=DIR`` as a map, refused in one line unless every arm has a folder other
    than ``--dir`` holding a finished run for every size and seed asked for."""
    from crosstrain.io.checkpoint import is_finished

    pairs = dict(item.split("=", 1) for item in args.continue_from if "=" in item)
    if len(pairs) < len(args.continue_from):
        raise SystemExit("--continue-from: give ARM=DIR, e.g. rescaled=runs/dft_transfer5lr")
    if not pairs:
        return {}
    for arm in {s.removesuffix("-zero-shot") for s in args.strategies}:
        if arm not in pairs or Path(pairs[arm]).resolve() == out.resolve():
            raise SystemExit(f"--continue-from: {arm} needs a folder of finished runs other than --dir {out}")
        for n in args.sizes:
            for seed in args.only_seeds or range(args.seeds):
                ckpt = Path(pairs[arm]) / f"{arm}-n{n}-s{seed}.ckpt"
                if not is_finished(ckpt):
                    raise SystemExit(f"--continue-from: {ckpt} is not a finished run")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parent", default="si-dft", help="parent checkpoint or shipped model name")
    parser.add_argument("--recipe", default="dft-cpu")
    parser.add_argument("--set", action="append", default=[], help="recipe override for every arm")
    parser.add_argument("--strategies", nargs="+", default=["scratch", "full", "full-zero-shot"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[22])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--only-seeds",
        type=int,
        nargs="+",
        dest="only_seeds",
        help="run (and summarise) these seeds only, e.g. to add seeds 3 4 to saved cells",
    )
    parser.add_argument("--steps", type=int, default=1800, help="gradient steps per model (same for every arm)")
    parser.add_argument("--batch-size", type=int, default=4, dest="batch_size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--dir", default="runs/dft_transfer", help="checkpoints and per-run JSON")
    parser.add_argument("--name", default="dft_transfer", help="results file stem in benchmarks/results")
    parser.add_argument(
        "--continue-from",
        nargs="+",
        default=[],
        dest="continue_from",
        metavar="ARM=DIR",
        help="continue each arm's finished run in DIR (its checkpoint for the same n and seed) "
        "with --recipe, strategy full: a further training stage, arms still paired by seed",
    )
    parser.add_argument("--summary-only", action="store_true", dest="summary_only")
    args = parser.parse_args()

    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    continue_from = check_continue_from(args, out)
    seeds = args.only_seeds or list(range(args.seeds))
    jobs = [
        {
            "strategy": s,
            "n": n,
            "seed": seed,
            "parent": args.parent,
            "recipe": args.recipe,
            "overrides": args.set,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "dir": str(out),
            "continue_from": continue_from,
        }
        for n in args.sizes
        for seed in seeds
        for s in args.strategies
    ]
    todo = [j for j in jobs if not (out / f"{j['strategy']}-n{j['n']}-s{j['seed']}.json").exists()]
    t0 = time.perf_counter()
    if todo and not args.summary_only:
        print(f"{len(todo)} of {len(jobs)} runs to do on {args.workers} workers x {args.threads} threads", flush=True)
        with ProcessPoolExecutor(args.workers) as pool:
            for row in pool.map(run_one, todo):
                f = row["test"]["force_mae"] if row.get("test") else float("nan")
                print(
                    f"{row['strategy']} n={row['n']} seed={row['seed']}: test F-MAE {f:.4f} ({row['seconds']} s)",
                    flush=True,
                )
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    rows = [r for r in rows if r["strategy"] in args.strategies and r["n"] in args.sizes and r["seed"] in seeds]
    meta = {
        "benchmark": "dft_transfer",
        "settings": {k: v for k, v in vars(args).items() if k != "summary_only"},
        "test_set": "mlearn Ge, leak-free split seed 0 (25 structures)",
        "wall_seconds_now": time.perf_counter() - t0,
        **provenance(),
    }
    summary = summarise(rows, meta)
    RESULTS.mkdir(exist_ok=True)
    record = make_record("benchmark", command_line(), summary, seeds=tuple(seeds), threads=args.threads)
    write_record(RESULTS / f"{args.name}.json", record)
    print(table(summary))


if __name__ == "__main__":
    main()
