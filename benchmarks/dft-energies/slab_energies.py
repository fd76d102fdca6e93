"""Where the Ge energy error on surfaces comes from: every model's signed error on every mlearn slab.

The mlearn Ge set holds 11 surface slabs (one per orientation); the leak-free split puts one, the
(321) slab, in the test set. Models trained on few structures miss its energy by ~100 meV/atom,
always too high. This benchmark prints, for each model and each slab, the signed per-atom energy
error (prediction − mlearn label, meV/atom) and whether the model trained on that slab, next to
how much higher a consistent GPAW calculation places the slab relative to the bulk structures than
mlearn does (``slab_minus_bulk_meV`` from ``benchmarks/dft-energies/dft_consistency.py --surfaces K``, where
that slab was recomputed).

Models: the runs of a DFT study (``crosstrain study --spec benchmarks/dft-transfer/n22.yaml``; with
``grid.valid: split`` its draws are these) or of the retired ``dft_transfer.py`` in ``--runs``
folders (``{arm}-n{n}-s{seed}.ckpt``; their
training draw is reproduced from the seed) and whole-split models given as ``NAME=CKPT``
(trained on the split's 180 training structures). Writes ``benchmarks/dft-energies/slab_energies.json``.

    python benchmarks/dft-energies/slab_energies.py --runs runs/dft_transfer5lr:rescaled runs/dft_transfer5:scratch \\
        --n 22 --seeds 3 --model all-Ge=runs/dft_recipe/cpu5-s2.ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent


def signed_errors(ckpt: Path, slabs: list) -> list[float]:
    """Prediction − label per atom (meV/atom) for each slab, through the ASE calculator."""
    from crosstrain.calculator import CrosstrainCalculator

    calc = CrosstrainCalculator(ckpt)
    out = []
    for s in slabs:
        atoms = s.to_atoms()
        atoms.calc = calc
        out.append(1000 * (atoms.get_potential_energy() - s.energy) / len(s))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="*", default=[], help="FOLDER:ARM of a DFT study's runs")
    parser.add_argument("--n", type=int, default=22)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only-seeds", type=int, nargs="+", dest="only_seeds", help="these seeds of --runs only")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the models of the saved slab_energies.json that this run does not recompute",
    )
    parser.add_argument("--model", nargs="*", default=[], help="NAME=CKPT trained on the whole training split")
    args = parser.parse_args()

    from crosstrain.data.splits import draw
    from crosstrain.pretrained import mlearn_split
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, read_record, write_record

    split = mlearn_split("Ge", valid=22, test=25, seed=0)  # the benchmarks' split
    where = {s.source: part for part, items in split.items() for s in items}
    slabs = sorted(
        (s for items in split.values() for s in items if s.info.get("group") == "Surface"),
        key=lambda s: s.info["description"],
    )
    names = [s.info["description"].split("_mp-32_")[-1] for s in slabs]
    consistency = RESULTS / "dft_consistency.json"
    gpaw = read_record(consistency).result["summary"].get("slab_minus_bulk_meV", {}) if consistency.exists() else {}
    gpaw = {k.split("_mp-32_")[-1]: v for k, v in gpaw.items()}

    models: dict[str, dict[str, Any]] = {}
    for item in args.runs:
        folder, arm = item.split(":", 1)
        for seed in args.only_seeds or range(args.seeds):
            study = Path(folder) / "models" / arm / f"n{args.n}" / f"seed{seed}.ckpt"  # a study folder
            ckpt = study if study.parent.is_dir() else Path(folder) / f"{arm}-n{args.n}-s{seed}.ckpt"
            trained = {s.source for s in draw(split["train"], args.n, seed)}
            models[f"{Path(folder).name}/{arm} s{seed}"] = {"ckpt": ckpt, "trained": trained}
    for item in args.model:
        name, ckpt = item.split("=", 1)
        models[name] = {"ckpt": Path(ckpt), "trained": {s.source for s in split["train"]}}

    saved = RESULTS / "slab_energies.json"
    previous = read_record(saved) if args.merge and saved.exists() else None
    rows = previous.result["models"] if previous else {}
    print(f"{'slab':<27}" + "".join(f"{n[:12]:>13}" for n in names))
    print(f"{'split':<27}" + "".join(f"{where[s.source]:>13}" for s in slabs))
    print(f"{'GPAW − mlearn':<27}" + "".join(f"{gpaw[n]:>13.0f}" if n in gpaw else f"{'':>13}" for n in names))
    for name, m in models.items():
        errors = signed_errors(m["ckpt"], slabs)
        seen = [s.source in m["trained"] for s in slabs]
        unseen = [e for e, k in zip(errors, seen) if not k]
        on = [e for e, k in zip(errors, seen) if k]
        rows[name] = {
            "errors_meV": dict(zip(names, errors)),
            "trained_on": [n for n, k in zip(names, seen) if k],
            "mean_unseen_meV": float(np.mean(unseen)) if unseen else None,
            "mean_seen_meV": float(np.mean(on)) if on else None,
        }
        print(f"{name[-26:]:<27}" + "".join(f"{e:>12.0f}{'*' if k else ' '}" for e, k in zip(errors, seen)))
    print(
        "(* the slab is in the model's training draw (zero-shot: its scales and energy reference were fitted on it);"
        " errors are prediction − mlearn label, meV/atom)"
    )
    out = {
        "benchmark": "slab_energies",
        "settings": vars(args),
        "slabs": names,
        "split": {n: where[s.source] for n, s in zip(names, slabs)},
        "gpaw_slab_minus_bulk_meV": gpaw,
        "models": rows,
        **provenance().to_json(),
    }
    # --merge keeps the saved models: the record names every command that made them, in order
    command = command_line()
    seeds = set(args.only_seeds or range(args.seeds)) if args.runs else set()
    if previous:
        earlier = previous.command.split(" && ")
        command = " && ".join(earlier if command in earlier else [*earlier, command])
        seeds |= set(previous.seeds)
    write_record(saved, make_record("benchmark", command, out, seeds=tuple(sorted(seeds))))


if __name__ == "__main__":
    main()
