"""Temperature transferability (paper Figure 4): per-structure force errors at each temperature."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from crosstrain.model.base import AtomisticModel
from crosstrain.structure import Structure
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import predictions


def per_structure_force_mae(model: AtomisticModel, structures: Sequence[Structure], batch_size: int = 8) -> list[float]:
    """Force MAE (eV/Å) of every structure, in order."""
    data = Dataset(list(structures), model.neighbour_cutoff, "structures")
    out: list[float] = []
    for pred, batch in predictions(model, data, batch_size):
        if batch.forces is None:
            raise ValueError("force errors need force labels")
        err = (pred.forces - batch.forces).abs().double()
        for g in range(batch.graph.n_graphs):
            out.append(float(err[batch.graph.batch == g].mean()))
    return out


def by_temperature(
    models: dict[str, AtomisticModel], structures: Sequence[Structure]
) -> dict[str, dict[str, list[float]]]:
    """``{model name: {temperature: [per-structure force MAE]}}`` using each structure's ``temperature``."""
    groups: dict[str, list[Structure]] = {}
    for s in structures:
        groups.setdefault(f"{float(s.info['temperature']):g}", []).append(s)
    order = sorted(groups, key=float)
    return {name: {t: per_structure_force_mae(m, groups[t]) for t in order} for name, m in models.items()}


def boxplot(result: Mapping[str, Mapping[str, Sequence[float]]], path: str | os.PathLike[str], title: str = "") -> Any:
    """Side-by-side box plots of the force-error distribution per temperature, one colour per model."""
    from crosstrain.report import pyplot

    plt = pyplot()

    from crosstrain.report import save_figure

    names = list(result)
    temps = list(next(iter(result.values())))
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.12 * len(temps) * len(names) + 2)), 4.0))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        pos = np.arange(len(temps)) + (k - (len(names) - 1) / 2) * width
        bp = ax.boxplot(
            [result[name][t] for t in temps], positions=pos, widths=width * 0.9, patch_artist=True, showfliers=False
        )
        for box in bp["boxes"]:
            box.set_facecolor(f"C{k}")
        ax.plot([], [], color=f"C{k}", lw=6, label=name)
    ax.set_xticks(np.arange(len(temps)))
    ax.set_xticklabels(temps, rotation=90 if len(temps) > 12 else 45, fontsize=8 if len(temps) > 12 else None)
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("force MAE per structure (eV/Å)")
    ax.legend()
    if title:
        ax.set_title(title)
    save_figure(fig, path)
    plt.close(fig)
    return path
