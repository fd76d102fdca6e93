"""Crystal properties of a study's retrained models against crosstrain's DFT reference.

For every finished model of a study (its ``results.csv``: stage ``final``, state ``COMPLETE``), the
lattice constant, bulk modulus, C11, C12, C44 and relaxed vacancy formation energy of the target
element through :func:`crosstrain.analysis.crystal.crystal_properties`, with the very plan the DFT
reference used (:data:`crosstrain.dft.crystal_reference.REFERENCE_PLAN`: the same strains, the
same 2×2×2 cubic supercell for the vacancy, the same relaxation), each against the reference in
percent; per arm the mean, standard deviation, worst and count over the seeds. Each model's
figures are cached beside its checkpoint (``<checkpoint>.properties.json``), so a killed run
resumes. Writes a record.

    python benchmarks/metal-pair/properties.py --study runs/metal-n22 \\
        --reference src/crosstrain/data/crystal_reference/Na.json --out benchmarks/metal-pair/properties_n22.json
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

#: the compared properties: name in the record, attribute of CrystalProperties
PROPERTIES = ("a0", "bulk_modulus", "C11", "C12", "C44", "vacancy")


def values(p) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A CrystalProperties' compared numbers."""
    out = {k: float(getattr(p, k)) for k in PROPERTIES if k != "vacancy"}
    out["vacancy"] = float(p.vacancy_formation_energy.relaxed)
    return out


def model_values(checkpoint: str, element: str, a_guess: float) -> dict[str, float]:
    """The model's numbers (cached beside the checkpoint)."""
    from crosstrain.analysis.crystal import crystal_properties
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.dft.crystal_reference import REFERENCE_PLAN
    from crosstrain.io.atomic import write_text

    cache = Path(f"{checkpoint}.properties.json")
    if cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    got = values(crystal_properties(element, CrosstrainCalculator(checkpoint), a_guess, plan=REFERENCE_PLAN))
    write_text(cache, json.dumps(got, indent=1))
    return got


def summary(errors: list[float]) -> dict[str, float | int]:
    return {
        "mean": statistics.fmean(errors),
        "std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
        "worst": max(errors, key=abs),
        "n": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="a study folder (with results.csv)")
    parser.add_argument("--reference", required=True, help="crystal_reference.json of crosstrain crystal-reference")
    parser.add_argument("--out", required=True, help="the record to write")
    args = parser.parse_args()

    import torch

    from crosstrain.dft.crystal_reference import read_crystal_reference
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(1)
    ref = read_crystal_reference(args.reference)
    dft = values(ref.properties)
    with open(Path(args.study) / "results.csv", newline="", encoding="utf-8") as f:
        final = [r for r in csv.DictReader(f) if r["stage"] == "final"]
    rows = [r for r in final if r["state"] == "COMPLETE" and r.get("diverged", "False") not in ("True", "1")]
    models = []
    for r in sorted(rows, key=lambda r: (r["strategy"], int(r["n_train"]), int(r["seed"]))):
        got = model_values(r["checkpoint"], ref.element, ref.properties.a0)
        error = {k: 100 * (got[k] - dft[k]) / dft[k] for k in PROPERTIES}
        models.append({"strategy": r["strategy"], "n_train": int(r["n_train"]), "seed": int(r["seed"])})
        models[-1].update(values=got, error_percent=error)
        line = ", ".join(f"{k} {v:+.1f} %" for k, v in error.items())
        print(f"{r['strategy']} n{r['n_train']} seed {r['seed']}: {line}", flush=True)
    arms: dict[str, dict[str, dict[str, float | int]]] = {}
    for key in sorted({(m["strategy"], m["n_train"]) for m in models}):
        picked = [m for m in models if (m["strategy"], m["n_train"]) == key]
        arms[f"{key[0]} n{key[1]}"] = {k: summary([m["error_percent"][k] for m in picked]) for k in PROPERTIES}
    result = {
        "element": ref.element,
        "reference": {"values": dft, "describe": ref.describe(), "command": ref.command},
        "study": Path(args.study).name,
        "models": models,
        "arms": arms,
        "not_evaluated": [f"{r['strategy']} n{r['n_train']} seed {r['seed']}" for r in final if r not in rows],
    }
    seeds = tuple(sorted({m["seed"] for m in models}))
    path = write_record(args.out, make_record("benchmark", command_line(), result, seeds=seeds, threads=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
