"""The same search for every arm: each strategy picks its learning rate on the validation set.

``benchmarks/dft-transfer/dft_transfer.py`` runs one fixed recipe for all arms. A fine-tuned start may want a
smaller step than a random one, so this summary gives every arm the same small search: the runs
of ``dft_transfer.py`` at several learning rates (one folder per rate, same seeds, same draws,
same steps, same validation and test sets), and per arm the rate with the lowest mean
*validation* force MAE over the seeds (the recipe's own selection figure; the test set plays no
part in the choice). The chosen runs are then compared on the test set seed by seed.

Validation figures are those of each run's selected epoch, read from its training log.

    python benchmarks/dft-transfer/dft_transfer.py --parent si-dft5 --recipe dft-cpu5 --strategies scratch rescaled \\
        --sizes 22 --seeds 3 --set train.lr=5e-4 --dir runs/dft_transfer5lr --name dft_transfer5_lr5e-4
    python benchmarks/dft-transfer/dft_lr_search.py --runs 2e-3=runs/dft_transfer5 5e-4=runs/dft_transfer5lr --seeds 3
    python benchmarks/dft-transfer/dft_lr_search.py --runs 2e-3=runs/dft_transfer5 5e-4=runs/dft_transfer5lr \\
        --seeds 3 \\
        --sizes 5 22 50 --name dft_curve5 --plot docs/dft_curve5.png --partial   # the learning curve
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent


def validation_at_best(run: Path) -> dict[str, float]:
    """Validation force and energy MAE of the selected epoch (from ``<run>.ckpt.log.csv``)."""
    row = json.loads(run.read_text())
    log = run.with_suffix(".ckpt.log.csv")
    for rec in csv.DictReader(log.open()):
        if int(rec["epoch"]) == row["best_epoch"]:
            return {"force_mae": float(rec["valid_force_mae"]), "energy_mae": float(rec["valid_energy_mae"])}
    raise SystemExit(f"{log}: no record of the selected epoch {row['best_epoch']}")


def load(
    folders: dict[str, Path], strategies: list[str], n: int, seeds: int, partial: bool = False
) -> dict[str, dict[str, list]]:
    """``runs[strategy][lr]`` = per-seed records (test and validation figures). A rate that was not
    run for an arm stops the summary, unless ``partial``: then the arm's search is over the rates
    it ran (recorded as such)."""
    runs: dict[str, dict[str, list]] = {s: {} for s in strategies}
    for lr, folder in folders.items():
        for s in strategies:
            paths = [folder / f"{s}-n{n}-s{seed}.json" for seed in range(seeds)]
            if not all(p.exists() for p in paths):
                continue  # this rate was not run (completely) for this arm and size
            rows = []
            for path in paths:
                row = json.loads(path.read_text())
                rows.append({**row, "valid": None if row.get("diverged") else validation_at_best(path)})
            runs[s][lr] = rows
    for s, by_lr in runs.items():
        if not by_lr:
            raise SystemExit(f"{s} at n = {n}: no rate with all {seeds} seeds run (run dft_transfer.py first)")
        if not partial and len(by_lr) < len(folders):
            missing = ", ".join(lr for lr in folders if lr not in by_lr)
            raise SystemExit(f"{s} at n = {n}: rate(s) {missing} not run for all {seeds} seeds (or give --partial)")
    return runs


def choose(rows_by_lr: dict[str, list]) -> tuple[str, dict[str, float]]:
    """The rate with the lowest mean validation force MAE (a diverged run counts as infinite)."""
    score = {
        lr: float(np.mean([r["valid"]["force_mae"] if r["valid"] else np.inf for r in rows]))
        for lr, rows in rows_by_lr.items()
    }
    return min(score, key=score.__getitem__), score


def zero_shot(folders: dict[str, Path], strategy: str, n: int, seeds: int) -> dict[str, Any] | None:
    """Test figures of a transfer arm's zero-shot start (the same at every rate: no training step),
    from the first folder that holds all seeds; ``None`` where none does."""
    from crosstrain.analysis.comparison import cell

    for folder in folders.values():
        paths = [folder / f"{strategy}-zero-shot-n{n}-s{seed}.json" for seed in range(seeds)]
        if all(p.exists() for p in paths):
            rows = [json.loads(p.read_text())["test"] for p in paths]
            return {k: cell([r[k] for r in rows]).to_dict() for k in ("force_mae", "energy_mae")}
    return None


def summarise(runs: dict[str, dict[str, list]], strategies: list[str]) -> dict[str, Any]:
    """Per arm: the chosen rate, its test cells, every rate's figures; each transfer arm paired
    with scratch seed by seed at its own chosen rate."""
    from crosstrain.analysis.comparison import cell, paired

    def test(rows: list, key: str) -> list:
        return [None if r.get("diverged") else r["test"][key] for r in rows]

    summary: dict[str, Any] = {}
    for s in strategies:
        lr, score = choose(runs[s])
        rows = runs[s][lr]
        summary[s] = {
            "chosen_lr": lr,
            "rates_run": sorted(runs[s]),
            "mean_valid_force_mae_by_lr": score,
            "test_force_mae": cell(test(rows, "force_mae")).to_dict(),
            "test_energy_mae": cell(test(rows, "energy_mae")).to_dict(),
            "by_lr": {
                k: {
                    "test_force_mae": cell(test(v, "force_mae")).text(4),
                    "test_energy_mae": cell(test(v, "energy_mae")).text(1),
                    "valid_energy_mae": float(np.mean([r["valid"]["energy_mae"] if r["valid"] else np.inf for r in v])),
                }
                for k, v in runs[s].items()
            },
        }
    if "scratch" in runs:
        base = runs["scratch"][summary["scratch"]["chosen_lr"]]
        for s in (s for s in strategies if s != "scratch"):
            mine = runs[s][summary[s]["chosen_lr"]]
            for key in ("force_mae", "energy_mae"):
                summary[s][f"{key}_vs_scratch"] = paired(test(mine, key), test(base, key)).text()
    return summary


def plot(by_size: dict[int, dict[str, Any]], path: Path) -> None:
    """Test force and energy MAE against the number of Ge structures, each arm at its chosen rate
    (mean ± std over seeds, every seed as a dot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    sizes = sorted(by_size)
    for ax, key, label in zip(axes, ("force_mae", "energy_mae"), ("force MAE (eV/Å)", "energy MAE (meV/atom)")):
        for arm in by_size[sizes[0]]:
            cells = [by_size[n][arm][f"test_{key}"] for n in sizes]
            mean, std = ([np.nan if c[k] is None else c[k] for c in cells] for k in ("mean", "std"))
            ax.errorbar(sizes, mean, std, capsize=3, marker="o", label=arm)
            for n, c in zip(sizes, cells):
                ax.plot([n] * len(c["values"]), c["values"], ".", color="grey", alpha=0.5)
            zero = [(n, by_size[n][arm]["zero_shot_test"]) for n in sizes if by_size[n][arm]["zero_shot_test"]]
            if zero:  # the sizes where the zero-shot start was evaluated
                ax.plot([n for n, _ in zero], [z[key]["mean"] for _, z in zero], "--", label=f"{arm} zero-shot")
        ax.set_xscale("log")
        ax.set_yscale("log")  # errors span a decade between one and fifty structures
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_xlabel("Ge training structures")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle("mlearn Ge test set (25 structures), each arm at its learning rate chosen on validation")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="LR=FOLDER, one per learning rate")
    parser.add_argument("--strategies", nargs="+", default=["scratch", "rescaled"])
    parser.add_argument("--sizes", "--n", nargs="+", type=int, default=[22], help="training-set sizes")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--name", default="dft_lr_search")
    parser.add_argument("--plot", type=Path, help="learning-curve figure (PNG) over --sizes")
    parser.add_argument(
        "--seeds-at",
        nargs="*",
        default=[],
        dest="seeds_at",
        help="N=K: only K seeds at size N (e.g. 50=2 where the third was not run)",
    )
    parser.add_argument(
        "--partial", action="store_true", help="allow sizes where an arm ran only some rates (searched over those)"
    )
    args = parser.parse_args()

    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    folders = {lr: Path(f) for lr, f in (item.split("=", 1) for item in args.runs)}
    seeds_at = {int(n): int(k) for n, k in (item.split("=", 1) for item in args.seeds_at)}
    by_size = {
        n: summarise(load(folders, args.strategies, n, seeds_at.get(n, args.seeds), args.partial), args.strategies)
        for n in args.sizes
    }
    for n, summary in by_size.items():
        for s in summary:
            summary[s]["zero_shot_test"] = zero_shot(folders, s, n, seeds_at.get(n, args.seeds))
    for n, summary in by_size.items():
        for s, row in summary.items():
            chosen = row["by_lr"][row["chosen_lr"]]
            print(
                f"n = {n}, {s}: chosen lr {row['chosen_lr']} (validation force MAE by lr "
                f"{row['mean_valid_force_mae_by_lr']}); test forces {chosen['test_force_mae']} eV/Å, "
                f"energies {chosen['test_energy_mae']} meV/atom"
            )
            if "force_mae_vs_scratch" in row:
                print(f"  vs scratch: forces {row['force_mae_vs_scratch']}; energies {row['energy_mae_vs_scratch']}")
    out = {
        "benchmark": "dft_lr_search",
        "settings": {**vars(args), "plot": str(args.plot or "")},
        "by_size": {str(n): v for n, v in by_size.items()},
        **provenance(),
    }
    RESULTS.mkdir(exist_ok=True)
    record = make_record("benchmark", command_line(), out, seeds=tuple(range(args.seeds)))
    write_record(RESULTS / f"{args.name}.json", record)
    if args.plot:
        plot(by_size, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
