"""Accuracy against cost on the DFT data: a recipe (preset x budget) -> Ge test errors x wall time.

Trains a Ge model on every Ge training structure of the leak-free mlearn split (seed 0: 180
training, 23 validation for model selection, 25 test structures that share no family with
either) with a named recipe plus overrides, evaluates it on the test set and adds one row to
``benchmarks/dft-recipe/dft_recipe.json`` (rows are keyed by ``--name``; a finished checkpoint in
``--dir`` is evaluated again, not retrained, and keeps its recorded training time).

    python benchmarks/dft-recipe/dft_recipe.py --name cpu-300ep --recipe dft-cpu
    python benchmarks/dft-recipe/dft_recipe.py --name cpu-r5-150ep --recipe dft-cpu \\
        --set model.cutoff=5.0 --set train.epochs=150
    python benchmarks/dft-recipe/dft_recipe.py --name cpu5-s2-seeds --seeds-of cpu5-s2 cpu5-s2-seed1 cpu5-s2-seed2

``--parent CKPT`` continues a finished Ge model with the recipe instead of starting from scratch
(``transfer.strategy=full``, Ge mapped onto itself), e.g. a short energy-weighted third stage:

    python benchmarks/dft-recipe/dft_recipe.py --name cpu5-s2-seed2-ew300 --recipe dft-cpu5-finetune \\
        --parent runs/dft_recipe/cpu5-s2-seed2.ckpt --set train.energy_weight=300 --set train.epochs=30 \\
        --set train.lr=2e-4 --set train.warmup_steps=50 --set train.select_on=loss --set train.patience=100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "dft_recipe.json"


def save(doc: dict[str, Any]) -> None:
    """Write ``doc`` as the record of every command that made it: rows are added one command each,
    so the record's command is the commands run so far, in order (``&&``)."""
    from crosstrain.records import command_line, make_record, read_record, write_record

    command = command_line()
    if RESULTS.exists():
        earlier = read_record(RESULTS).command.split(" && ")
        command = " && ".join(earlier if command in earlier else [*earlier, command])
    threads = {row.get("threads") for row in doc["rows"].values()}
    write_record(RESULTS, make_record("benchmark", command, doc, threads=threads.pop() if len(threads) == 1 else None))


def load() -> dict[str, Any]:
    from crosstrain.records import read_record

    return read_record(RESULTS).result if RESULTS.exists() else {"benchmark": "dft_recipe", "rows": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="row name, also the checkpoint's stem")
    parser.add_argument("--recipe", default="dft-cpu")
    parser.add_argument("--set", action="append", default=[], help="recipe override, e.g. train.epochs=150")
    parser.add_argument("--element", default="Ge")
    parser.add_argument("--dir", default="runs/dft_recipe")
    parser.add_argument("--parent", help="a finished model of --element to continue (strategy full)")
    parser.add_argument(
        "--seeds-of",
        nargs="+",
        dest="seeds_of",
        metavar="ROW",
        help="only summarise these finished rows (one per seed) as --name, mean ± std",
    )
    args = parser.parse_args()
    if args.seeds_of:
        summarise_seeds(args.name, args.seeds_of)
        return

    import torch

    from crosstrain.config import load_config
    from crosstrain.io.checkpoint import is_finished, load_checkpoint, read_metadata
    from crosstrain.pretrained import mlearn_split
    from crosstrain.provenance import provenance
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate
    from crosstrain.train.pipeline import fit

    split = mlearn_split({"element": args.element, "valid": 22, "test": 25, "seed": 0})
    config = load_config(args.recipe, [*(["transfer.strategy=full"] if args.parent else []), *args.set])
    ckpt = Path(args.dir) / f"{args.name}.ckpt"
    t0 = time.perf_counter()
    if not is_finished(ckpt):
        same = {args.element: args.element} if args.parent else None
        fit(config, split["train"], ckpt, valid=split["valid"], parent=args.parent, element_map=same, resume=True)
    history = read_metadata(ckpt).get("history") or [{}]
    model = load_checkpoint(ckpt).model
    test = evaluate(model, Dataset(split["test"], model.neighbour_cutoff, "test"), by=("group",))
    train = evaluate(model, Dataset(split["train"], model.neighbour_cutoff, "train"), by=())
    row = {
        "recipe": args.recipe,
        "overrides": args.set,
        "parent": args.parent,
        "n_train": len(split["train"]),
        "n_test": len(split["test"]),
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": config.train.epochs,
        "best_epoch": read_metadata(ckpt).get("best_epoch"),
        "train_wall_seconds": history[-1].get("seconds"),
        "threads": config.train.threads or torch.get_num_threads(),
        "test": test.to_json(),
        "train_errors": {"force_mae": train.force_mae, "energy_mae": train.energy_mae, "stress_mae": train.stress_mae},
        "evaluated_seconds": round(time.perf_counter() - t0, 1),
        **provenance(),
    }
    doc = load()
    doc["rows"][args.name] = row
    save(doc)
    minutes = (row["train_wall_seconds"] or 0) / 60
    print(
        f"{args.name}: test force MAE {test['force_mae']:.4f} eV/Å, energy MAE {test['energy_mae']:.2f} "
        f"meV/atom, stress MAE {test['stress_mae']:.3f} GPa; training {minutes:.1f} min, "
        f"{row['threads']} thread(s)"
    )


def summarise_seeds(name: str, rows: list[str]) -> None:
    """Mean ± std (and every value) of the test errors over rows that differ only in their seed."""
    from crosstrain.analysis.comparison import cell

    doc = load()
    missing = [r for r in rows if r not in doc["rows"]]
    if missing:
        raise SystemExit(f"{RESULTS}: no row {', '.join(missing)}")
    picked = [doc["rows"][r] for r in rows]
    summary = {
        "rows": rows,
        "recipes": [[r["recipe"], *r["overrides"]] for r in picked],
        "parents": [r.get("parent") for r in picked],
        "n_test": picked[0]["n_test"],
        "n_train": picked[0]["n_train"],
    }
    for key in ("force_mae", "energy_mae", "stress_mae"):
        summary[key] = cell([r["test"][key] for r in picked]).to_dict()
    summary["train_wall_seconds"] = cell([r["train_wall_seconds"] for r in picked]).to_dict()
    doc.setdefault("seed_summaries", {})[name] = summary
    save(doc)
    forces = cell([r["test"]["force_mae"] for r in picked])
    energies = cell([r["test"]["energy_mae"] for r in picked])
    print(
        f"{name}: forces {forces.text(4)} eV/Å {forces.values}, energies {energies.text(2)} meV/atom {energies.values}"
    )


if __name__ == "__main__":
    main()
