"""What limits the active-learning benchmark's learning curve: the training, the labels, or their mix?

Run after the active-learning benchmark (``arms.yaml``; it reads that benchmark's folders: every run's DFT
labels and the GPAW-labelled test set; no new DFT call is made). Every model here starts like the
benchmark's arms (``si-dft5``, ``rescaled``, ``--map Ge=Si``), trains a fixed number of gradient
steps with no validation set (the model after the last step, as the loop's members) and is scored
on the same 32 test structures, per kind of cell:

``steps``        one run's labels (``--labels-of``, default ``random-s1``: 32 calls), trained in one
                 go for 1,200 and 4,000 steps, at the recipe's peak rate and at the fine-tuning one;
                 against the loop's own result on the same labels (its rounds and final steps)
``all``          every distinct label of every run (the pool's distribution at ~11x the labels),
                 4,000 and 10,000 steps: how low more labels of this kind take the test error
``composition``  32 labels drawn from ``all``, balanced over the kinds (8 bulk, 8 strained, 8
                 vacancy, 8 surface) against weighted to the kinds with the largest errors (4, 4,
                 12, 12), 5 draws each: what re-weighting the kinds, the lever a selection has, buys
``slope``        from ``active_learning32_random.json``: the exponent ``a`` of random's member-0
                 learning curve between 16 and 32 calls (``E ~ calls^-a``), and what a saving of
                 30 % of the calls is in error at equal calls, ``(1/0.7)^a - 1``

Each model resumes or is reused from ``--out``; ``python benchmarks/active-learning/active_learning_limits.py``
(~75 CPU-minutes, ``--parts`` runs a subset, two processes on two cores share ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent
KINDS = ("bulk", "strained", "vacancy", "surface")  # the test set's order, 8 structures each
STEPS_RUNS = (("dft-cpu5-finetune", 1200), ("dft-cpu5-finetune", 4000), ("dft-cpu5", 4000))
ALL_STEPS = (4000, 10000)
MIXES = {"balanced": (8, 8, 8, 8), "weighted": (4, 4, 12, 12)}  # per KINDS
MIX_STEPS, MIX_DRAWS = 1500, 5


def distinct_labels(folders: list[Path]) -> list:
    """Every labelled structure of the runs' folders once (by its DFT cache key), in folder order."""
    from crosstrain.data.extxyz import read_structures

    out, seen = [], set()
    for folder in folders:
        for s in read_structures(folder / "dft" / "labelled.extxyz"):
            if s.info["label_key"] not in seen:
                seen.add(s.info["label_key"])
                out.append(s)
    return out


def draw(labels: list, counts: tuple[int, ...], seed: int) -> list:
    """``counts`` structures of each kind of KINDS, drawn without replacement (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, n in zip(KINDS, counts):
        of_kind = [i for i, s in enumerate(labels) if s.info.get("kind") == kind]
        out += [labels[i] for i in rng.choice(of_kind, size=n, replace=False)]
    return out


def train_and_score(name: str, recipe: str, steps: int, data: list, test: list, out: Path, seed: int = 0) -> dict:
    """Train (or reuse) one transferred model on ``data`` for ``steps`` steps; its test errors."""
    from crosstrain.active.committee import member_config
    from crosstrain.config import Strategy, load_config
    from crosstrain.io.checkpoint import is_finished, load_checkpoint
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate
    from crosstrain.train.pipeline import fit

    config = load_config(recipe)
    transfer = replace(config.transfer, strategy=Strategy.RESCALED, parent="si-dft5", element_map={"Ge": "Si"})
    cfg = member_config(replace(config, transfer=transfer), seed=seed, steps=steps, n_train=len(data), warm=False)
    path = out / f"{name}.ckpt"
    if not is_finished(path):
        fit(cfg, data, path, resume=True, progress=False)
    model = load_checkpoint(path).model
    m = evaluate(model, Dataset(test, model.neighbour_cutoff, "test data"), by=("group",))
    kinds = [s.info.get("kind") for s in data]
    return {
        "recipe": recipe,
        "steps": steps,
        "seed": seed,
        "labels": len(data),
        "labels_by_kind": {k: kinds.count(k) for k in KINDS},
        "force_mae": m.force_mae,
        "energy_mae": m.energy_mae,
        "force_mae_by_kind": {k: (m.by_group or {})[k].force_mae for k in KINDS},
    }


def member0_curve(run: dict[str, Any]) -> list:
    """A run's curve with member 0 at every point (the last round's member 0, trained on every
    label, in place of the final model at the budget): like with like across arms."""
    curve = run.get("curve") or []
    if not curve or run.get("member0_force_mae") is None:
        return curve
    return [*curve[:-1], (curve[-1][0], run["member0_force_mae"], run.get("member0_energy_mae"))]


def slope(saved: Path) -> dict[str, Any]:
    """Random's member-0 learning-curve exponent between 16 and 32 calls, per seed and pooled."""
    from crosstrain.records import read_record

    runs = read_record(saved).result["runs"]["random"]
    per_seed = {}
    for seed, run in runs.items():
        at = {calls: force for calls, force, *_ in member0_curve(run)}
        per_seed[seed] = float(np.log(at[16] / at[32]) / np.log(2))
    a = float(np.mean(list(per_seed.values())))
    return {
        "per_seed": per_seed,
        "mean": a,
        "std": float(np.std(list(per_seed.values()), ddof=1)),
        "error_gap_for_30pct_fewer_calls": float((1 / 0.7) ** a - 1),
    }


