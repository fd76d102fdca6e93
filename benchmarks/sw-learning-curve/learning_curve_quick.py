"""A quick Si -> Ge transfer-vs-scratch learning curve on the Stillinger-Weber data (CPU preset).

Trains a Si parent on the SW training pool (340 snapshots), then Ge models with 1, 10 and 50
training snapshots, `full` transfer and from `scratch`, and reports test force MAE; also the
zero-shot error of `full` and `rescaled`. A quick single-seed version of the paper's Figure 2;
`crosstrain study --spec sw-quick` runs the grid with seeds and a hyperparameter search.

    crosstrain data sw --out runs/sw
    python benchmarks/sw-learning-curve/learning_curve_quick.py --data runs/sw --out runs/curve
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from crosstrain.config import config_from_dict
from crosstrain.data.extxyz import read_structures
from crosstrain.provenance import provenance
from crosstrain.records import command_line, make_record, write_record
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import evaluate
from crosstrain.train.pipeline import fit


def per_temperature(structures, k, seed=0):
    """``k`` structures per temperature, seeded."""
    rng = np.random.default_rng(seed)
    by_t: dict[float, list] = {}
    for s in structures:
        by_t.setdefault(s.info["temperature"], []).append(s)
    out = []
    for t in sorted(by_t):
        idx = rng.permutation(len(by_t[t]))[:k]
        out += [by_t[t][i] for i in sorted(idx)]
    return out


def config(strategy, epochs, batch_size, lr):
    return config_from_dict(
        {
            "model": {"preset": "cpu"},
            "train": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": 0},
            "transfer": {"strategy": strategy},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="output folder of 'crosstrain data sw'")
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 10, 50])
    parser.add_argument("--parent-epochs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=240, help="gradient steps per Ge model")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    si_train = read_structures(data / "Si.train.extxyz")
    si_valid = per_temperature(read_structures(data / "Si.valid.extxyz"), 1)
    ge_pool = read_structures(data / "Ge.train.extxyz")
    ge_valid = per_temperature(read_structures(data / "Ge.valid.extxyz"), 1)[::2]  # 17 structures
    ge_test = per_temperature(read_structures(data / "Ge.test.extxyz"), 5)  # 170 structures
    parent = out / "si.ckpt"
    if not parent.exists():
        fit(config("scratch", args.parent_epochs, 4, 2e-3), si_train, parent, valid=si_valid)
    rows = []
    rng = np.random.default_rng(0)
    for n in args.sizes:
        train = [ge_pool[i] for i in sorted(rng.permutation(len(ge_pool))[:n])]
        batch = 1 if n < 4 else (2 if n < 20 else 4)
        epochs = max(1, math.ceil(args.steps / math.ceil(n / batch)))
        for strategy in ("full", "scratch"):
            ckpt = out / f"ge_{strategy}_{n}.ckpt"
            result, report = fit(
                config(strategy, epochs, batch, 2e-3),
                train,
                ckpt,
                valid=ge_valid,
                parent=parent,  # scratch ignores it
                element_map={"Ge": "Si"},
                progress=False,
            )
            test = evaluate(result.model, Dataset(ge_test, result.model.neighbour_cutoff), 8, by=())
            row = {
                "n_train": n,
                "strategy": strategy,
                "epochs": epochs,
                "batch_size": batch,
                "test_force_mae": test.force_mae,
                "test_energy_mae_meV": test.energy_mae,
                "zero_shot_force_mae": report.zero_shot.force_mae if report.zero_shot is not None else None,
                "seconds": report.seconds,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    zero = {}
    fit_set = [ge_pool[i] for i in sorted(np.random.default_rng(10).permutation(len(ge_pool))[:10])]
    for strategy in ("full", "rescaled"):  # zero shot: scales and energy shift from 10 Ge structures
        _, report = fit(
            config(strategy, 1, 4, 1e-12),
            fit_set,
            out / f"zero_{strategy}.ckpt",
            valid=ge_test,
            parent=parent,
            element_map={"Ge": "Si"},
            progress=False,
        )
        start = report.zero_shot.to_json() if report.zero_shot is not None else None
        zero[strategy] = {"zero_shot": start, "init": report.init}
        print(strategy, "zero-shot force MAE", (start or {}).get("force_mae"), flush=True)
    doc = {
        "benchmark": "learning_curve_quick",
        "rows": rows,
        "zero_shot": zero,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        **provenance(),
    }
    write_record(out / "learning_curve.json", make_record("benchmark", command_line(), doc, seeds=(0,)))
    print(f"saved {out / 'learning_curve.json'} ({doc['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
