"""Does the parent chooser pick the parent that fine-tunes best? Its zero-shot ranking
(``crosstrain suggest``) against the ranking of the same candidates after fine-tuning.

    python benchmarks/parent-choice/rank_agreement.py --pair si-ge [--seeds 3]
    python benchmarks/parent-choice/rank_agreement.py --pair ge-si

For each seed s, the chooser ranks the candidates on seed s's draw of n training structures (the
draw every study arm trains on for that seed); the fine-tuned errors are the held-out test force
MAE of each candidate's ``rescaled`` model on the same draw, read from the study records. Recorded:
both rankings per seed and on the mean over seeds, whether the chooser's first is the best after
fine-tuning (per seed and on the mean), Kendall's tau, and the chooser's time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.records import command_line, make_record, write_record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: per element pair: the target data and, per candidate parent, the study record and cell of its
#: fine-tuned ``rescaled`` models (seed order)
PAIRS: dict[str, dict[str, Any]] = {
    "si-ge": {
        "elements": ("Si", "Ge"),
        "target": "Ge",
        "n_test": {"Si": 0, "Ge": 25},
        "n": 22,
        "candidates": {
            "si-dft5": ("benchmarks/dft-transfer/study_n22.json", "rescaled n=22"),
            "si-dft": ("benchmarks/parent-choice/study_si-dft.json", "rescaled n=22"),
            "si-sw": ("benchmarks/parent-choice/study_si-sw.json", "rescaled n=22"),
        },
    },
    "ge-si": {
        "elements": ("Ge", "Si"),
        "target": "Si",
        "n_test": {"Ge": 25, "Si": 25},
        "n": 22,
        "candidates": {
            "ge-dft5": ("benchmarks/reverse-transfer/study_n22.json", "rescaled n=22"),
            "li-dft5": ("benchmarks/parent-choice/study_li-dft5-si.json", "rescaled n=22"),
        },
    },
    "li-na": {
        "elements": ("Li", "Na"),
        "target": "Na",
        "n_test": {"Li": 0, "Na": 40},
        "n": 22,
        "candidates": {
            "li-dft5": ("benchmarks/metal-pair/study_n22.json", "rescaled n=22"),
            "si-dft5": ("benchmarks/parent-choice/study_si-dft5-na.json", "rescaled n=22"),
        },
    },
}


def fine_tuned(pair: dict[str, Any], seeds: int) -> dict[str, list[float]]:
    out = {}
    for name, (path, cell) in pair["candidates"].items():
        record = json.loads((ROOT / path).read_text(encoding="utf-8"))
        values = record["result"]["cells"][cell]["force_mae"]["values"]
        if len(values) < seeds:
            raise SystemExit(f"{path}: {len(values)} seeds of {cell}, {seeds} wanted")
        out[name] = [float(v) for v in values[:seeds]]
    return out


def ranking(errors: dict[str, float]) -> list[str]:
    return sorted(errors, key=lambda k: errors[k])


def main() -> None:
    from scipy.stats import kendalltau

    from crosstrain.data.extxyz import read_structures
    from crosstrain.data.mlearn_dataset import build_mlearn_dataset
    from crosstrain.data.splits import draw
    from crosstrain.suggest import suggest

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pair", choices=sorted(PAIRS), default="si-ge")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=None, help="record (default: rank_agreement_<pair>.json here)")
    args = p.parse_args()
    pair = PAIRS[args.pair]
    tuned = fine_tuned(pair, args.seeds)
    names = list(pair["candidates"])
    with tempfile.TemporaryDirectory() as tmp:
        build_mlearn_dataset(tmp, elements=pair["elements"], n_test=pair["n_test"])
        pool = read_structures(Path(tmp) / f"{pair['target']}.train.extxyz")
    per_seed = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        s = suggest(draw(pool, pair["n"], seed), names)
        seconds = time.perf_counter() - t0
        zero = {c.parent: float(c.force_mae_rescaled) for c in s.candidates if c.refused is None}
        after = {name: tuned[name][seed] for name in names}
        tau = kendalltau([zero[n] for n in names], [after[n] for n in names]).statistic
        per_seed.append(
            {
                "seed": seed,
                "zero_shot_force_mae": zero,
                "length_scale": {c.parent: c.length_scale for c in s.candidates},
                "energy_scale": {c.parent: c.energy_scale for c in s.candidates},
                "fine_tuned_force_mae": after,
                "chooser_ranking": ranking(zero),
                "fine_tuned_ranking": ranking(after),
                "first_agrees": ranking(zero)[0] == ranking(after)[0],
                "kendall_tau": float(tau),
                "chooser_seconds": round(seconds, 1),
            }
        )
        print(json.dumps(per_seed[-1]), flush=True)
    mean_zero = {n: float(np.mean([r["zero_shot_force_mae"][n] for r in per_seed])) for n in names}
    mean_tuned = {n: float(np.mean(tuned[n])) for n in names}
    result = {
        "pair": args.pair,
        "n_train": pair["n"],
        "candidates": names,
        "records": {n: pair["candidates"][n][0] for n in names},
        "per_seed": per_seed,
        "mean_zero_shot_force_mae": mean_zero,
        "mean_fine_tuned_force_mae": mean_tuned,
        "chooser_ranking": ranking(mean_zero),
        "fine_tuned_ranking": ranking(mean_tuned),
        "first_agrees_on_mean": ranking(mean_zero)[0] == ranking(mean_tuned)[0],
        "first_agrees_seeds": sum(r["first_agrees"] for r in per_seed),
        "kendall_tau_on_mean": float(kendalltau(list(mean_zero.values()), list(mean_tuned.values())).statistic),
        "threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "per_seed"}, indent=2))
    out = Path(args.out or HERE / f"rank_agreement_{args.pair}.json")
    write_record(out, make_record("benchmark", command_line(), result, seeds=tuple(range(args.seeds))))


if __name__ == "__main__":
    main()
