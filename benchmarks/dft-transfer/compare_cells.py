"""Pair two arms' cells from saved benchmark results, seed by seed, without rerunning anything.

``dft_transfer.py`` compares an arm with ``scratch`` only when both ran in the same invocation.
An arm added later (same recipe, parent, draws, seeds, validation and test sets; the draw of seed
``s`` depends only on ``n`` and ``s``) is paired here with the cells already saved, from the
per-seed values in the results files. Writes ``benchmarks/dft-transfer/<name>.json``:

    python benchmarks/dft-transfer/compare_cells.py --a dft_transfer5_full_small.json:full \\
        --b dft_transfer5_small.json,dft_transfer5_n5.json:scratch --sizes 1 2 5 10 --name dft_curve5_full_vs_scratch
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crosstrain.records import RecordError, command_line, make_record, read_record, write_record

RESULTS = Path(__file__).resolve().parent
METRICS = ("force_mae", "energy_mae", "stress_mae")


def load_arm(spec: str) -> tuple[str, dict[str, Any], str]:
    """``FILE[,FILE...]:ARM`` -> (arm, the files' cells, their names); the first file holding a
    cell wins. One clear line when a file or the arm is missing."""
    files, _, arm = spec.rpartition(":")
    cells: dict[str, Any] = {}
    for file in reversed(files.split(",") if files else []):
        path = Path(file) if Path(file).is_file() else RESULTS / file
        if not file or not path.is_file():
            raise SystemExit(f"{spec}: {file!r} is neither a file nor a record in this folder")
        try:
            cells.update(read_record(path).result.get("cells", {}))
        except RecordError as exc:
            raise SystemExit(f"not a benchmark results file: {exc}") from None
    if not files or not any(key.startswith(f"{arm} n=") for key in cells):
        raise SystemExit(f"{spec}: give FILE[,FILE...]:ARM; no cells of arm {arm!r} there")
    return arm, cells, files


def aligned(ca: dict[str, Any], cb: dict[str, Any], metric: str, where: str) -> tuple[list, list]:
    """The two cells' values seed by seed (by their ``seeds`` lists where both record them)."""
    if metric not in ca or metric not in cb:
        raise SystemExit(f"{where}: {metric} missing in one of the cells")
    va, vb = ca[metric]["values"], cb[metric]["values"]
    sa, sb = ca.get("seeds"), cb.get("seeds")
    if sa is not None and sb is not None:
        if sorted(sa) != sorted(sb):
            raise SystemExit(f"{where}: seeds {sa} against {sb}; pair the same seeds")
        order = {seed: k for k, seed in enumerate(sb)}
        vb = [vb[order[seed]] for seed in sa]
    elif len(va) != len(vb):
        raise SystemExit(f"{where}: {len(va)} seeds against {len(vb)}; pair the same seeds")
    return va, vb


def compare(a: tuple[str, dict[str, Any], str], b: tuple[str, dict[str, Any], str], sizes: list[int]) -> dict:
    """Per size and metric: each side's cell (keys ``a`` and ``b``) and the paired comparison."""
    from crosstrain.analysis.comparison import cell, paired

    out: dict[str, Any] = {}
    for n in sizes:
        ca, cb = a[1].get(f"{a[0]} n={n}"), b[1].get(f"{b[0]} n={n}")
        for arm, c in ((a, ca), (b, cb)):
            if c is None:
                raise SystemExit(f"n={n}: no cell '{arm[0]} n={n}' in {arm[2]}")
        assert ca is not None and cb is not None
        entry: dict[str, Any] = {}
        for m in METRICS:
            if m not in ca and m not in cb:
                continue
            va, vb = aligned(ca, cb, m, f"n={n}")
            p = paired(va, vb)
            entry[m] = {"a": cell(va).to_dict(), "b": cell(vb).to_dict(), "paired": p.to_dict(), "text": p.text()}
        out[f"n={n}"] = entry
    return out


def cell_text(c: dict[str, Any]) -> str:
    if c["mean"] is None:
        return f"all {c['n']} diverged"
    spread = f" ± {c['std']:.4f}" if c["std"] is not None else ""
    return f"{c['mean']:.4f}{spread}" + (f" ({c['diverged']} diverged)" if c["diverged"] else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="FILE[,FILE...]:ARM, the arm compared")
    parser.add_argument("--b", required=True, help="FILE[,FILE...]:ARM, the yardstick (e.g. scratch)")
    parser.add_argument("--sizes", nargs="+", type=int, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    from crosstrain.provenance import provenance

    a, b = load_arm(args.a), load_arm(args.b)
    cells = compare(a, b, args.sizes)
    for n, entry in cells.items():
        f = entry["force_mae"]
        print(f"{n}: {a[0]} {cell_text(f['a'])} vs {b[0]} {cell_text(f['b'])} eV/Å: {f['text']}")
    out = {"benchmark": "compare_cells", "a": args.a, "b": args.b, "cells": cells, **provenance().to_json()}
    # pairing assumes the runs share recipe, parent, steps, draws and test set: say what was assumed
    out["assumed"] = "both arms ran with the same recipe, parent, steps, draws, validation and test sets"
    write_record(RESULTS / f"{args.name}.json", make_record("benchmark", command_line(), out))


if __name__ == "__main__":
    main()
