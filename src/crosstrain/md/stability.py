"""The stability harness: K independent MD runs per temperature; fraction stable, time to failure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from ase import Atoms

from crosstrain.md.run import MDSettings, run_md


def stability(
    atoms: Atoms, calc_factory: Any, temperatures: list[float], runs: int, settings: MDSettings, progress: bool = False
) -> dict[str, Any]:
    """Run ``runs`` seeded MD runs at each temperature; a blow-up is a result, never an exception."""
    out: dict[str, Any] = {"settings": {**settings.__dict__}, "by_temperature": {}}
    for t in temperatures:
        results = []
        for k in range(runs):
            s = replace(settings, temperature=float(t), seed=settings.seed + 1000 * k + int(t), trajectory=None)
            results.append(run_md(atoms, calc_factory(), s))
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
