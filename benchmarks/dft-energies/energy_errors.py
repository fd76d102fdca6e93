"""Where the all-data Ge energy error comes from: per-structure signed errors of finished models.

For each model (``NAME=CHECKPOINT``) and each part of the leak-free mlearn split (seed 0: 180
training, 23 validation, 25 test structures; ``benchmarks/dft-recipe/dft_recipe.py``), the signed energy
error per atom of every structure, and per group (AIMD-NVT, Elastic, Surface, Vacancy) its mean
(the offset the model leaves on the whole group) and its MAE. A training error as large as the
test error says the model does not fit its own training energies (under-fitting, not
over-fitting); the same sign for every model says the offset is systematic, not seed noise. The
committee row is the mean prediction of all models: if their errors were independent it would
be far lower than each. Writes ``benchmarks/dft-energies/<name>.json``.

    python benchmarks/dft-energies/energy_errors.py --name energy_errors_stage2 \\
        s0=runs/dft_recipe/cpu5-s2.ckpt s1=runs/dft_recipe/cpu5-s2-seed1.ckpt \\
        s2=runs/dft_recipe/cpu5-s2-seed2.ckpt s3=runs/dft_recipe/cpu5-s2-seed3.ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent
PARTS = ("train", "valid", "test")


def signed_errors(checkpoint: str, split: dict[str, list]) -> dict[str, np.ndarray]:
    """Per part, (prediction - label) / atoms in meV/atom, in the split's structure order."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import predictions

    model = load_checkpoint(checkpoint).model
    out = {}
    for part in PARTS:
        structures = split[part]
        errors = np.full(len(structures), np.nan)
        for pred, batch in predictions(model, Dataset(structures, model.neighbour_cutoff, part)):
            for k, i in enumerate(batch.indices):
                s = structures[i]
                errors[i] = (float(pred.energy[k]) - s.energy) / len(s.numbers) * 1000.0
        out[part] = errors
    return out


def by_group(errors: np.ndarray, groups: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {
        "all": {"n": int(errors.size), "mae": float(np.abs(errors).mean()), "mean": float(errors.mean())}
    }
    for g in sorted(set(groups)):
        e = errors[[k for k, name in enumerate(groups) if name == g]]
        table[g] = {"n": int(e.size), "mae": float(np.abs(e).mean()), "mean": float(e.mean())}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="NAME=CHECKPOINT")
    parser.add_argument("--element", default="Ge")
    parser.add_argument("--name", default="energy_errors")
    args = parser.parse_args()

    import torch

    from crosstrain.pretrained import mlearn_split
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(1)
    split = mlearn_split(args.element, valid=22, test=25, seed=0)
    groups = {part: [str(s.info.get("group")) for s in split[part]] for part in PARTS}
    models = dict(item.split("=", 1) for item in args.models)
    errors = {name: signed_errors(path, split) for name, path in models.items()}
    doc: dict[str, Any] = {"benchmark": "energy_errors", "models": models, "split_seed": 0, "rows": {}}
    for name, per_part in errors.items():
        doc["rows"][name] = {part: by_group(per_part[part], groups[part]) for part in PARTS}
    if len(errors) > 1:
        mean = {part: np.mean([e[part] for e in errors.values()], axis=0) for part in PARTS}
        doc["rows"]["committee"] = {part: by_group(mean[part], groups[part]) for part in PARTS}
    doc["test_structures"] = [
        {
            "source": s.source,
            "group": groups["test"][k],
            "atoms": len(s.numbers),
            "errors": {name: round(float(e["test"][k]), 3) for name, e in errors.items()},
        }
        for k, s in enumerate(split["test"])
    ]
    doc.update(provenance().to_json())
    RESULTS.mkdir(exist_ok=True)
    write_record(RESULTS / f"{args.name}.json", make_record("benchmark", command_line(), doc, threads=1))
    for name, row in doc["rows"].items():
        cells = "; ".join(
            f"{part} {row[part]['all']['mae']:.2f} ("
            + ", ".join(f"{g} {v['mean']:+.1f}" for g, v in row[part].items() if g != "all")
            + ")"
            for part in ("train", "test")
        )
        print(f"{name}: energy MAE meV/atom, with each group's mean signed error: {cells}")


if __name__ == "__main__":
    main()
