"""Evaluating a model on a data set, and fitting the per-element mean energy shift."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from crosstrain.model.base import AtomisticModel
from crosstrain.model.derivatives import Prediction, predict
from crosstrain.train.batches import Batch, Dataset
from crosstrain.train.loss import ErrorSums
from crosstrain.train.records import Metrics


def predictions(
    model: AtomisticModel, data: Dataset, batch_size: int = 8, *, stress: bool = False, rank: int = 0, world: int = 1
) -> Iterator[tuple[Prediction, Batch]]:
    device = next(model.parameters()).device
    for indices, _ in data.batches(batch_size, seed=None, rank=rank, world=world):
        if not indices:
            continue
        batch = data.batch(indices, dtype=model.dtype, device=device)
        want_stress = stress and batch.stress is not None and bool(batch.graph.pbc.all())
        yield predict(model, batch.graph, compute_forces=True, compute_stress=want_stress), batch


def _group_labels(data: Dataset, indices: list[int], key: str) -> list[str] | None:
    values = [data.structures[i].info.get(key) for i in indices]
    if all(v is None for v in values):
        return None
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in values]


def evaluate(
    model: AtomisticModel,
    data: Dataset,
    batch_size: int = 8,
    *,
    by: tuple[str, ...] = ("group", "temperature"),
    rank: int = 0,
    world: int = 1,
) -> Metrics:
    """Energy (meV/atom), force (eV/Å) and stress (GPa) errors, overall and per ``by`` key."""
    model.eval()
    totals = {key: ErrorSums() for key in ("all", *by)}
    for pred, batch in predictions(model, data, batch_size, stress=True, rank=rank, world=world):
        totals["all"].add(pred, batch)
        for key in by:
            labels = _group_labels(data, batch.indices, key)
            if labels is not None:
                totals[key].add(pred, batch, labels)
    out = totals["all"].metrics()
    for key in by:
        if totals[key].by_group:
            groups = {g: s.metrics() for g, s in sorted(totals[key].by_group.items(), key=_sort_key)}
            if key == "group":
                out = replace(out, by_group=groups)
            elif key == "temperature":
                out = replace(out, by_temperature=groups)
            else:
                raise ValueError(f"evaluate: no breakdown by {key!r} (group or temperature)")
    return out


def _sort_key(item: tuple[str, Any]) -> tuple[int, float | str]:
    try:
        return (0, float(item[0]))
    except ValueError:
        return (1, item[0])


def validation_sums(
    model: AtomisticModel, data: Dataset, batch_size: int, *, rank: int = 0, world: int = 1
) -> ErrorSums:
    sums = ErrorSums()
    for pred, batch in predictions(model, data, batch_size, stress=False, rank=rank, world=world):
        sums.add(pred, batch)
    return sums


def fit_energy_shift(model: AtomisticModel, data: Dataset, batch_size: int = 8) -> dict[str, float]:
    """Least-squares per-element shifts δ_Z so that E_model + Σ_Z n_Z δ_Z matches the reference
    energies; applied to the model in place. Returns the shifts added (eV/atom per element)."""
    from ase.data import chemical_symbols

    species = sorted(data.numbers)
    rows, residual = [], []
    device = next(model.parameters()).device
    with torch.no_grad():
        for indices, _ in data.batches(batch_size):
            batch = data.batch(indices, dtype=model.dtype, device=device)
            if batch.energy is None:
                raise ValueError("fitting the energy shift needs reference energies")
            energy = model(batch.graph).double().cpu().numpy()
            residual += (batch.energy.cpu().numpy() - energy).tolist()
            for i in indices:
                z = data.structures[i].numbers
                rows.append([float((z == s).sum()) for s in species])
    shifts, *_ = np.linalg.lstsq(np.array(rows), np.array(residual), rcond=None)
    with torch.no_grad():
        for s, delta in zip(species, shifts):
            model.energy_shift[s] += float(delta)
    return {chemical_symbols[s]: float(d) for s, d in zip(species, shifts)}