def mix_summary(fits: dict[str, list[dict]]) -> dict[str, Any]:
    """Per mix mean ± std over the draws (total and per kind); weighted against balanced, by draw seed."""
    from dataclasses import asdict

    from crosstrain.analysis.comparison import cell, paired

    out: dict[str, Any] = {}
    for mix, runs in fits.items():
        out[mix] = {
            "force_mae": asdict(cell([r["force_mae"] for r in runs])),
            "energy_mae": asdict(cell([r["energy_mae"] for r in runs])),
            "force_mae_by_kind": {k: float(np.mean([r["force_mae_by_kind"][k] for r in runs])) for k in KINDS},
        }
    a, b = ([r["force_mae"] for r in fits[m]] for m in ("weighted", "balanced"))
    out["weighted_vs_balanced"] = paired(a, b).text()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs/active_bench", help="the active-learning runs' folder")
    parser.add_argument("--labels-of", default="random-s1", dest="labels_of")
    parser.add_argument("--saved", default=str(RESULTS / "active_learning32_random.json"))
    parser.add_argument(
        "--parts", nargs="+", default=["steps", "all", "composition"], choices=["steps", "all", "composition"]
    )
    parser.add_argument("--out", default="runs/active_limits")
    parser.add_argument("--name", default="active_learning_limits")
    args = parser.parse_args()

    from crosstrain.data.extxyz import read_structures
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    runs = Path(args.runs)
    test = read_structures(runs / "test" / "labelled.extxyz")
    if len(test) != 8 * len(KINDS):  # the kinds are read from the order (the labels keep no source)
        raise SystemExit(f"{runs / 'test'}: {len(test)} labelled test structures, not 32; a label failed?")
    test = [replace(s, info={**s.info, "group": KINDS[i // 8]}) for i, s in enumerate(test)]
    folders = sorted(p for p in runs.glob("*-s*") if (p / "dft" / "labelled.extxyz").exists())
    labels = distinct_labels(folders)
    leaked = {s.info["label_key"] for s in labels} & {s.info["label_key"] for s in test}
    if leaked:
        raise SystemExit(f"{len(leaked)} test structures are among the runs' labels; not a held-out test")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "runs": [p.name for p in folders],
        "distinct_labels": len(labels),
        "test_structures": len(test),
        "slope": slope(Path(args.saved)),
    }
    if "steps" in args.parts:
        own = distinct_labels([runs / args.labels_of])
        loop = json.loads((runs / args.labels_of / "active.json").read_text())
        result["steps"] = {
            "labels_of": args.labels_of,
            "loop": {"member0": loop["rounds"][-1]["test"]["force_mae"], "final": loop["final"]["test"]["force_mae"]},
            "fits": [train_and_score(f"steps-{r}-{n}", r, n, own, test, out) for r, n in STEPS_RUNS],
        }
    if "all" in args.parts:
        result["all"] = [train_and_score(f"all-{n}", "dft-cpu5", n, labels, test, out) for n in ALL_STEPS]
    if "composition" in args.parts:
        result["composition"] = {
            mix: [
                train_and_score(
                    f"mix-{mix}-s{seed}", "dft-cpu5", MIX_STEPS, draw(labels, counts, seed), test, out, seed
                )
                for seed in range(MIX_DRAWS)
            ]
            for mix, counts in MIXES.items()
        }
        result["composition_summary"] = mix_summary(result["composition"])
    RESULTS.mkdir(exist_ok=True)
    fits = [
        *result.get("steps", {}).get("fits", []),
        *result.get("all", []),
        *(r for runs in result.get("composition", {}).values() for r in runs),
    ]
    omp = os.environ.get("OMP_NUM_THREADS", "")
    seeds, threads = tuple(sorted({r["seed"] for r in fits})), int(omp) if omp.isdigit() else None
    record = make_record(
        "benchmark", command_line(), {**result, **provenance().to_json()}, seeds=seeds, threads=threads
    )
    write_record(RESULTS / f"{args.name}.json", record)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
