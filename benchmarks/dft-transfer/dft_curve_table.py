"""The DFT learning curve of every arm in one table, from saved cells, seed by seed.

Each arm's cells may come from several results files of ``dft_transfer.py`` (``FILE[,FILE...]:ARM``
as in ``compare_cells.py``; the first file holding a cell wins, so list a learning-rate search's
chosen rate first). Every cell is restricted to the same seeds (``--seeds``), and each arm is
paired with the baseline on them: mean ± std, the number of seeds and of diverged runs, energies,
the source element's error after transfer where it was measured, and the force gain over the
baseline with the seeds that went its way and the paired tests. A size an arm did not run, or ran
on fewer seeds, is left empty and listed, never filled in. Writes ``benchmarks/dft-transfer/<name>.json`` and, with
``--plot``, a figure of force MAE against the number of target structures:

    python benchmarks/dft-transfer/dft_curve_table.py --baseline scratch --sizes 1 2 5 10 22 50 180 \\
        --name dft_curve5_arms \\
        --arm dft_transfer5_small.json,dft_transfer5_n5.json,dft_transfer5.json,dft_transfer5_n50.json:scratch ...
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compare_cells import RESULTS, cell_text, load_arm
from crosstrain.records import command_line, make_record, write_record

METRICS = ("force_mae", "energy_mae", "si_force_mae")


def restrict(c: dict[str, Any], metric: str, seeds: list[int], where: str) -> list | None:
    """The cell's values of ``metric`` for ``seeds``, in that order (``None`` if not measured)."""
    if metric not in c:
        return None
    values, have = c[metric]["values"], c.get("seeds")
    if have is None:
        if len(values) != len(seeds):
            raise SystemExit(f"{where}: {len(values)} values and no seed list; cannot pick seeds {seeds}")
        return list(values)
    return [values[have.index(s)] for s in seeds]


def has_seeds(c: dict[str, Any], seeds: list[int]) -> bool:
    """Whether a cell holds every seed asked for (a cell without a seed list is taken by count)."""
    have = c.get("seeds")
    return have is None or all(s in have for s in seeds)


def table(arms: list[tuple[str, dict[str, Any], str]], baseline: str, sizes: list[int], seeds: list[int]) -> dict:
    from crosstrain.analysis.comparison import cell, paired

    base = next((a for a in arms if a[0] == baseline), None)
    if base is None:
        raise SystemExit(f"--baseline {baseline}: no --arm of that name")
    out: dict[str, Any] = {}
    for name, cells, files in arms:
        rows: dict[str, Any] = {}
        incomplete: dict[str, Any] = {}  # size -> the seeds its cell has
        for n in sizes:
            c = cells.get(f"{name} n={n}")
            if c is None:
                continue
            if not has_seeds(c, seeds):
                incomplete[f"n={n}"] = c["seeds"]
                continue
            row: dict[str, Any] = {}
            for m in METRICS:
                values = restrict(c, m, seeds, f"{files}: {name} n={n}")
                if values is not None:
                    row[m] = cell(values).to_dict()
            b = base[1].get(f"{baseline} n={n}")
            if name != baseline and b is not None and has_seeds(b, seeds):
                ours = restrict(c, "force_mae", seeds, f"{files}: {name} n={n}")
                theirs = restrict(b, "force_mae", seeds, f"{base[2]}: {baseline} n={n}")
                assert ours is not None and theirs is not None
                p = paired(ours, theirs)
                row["force_vs_baseline"] = {"paired": p.to_dict(), "text": p.text()}
            row["seconds_mean"] = c.get("seconds_mean")
            rows[f"n={n}"] = row
        missing = [n for n in sizes if f"n={n}" not in rows and f"n={n}" not in incomplete]
        out[name] = {"files": files, "cells": rows, "sizes_missing": missing, "incomplete_seeds": incomplete}
    return out


def markdown(result: dict[str, Any], sizes: list[int], baseline: str) -> str:
    """One row per size, one column per arm: force MAE, and the gain over the baseline."""
    names = list(result)
    lines = ["| n | " + " | ".join(f"`{a}`" for a in names) + " |", "|---" * (len(names) + 1) + "|"]
    for n in sizes:
        cols = []
        for a in names:
            row = result[a]["cells"].get(f"n={n}")
            if row is None:
                cols.append("–")
                continue
            text = cell_text(row["force_mae"])
            if a != baseline and "force_vs_baseline" in row:
                q = row["force_vs_baseline"]["paired"]
                if q["relative_mean"] is not None:
                    word = "lower" if q["relative_mean"] >= 0 else "higher"
                    text += f" ({100 * abs(q['relative_mean']):.0f} % {word}, {q['a_better']}/{q['n_pairs']})"
            cols.append(text)
        lines.append(f"| {n} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Force and energy MAE against n, mean ± std per arm (the study's learning-curve figure)."""
    from crosstrain.study.results import plot_curve

    summary = []
    for name, arm in result.items():
        for key, row in arm["cells"].items():
            entry: dict[str, Any] = {"strategy": name, "n_train": int(key[2:])}
            for m in ("force_mae", "energy_mae"):
                c = row.get(m) or {}
                entry[f"test_{m}_mean"], entry[f"test_{m}_std"] = c.get("mean"), c.get("std") or 0.0
            summary.append(entry)
    plot_curve(summary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", action="append", required=True, help="FILE[,FILE...]:ARM (repeat)")
    parser.add_argument("--baseline", default="scratch")
    parser.add_argument("--sizes", nargs="+", type=int, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--name", required=True)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    from crosstrain.provenance import provenance

    arms = [load_arm(spec) for spec in args.arm]
    result = table(arms, args.baseline, args.sizes, args.seeds)
    text = markdown(result, args.sizes, args.baseline)
    print(text)
    for name, arm in result.items():
        if arm["sizes_missing"]:
            print(f"{name}: not run at n = {', '.join(map(str, arm['sizes_missing']))}")
        for size, have in arm["incomplete_seeds"].items():
            print(f"{name}: {size} left out, it has seeds {have} only")
    out = {"benchmark": "dft_curve_table", "arms": args.arm, "baseline": args.baseline, "seeds": args.seeds}
    out |= {"table": result, "markdown": text, **provenance().to_json()}
    out["assumed"] = "every arm ran with the same recipe, parent, steps, draws, validation and test sets"
    record = make_record("benchmark", command_line(), out, seeds=tuple(args.seeds))
    write_record(RESULTS / f"{args.name}.json", record)
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    main()
