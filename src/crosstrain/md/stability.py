"""The stability harness: K independent MD runs per temperature; fraction stable, time to failure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from ase import Atoms

from crosstrain.md.run import MDSettings, run_md


def stability(
    atoms: Atoms,
    calc_factory: Any,
    temperatures: list[float],
    runs: int,
    settings: MDSettings,
    progress: bool = False,
    model: Any = None,
) -> dict[str, Any]:
    """Run ``runs`` seeded MD runs at each temperature; a blow-up is a result, never an exception.
    With ``model`` (a DimeNet++ model) the runs of one temperature advance together, one batched
    model call per step (:mod:`crosstrain.md.replicas`); ``calc_factory`` is then unused."""
    out: dict[str, Any] = {"settings": {**settings.__dict__}, "by_temperature": {}, "batched": model is not None}
    for t in temperatures:
        seeds = [settings.seed + 1000 * k + int(t) for k in range(runs)]
        base = replace(settings, temperature=float(t), trajectory=None)
        if model is not None:
            from crosstrain.md.replicas import run_replicas

            results = run_replicas(atoms, model, base, seeds)
        else:
            results = [run_md(atoms, calc_factory(), replace(base, seed=seed)) for seed in seeds]
        stable = [r.stable for r in results]
        failed_times = [r.time_ps for r in results if not r.stable]
        out["by_temperature"][f"{t:g}"] = {
            "fraction_stable": float(np.mean(stable)),
            "mean_time_to_failure_ps": float(np.mean(failed_times)) if failed_times else None,
            "runs": [r.to_dict() | {"temperatures": None} for r in results],
        }
        if progress:
            print(f"{t:g} K: {sum(stable)}/{runs} stable")
    fractions = [v["fraction_stable"] for v in out["by_temperature"].values()]
    out["fraction_stable"] = float(np.mean(fractions))
    return out
