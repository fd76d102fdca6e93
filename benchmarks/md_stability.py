"""Long-MD stability: K seeded Langevin runs per temperature per model, batched into one model
call per step (``crosstrain.md.replicas``), on a 64-atom diamond cell of the target element.

Reports per model and temperature the fraction of runs that stayed physical for the whole
``--ps`` and the mean time to failure of the others (the harness's checks: temperature below 3x
the target, no pair closer than 1.5 Å, forces below 50 eV/Å). Saves
``benchmarks/results/md_stability.json`` (or ``--name``) with the settings, seeds and provenance.

    python benchmarks/md_stability.py --model full=ge_full.ckpt --model scratch=ge_scratch.ckpt \\
        --element Ge --temperatures 600 1200 1800 --runs 4 --ps 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT (path or shipped name)")
    parser.add_argument("--element", default="Ge")
    parser.add_argument("--lattice", type=float, help="lattice constant (Å); default: ASE's reference value")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[600.0, 1200.0, 1800.0])
    parser.add_argument("--runs", type=int, default=4, help="seeded runs (replicas) per temperature")
    parser.add_argument("--ps", type=float, default=10.0, help="length of each run in ps (1 fs steps)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="md_stability")
    args = parser.parse_args()

    import torch
    from ase.build import bulk

    from crosstrain.io.atomic import write_text
    from crosstrain.md.replicas import batched
    from crosstrain.md.run import MDSettings
    from crosstrain.md.stability import stability
    from crosstrain.provenance import provenance
    from crosstrain.workflows.properties import lattice_guess

    torch.set_num_threads(args.threads)
    a = args.lattice or lattice_guess(args.element)
    cell = bulk(args.element, "diamond", a=a, cubic=True) * (2, 2, 2)
    settings = MDSettings(steps=int(round(args.ps * 1000)), timestep_fs=1.0)
    out = {"settings": {**vars(args), "lattice": a, "steps": settings.steps}, "models": {}}
    for item in args.model:
        name, path = item.split("=", 1)
        t0 = time.perf_counter()
        report = stability(cell, None, args.temperatures, args.runs, settings, model=batched(path))
        out["models"][name] = {
            "checkpoint": path,
            "fraction_stable": report["fraction_stable"],
            "by_temperature": {
                t: {k: v[k] for k in ("fraction_stable", "mean_time_to_failure_ps")}
                for t, v in report["by_temperature"].items()
            },  # fmt: skip
            "failures": [r["reason"] for v in report["by_temperature"].values() for r in v["runs"] if r["reason"]],
            "wall_seconds": round(time.perf_counter() - t0, 1),
        }
        seconds = out["models"][name]["wall_seconds"]
        print(f"{name}: fraction stable {report['fraction_stable']:.2f} over {args.temperatures} K, "
              f"{args.runs} runs x {args.ps:g} ps each ({seconds:.0f} s)", flush=True)  # fmt: skip
    out.update(provenance())
    RESULTS.mkdir(exist_ok=True)
    write_text(RESULTS / f"{args.name}.json", json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
