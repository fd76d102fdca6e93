"""The same search for every arm: each strategy picks its learning rate on the validation set.

``benchmarks/dft_transfer.py`` runs one fixed recipe for all arms. A fine-tuned start may want a
smaller step than a random one, so this summary gives every arm the same small search: the runs
of ``dft_transfer.py`` at several learning rates (one folder per rate, same seeds, same draws,
same steps, same validation and test sets), and per arm the rate with the lowest mean
*validation* force MAE over the seeds (the recipe's own selection figure; the test set plays no
part in the choice). The chosen runs are then compared on the test set seed by seed.

Validation figures are those of each run's selected epoch, read from its training log.

    python benchmarks/dft_transfer.py --parent si-dft5 --recipe dft-cpu5 --strategies scratch rescaled \\
        --sizes 22 --seeds 3 --set train.lr=5e-4 --dir runs/dft_transfer5lr --name dft_transfer5_lr5e-4
    python benchmarks/dft_lr_search.py --runs 2e-3=runs/dft_transfer5 5e-4=runs/dft_transfer5lr --seeds 3
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def validation_at_best(run: Path) -> dict[str, float]:
    """Validation force and energy MAE of the selected epoch (from ``<run>.ckpt.log.csv``)."""
    row = json.loads(run.read_text())
    log = run.with_suffix(".ckpt.log.csv")
    for rec in csv.DictReader(log.open()):
        if int(rec["epoch"]) == row["best_epoch"]:
            return {"force_mae": float(rec["valid_force_mae"]), "energy_mae": float(rec["valid_energy_mae"])}
    raise SystemExit(f"{log}: no record of the selected epoch {row['best_epoch']}")


def load(folders: dict[str, Path], strategies: list[str], n: int, seeds: int) -> dict[str, dict[str, list]]:
    """``runs[strategy][lr]`` = per-seed records (test and validation figures); missing runs stop."""
    runs: dict[str, dict[str, list]] = {s: {} for s in strategies}
    for lr, folder in folders.items():
        for s in strategies:
            rows = []
            for seed in range(seeds):
                path = folder / f"{s}-n{n}-s{seed}.json"
                if not path.exists():
                    raise SystemExit(f"{path}: not run yet (run dft_transfer.py into {folder} first)")
                row = json.loads(path.read_text())
                rows.append({**row, "valid": None if row.get("diverged") else validation_at_best(path)})
            runs[s][lr] = rows
    return runs


def choose(rows_by_lr: dict[str, list]) -> tuple[str, dict[str, float]]:
    """The rate with the lowest mean validation force MAE (a diverged run counts as infinite)."""
    score = {
        lr: float(np.mean([r["valid"]["force_mae"] if r["valid"] else np.inf for r in rows]))
        for lr, rows in rows_by_lr.items()
    }
    return min(score, key=score.__getitem__), score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="LR=FOLDER, one per learning rate")
    parser.add_argument("--strategies", nargs="+", default=["scratch", "rescaled"])
    parser.add_argument("--n", type=int, default=22)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--name", default="dft_lr_search")
    args = parser.parse_args()

    from crosstrain.analysis.comparison import cell, paired
    from crosstrain.io.atomic import write_text
    from crosstrain.provenance import provenance

    folders = {lr: Path(f) for lr, f in (item.split("=", 1) for item in args.runs)}
    runs = load(folders, args.strategies, args.n, args.seeds)

    def test(rows: list, key: str) -> list:
        return [None if r.get("diverged") else r["test"][key] for r in rows]

    summary: dict[str, Any] = {}
    for s in args.strategies:
        lr, score = choose(runs[s])
        rows = runs[s][lr]
        summary[s] = {"chosen_lr": lr, "mean_valid_force_mae_by_lr": score,
                      "test_force_mae": cell(test(rows, "force_mae")).to_dict(),
                      "test_energy_mae": cell(test(rows, "energy_mae")).to_dict(),
                      "by_lr": {k: {"test_force_mae": cell(test(v, "force_mae")).text(4),
                                    "test_energy_mae": cell(test(v, "energy_mae")).text(1),
                                    "valid_energy_mae": float(np.mean([r["valid"]["energy_mae"] for r in v]))}
                                for k, v in runs[s].items()}}  # fmt: skip
        print(f"{s}: chosen lr {lr} (validation force MAE by lr {score})")
    base = runs["scratch"][summary["scratch"]["chosen_lr"]] if "scratch" in runs else None
    for s in args.strategies:
        if s != "scratch" and base is not None:
            mine = runs[s][summary[s]["chosen_lr"]]
            for key in ("force_mae", "energy_mae"):
                summary[s][f"{key}_vs_scratch"] = paired(test(mine, key), test(base, key)).text()
            print(f"{s} vs scratch: forces {summary[s]['force_mae_vs_scratch']}; "
                  f"energies {summary[s]['energy_mae_vs_scratch']}")  # fmt: skip
    out = {"benchmark": "dft_lr_search", "settings": vars(args), "summary": summary, **provenance()}
    RESULTS.mkdir(exist_ok=True)
    write_text(RESULTS / f"{args.name}.json", json.dumps(out, indent=1))
    print(json.dumps({s: summary[s]["by_lr"] for s in args.strategies}, indent=1))


if __name__ == "__main__":
    main()
