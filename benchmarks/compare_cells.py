"""Pair two arms' cells from saved benchmark results, seed by seed, without rerunning anything.

``dft_transfer.py`` compares an arm with ``scratch`` only when both ran in the same invocation.
An arm added later (same recipe, parent, draws, seeds, validation and test sets; the draw of seed
``s`` depends only on ``n`` and ``s``) is paired here with the cells already saved, from the
per-seed values in the results files. Writes ``benchmarks/results/<name>.json``:

    python benchmarks/compare_cells.py --a dft_transfer5_full_small.json:full \\
        --b dft_transfer5_small.json,dft_transfer5_n5.json:scratch --sizes 1 2 5 10 --name dft_curve5_full_vs_scratch
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("force_mae", "energy_mae", "stress_mae")


def load_arm(spec: str) -> tuple[str, dict[str, Any], str]:
    """``FILE[,FILE...]:ARM`` -> (arm, the files' cells, their names); the first file holding a
    cell wins. One clear line when a file or the arm is missing."""
    files, _, arm = spec.rpartition(":")
    cells: dict[str, Any] = {}
    for file in reversed(files.split(",") if files else []):
        path = Path(file) if Path(file).exists() else RESULTS / file
        if not path.exists():
            raise SystemExit(f"{spec}: {file} is neither a path nor a file in benchmarks/results")
        cells.update(json.loads(path.read_text()).get("cells", {}))
    if not files or not any(key.startswith(f"{arm} n=") for key in cells):
        raise SystemExit(f"{spec}: give FILE[,FILE...]:ARM; no cells of arm {arm!r} there")
    return arm, cells, files


def compare(a: tuple[str, dict[str, Any], str], b: tuple[str, dict[str, Any], str], sizes: list[int]) -> dict:
    from crosstrain.analysis.comparison import cell, paired

    out: dict[str, Any] = {}
    for n in sizes:
        ca, cb = a[1].get(f"{a[0]} n={n}"), b[1].get(f"{b[0]} n={n}")
        if ca is None or cb is None:
            raise SystemExit(f"n={n}: missing in {a[2] if ca is None else b[2]}")
        entry: dict[str, Any] = {}
        for m in METRICS:
            va, vb = ca[m]["values"], cb[m]["values"]
            if len(va) != len(vb):
                raise SystemExit(f"n={n} {m}: {len(va)} seeds against {len(vb)}; pair the same seeds")
            p = paired(va, vb)
            entry[m] = {a[0]: cell(va).to_dict(), b[0]: cell(vb).to_dict(), "paired": p.to_dict(), "text": p.text()}
        out[f"n={n}"] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="FILE[,FILE...]:ARM, the arm compared")
    parser.add_argument("--b", required=True, help="FILE[,FILE...]:ARM, the yardstick (e.g. scratch)")
    parser.add_argument("--sizes", nargs="+", type=int, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    from crosstrain.io.atomic import write_text
    from crosstrain.provenance import provenance

    a, b = load_arm(args.a), load_arm(args.b)
    cells = compare(a, b, args.sizes)
    for n, entry in cells.items():
        f = entry["force_mae"]
        print(f"{n}: {a[0]} {f[a[0]]['mean']:.4f} ± {f[a[0]]['std'] or 0:.4f} vs {b[0]} "
              f"{f[b[0]]['mean']:.4f} ± {f[b[0]]['std'] or 0:.4f} eV/Å: {f['text']}")  # fmt: skip
    out = {"benchmark": "compare_cells", "a": args.a, "b": args.b, "cells": cells, **provenance()}
    write_text(RESULTS / f"{args.name}.json", json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
