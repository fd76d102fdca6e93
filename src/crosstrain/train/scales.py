"""The ``rescaled`` strategy's scales: a length scale s_L and an energy scale s_E per mapped element.

The target element is modelled as the source seen through a magnifying glass: the model reads
target lengths × s_L as source lengths and multiplies the source's energies by s_E, so

    E_t(r) = s_E · E_s(s_L r),   F_t = s_E s_L · F_s,   σ_t = s_E s_L³ · σ_s.

Both are fitted on the target training data by least squares. With ``transfer.scale_fit:
forces`` (the default) the fit matches the target forces (F_target ≈ s_E · F_model); with
``loss`` it minimises the training loss itself (the terms and stage-one weights of
``train.loss``, :mod:`crosstrain.train.loss`, energies and stress included). For a candidate s_L
the model is evaluated once on the scaled geometry; the loss is then a quadratic function of
s_E and of the per-element reference energies (energies, forces and stress are linear in s_E),
so the best s_E has a closed form, a weighted linear least-squares fit. s_L is the candidate with
the lowest loss on a grid (see :func:`estimate_scales`). On mlearn Ge from 22 structures
``loss`` gave the same forces after fine-tuning and worse energies (the record
``benchmarks/dft-transfer/dft_transfer5_loss_scales.json``), so ``forces`` stays the default.

Two parameters need far fewer labels than a large training set holds: above ``_SAMPLE_COMPONENTS``
force components the search evaluates a deterministic subsample stratified by group
(:func:`scale_sample`), on neighbour lists cut to each candidate's cutoff, with a coarser grid
refined by halving steps. Smaller data are evaluated whole on the full grid, as before this
existed, so their scales stay bit for bit. On all 206 mlearn Ge training structures it fits the
same s_L as the whole data within the grid step in a fraction of the time (the record
``benchmarks/dft-transfer/scale_search.json``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from crosstrain.config import Config
from crosstrain.data.splits import families
from crosstrain.errors import ConfigError
from crosstrain.io.checkpoint import Checkpoint
from crosstrain.model.base import AtomisticModel
from crosstrain.model.derivatives import predict
from crosstrain.species import symbol, to_atomic_number
from crosstrain.structure import Structure
from crosstrain.train.batches import Dataset
from crosstrain.train.loss import EV_PER_A3_IN_GPA

_SMALLEST_LENGTH = 0.83  # the wide neighbour list serves every candidate s_L down to this
#: the fit cannot tell length scales apart when every candidate on the grid explains the labels
#: to within this fraction of their mean square (e.g. one sheared crystal: one force pattern
#: that any s_L reproduces with a matching s_E); assumed
_FLAT = 1e-3
#: the search evaluates data of at most this many force components whole, on the full grid (every
#: published few-structure run is below: 50 mlearn structures of 64 atoms have 9,600), and larger
#: data through a stratified subsample of about this size: thousands of labels for two parameters
_SAMPLE_COMPONENTS = 10_000
_SAMPLE_SEED = 0  # the subsample's order within each group (fixed: the training seed never moves the scales)
_GRID_STEP = 0.02  # the coarse grid of whole data
_SAMPLE_GRID_STEP = 0.04  # the coarse grid of a subsample, refined by halving steps to 0.005


def nearest_neighbour_distance(data: Dataset) -> float:
    """Median over structures of the median nearest-neighbour distance (Å)."""
    values = []
    for s, t in zip(data.structures, data.topologies):
        if t.n_edges == 0:
            continue
        vec = s.positions[t.neighbours] - s.positions[t.centers] + t.shifts @ s.cell
        d = np.linalg.norm(vec, axis=1)
        nearest = np.full(len(s), np.inf)
        np.minimum.at(nearest, t.centers, d)
        values.append(float(np.median(nearest[np.isfinite(nearest)])))
    if not values:
        raise ConfigError(f"{data.name}: no atom has a neighbour within the cutoff; cannot estimate a length scale")
    return float(np.median(values))


def data_stats(data: Dataset) -> dict[str, dict[str, float]]:
    """Per-element statistics a child model may need for ``rescaled`` transfer."""
    stats = {}
    for z in sorted(data.numbers):
        sub = [i for i, s in enumerate(data.structures) if (s.numbers == z).all()]
        if not sub:
            continue
        stats[symbol(z)] = {"nn_distance": nearest_neighbour_distance(data.subset(sub))}
    return stats


def scale_sample(structures: Sequence[Structure], *, budget: int | None = None) -> list[int]:
    """Indices of the structures the scale search evaluates: all of them when their force components
    fit ``budget`` (default ``_SAMPLE_COMPONENTS``); else a deterministic subsample stratified by
    ``info["group"]`` (structures without one form one stratum). Each stratum is taken in a seeded
    order that visits every family (:func:`~crosstrain.data.splits.families`: symmetry twins, a
    block of MD snapshots) once before any twice; the strata are interleaved in proportion to their
    sizes, and structures are taken in that order while their force components fit the budget (at
    least one structure)."""
    budget = _SAMPLE_COMPONENTS if budget is None else budget
    sizes = [3 * len(s) for s in structures]
    if sum(sizes) <= budget:
        return list(range(len(structures)))
    family = families(structures)
    rng = np.random.default_rng(_SAMPLE_SEED)
    strata: dict[str, list[int]] = {}
    for i, s in enumerate(structures):
        strata.setdefault(str(s.info.get("group", "")), []).append(i)
    queue: list[tuple[float, str, int]] = []
    for name in sorted(strata):
        members = [strata[name][k] for k in rng.permutation(len(strata[name]))]
        seen: Counter[int] = Counter()
        visit = []
        for i in members:
            visit.append(seen[family[i]])
            seen[family[i]] += 1
        order = sorted(range(len(members)), key=lambda k: (visit[k], k))
        queue += [((rank + 0.5) / len(members), name, members[k]) for rank, k in enumerate(order)]
    taken: list[int] = []
    for _, _, i in sorted(queue):
        if taken and budget - sizes[i] < 0:
            break
        taken.append(i)
        budget -= sizes[i]
    return sorted(taken)


def _within_cutoff(data: Dataset, model: AtomisticModel) -> Dataset:
    """``data`` with only the edges within the model's cutoff at its current length scales. The
    edges beyond contribute exactly nothing (the envelope is zero there), so the predictions are
    the wide list's to float rounding, at a fraction of the cost."""
    scale = model.length_scale.detach().double().cpu().numpy()
    out = data.subset(range(len(data)))
    out.topologies = []
    for s, t in zip(data.structures, data.topologies):
        vec = s.positions[t.neighbours] - s.positions[t.centers] + t.shifts @ s.cell
        z = s.numbers
        scaled = np.linalg.norm(vec, axis=1) * np.sqrt(scale[z[t.centers]] * scale[z[t.neighbours]])
        keep = scaled < model.config.cutoff * (1 + 1e-6)  # the margin keeps every edge float32 sees inside
        out.topologies.append(t.keep(keep))
    return out


@dataclass
class NormalEquations:
    """Σ w a aᵀ, Σ w a b and Σ w b² of a weighted linear least-squares problem in x = (s_E, c_z...):
    minimise Σ_rows w (a·x − b)²; c_z are the reference energies of the elements in ``elements``."""

    elements: tuple[int, ...]
    ata: np.ndarray
    atb: np.ndarray
    btb: float = 0.0

    @classmethod
    def empty(cls, elements: tuple[int, ...]) -> NormalEquations:
        k = 1 + len(elements)
        return cls(elements, np.zeros((k, k)), np.zeros(k))

    def add(self, a: np.ndarray, b: np.ndarray, weight: float) -> None:
        """Rows ``a`` (m, k) with targets ``b`` (m,), each with ``weight``."""
        self.ata += weight * a.T @ a
        self.atb += weight * a.T @ b
        self.btb += weight * float(b @ b)

    def loss(self, x: np.ndarray) -> float:
        return float(self.btb - 2 * x @ self.atb + x @ self.ata @ x)

    def solve(self, energy_scale: float | None = None) -> tuple[np.ndarray, float]:
        """The minimiser (s_E first; or with s_E fixed at ``energy_scale``) and its loss."""
        if energy_scale is None:
            x = np.linalg.lstsq(self.ata, self.atb, rcond=None)[0]
        else:
            rest = np.linalg.lstsq(self.ata[1:, 1:], self.atb[1:] - self.ata[1:, 0] * energy_scale, rcond=None)[0]
            x = np.concatenate([[energy_scale], rest])
        return x, self.loss(x)


def loss_equations(
    model: AtomisticModel, data: Dataset, config: Config, *, whole_loss: bool | None = None
) -> NormalEquations:
    """The training loss (terms and stage-one weights of ``config.train``; only its force term
    unless ``whole_loss``, by default ``transfer.scale_fit: loss``) on ``data`` as a quadratic in
    (s_E, reference energies), from one evaluation of ``model`` at s_E = 1."""
    cfg = config.train
    elements = tuple(sorted(data.numbers))
    eq = NormalEquations.empty(elements)
    if whole_loss is None:
        whole_loss = config.transfer.scale_fit == "loss"
    with_energy = whole_loss and cfg.loss in ("energy_forces", "energy_forces_stress")
    with_stress = whole_loss and cfg.loss == "energy_forces_stress"
    n_components = 3 * sum(len(s) for s in data.structures)
    device = next(model.parameters()).device
    for indices, _ in data.batches(cfg.batch_size):
        batch = data.batch(indices, dtype=model.dtype, device=device)
        pred = predict(model, batch.graph, compute_stress=with_stress and batch.stress is not None)
        if batch.forces is None:
            raise ConfigError(f"{data.name}: rescaled transfer needs force labels")
        forces = pred.forces.detach().double().cpu().numpy().reshape(-1, 1)
        ref = batch.forces.double().cpu().numpy().ravel()
        eq.add(_pad(forces, len(elements)), ref, cfg.forces_weight / n_components)
        if with_energy and batch.energy is not None:
            n = batch.graph.n_atoms.double().cpu().numpy()
            counts = np.array([[(data.structures[i].numbers == z).sum() for z in elements] for i in indices])
            a = np.column_stack([pred.energy.detach().double().cpu().numpy() / n, counts / n[:, None]])
            eq.add(a, batch.energy.double().cpu().numpy() / n, cfg.energy_weight / len(data))
        if with_stress and batch.stress is not None and pred.stress is not None:
            s = pred.stress.detach().double().cpu().numpy().reshape(-1, 1) * EV_PER_A3_IN_GPA
            ref = batch.stress.double().cpu().numpy().ravel() * EV_PER_A3_IN_GPA
            eq.add(_pad(s, len(elements)), ref, cfg.stress_weight / (9 * len(data)))
    return eq


#: one candidate's (loss, s_L, s_E, loss over what the reference energies alone leave unexplained)
Score = tuple[float, float, float, float]


def _flat(scores: list[Score]) -> bool:
    """Every candidate with a positive energy scale explains the labels to within ``_FLAT``: the loss
    cannot tell them apart (a sign change of s_E rules lengths out; it does not pick one)."""
    finite = [sc[3] for sc in scores if np.isfinite(sc[3])]
    return bool(finite) and max(finite) < _FLAT


def _search_length(
    score: Callable[[float, bool], Score],
    ratio: float | None,
    whole_loss: bool,
    loss_name: str,
    *,
    step: float,
    floor: float = _SMALLEST_LENGTH,
) -> tuple[Score, bool, str, str]:
    """The grid search of :func:`estimate_scales`: (best score, whole loss used, how, why). On the
    coarse grid of ``step`` (with 1 and the ratio); the best point refined to 0.005 on every point
    within 0.02 (``step`` 0.02, the whole data's search) or by halving steps (coarser grids), never
    below ``floor``, the smallest scale the shared neighbour list serves (a candidate below it would
    miss edges)."""
    grid = np.round(np.arange(0.85, 1.1501, step), 6).tolist() + [1.15]
    coarse = sorted({1.0, round(ratio or 1.0, 6), *grid})
    scores = [score(x, whole_loss) for x in coarse]
    why = ""
    if not whole_loss and loss_name != "forces" and _flat(scores):
        whole_loss, why = True, "; the forces fit every length alike, so the whole training loss was used"
        scores = [score(x, whole_loss) for x in coarse]
    flat = _flat(scores)
    if flat and ratio is not None:  # the data cannot fix s_L: take the structural estimate (on the grid)
        best = next(sc for sc in scores if sc[1] == round(ratio, 6))
        if np.isfinite(best[0]):
            return (
                best,
                whole_loss,
                f"length from the nearest-neighbour distances ({ratio:.4f}): the loss is flat in it",
                why,
            )
    best = min(scores)
    if step == _GRID_STEP:
        fine = np.round(best[1] + np.arange(-0.02, 0.0201, 0.005), 6).tolist()
        best = min([best, *(score(x, whole_loss) for x in fine if x >= floor)])
    else:
        for h in 2.0 ** -np.arange(1, 4) * step:  # 0.02, 0.01, 0.005 for 0.04
            near = [round(best[1] + d, 6) for d in (-h, h)]  # never below what the wide list serves
            best = min([best, *(score(x, whole_loss) for x in near if x >= floor)])
    ref = f"nearest-neighbour ratio {ratio:.4f} for reference" if ratio is not None else "no recorded ratio"
    refined = "refined to 0.005" if step == _GRID_STEP else f"(step {step:g}) refined to 0.005 by halving steps"
    how = f"length by the training loss on a grid over 0.85-1.15 {refined} ({ref})"
    return best, whole_loss, how + ("; the loss is flat in it" if flat else ""), why


def _pad(column: np.ndarray, zeros: int) -> np.ndarray:
    return np.hstack([column, np.zeros((len(column), zeros))])


def apply_scales(
    model: AtomisticModel, parent: Checkpoint, element_map: dict[str, str], *, data: Dataset, config: Config
) -> dict[str, Any]:
    """Set the ``rescaled`` length and energy scales of each mapped element (see :func:`estimate_scales`)."""
    out: dict[str, Any] = {}
    for target, source in element_map.items():
        length, energy, how = estimate_scales(model, parent, target=target, source=source, data=data, config=config)
        zt = to_atomic_number(target)
        zs = to_atomic_number(source)
        with torch.no_grad():
            model.length_scale[zt] = model.length_scale[zs] * length
            model.energy_scale[zt] = model.energy_scale[zs] * energy
            model.energy_shift[zt] = model.energy_shift[zs] * energy
        out[target] = {"length_scale": length, "energy_scale": energy, "how": how}
    return {"scales": out}


def estimate_scales(
    model: AtomisticModel, parent: Checkpoint, *, target: str, source: str, data: Dataset, config: Config
) -> tuple[float, float, str]:
    """Length scale s_L (target lengths × s_L look like source lengths) and energy scale s_E.

    For a candidate s_L the best s_E is the least-squares minimiser of the training loss (module
    docstring). s_L is chosen by that loss on the target training data, on a grid over 0.85-1.15
    that contains 1 (no rescaling) and the ratio of nearest-neighbour distances (source, from the
    parent's recorded data statistics, over target), refined to 0.005. So on those data the
    zero-shot model is never worse than ``full`` with a fitted energy scale. Where the force labels
    fit every candidate alike, the whole loss decides; where that is flat too, the ratio. Either
    scale may be given. Large data are represented by a stratified subsample (:func:`scale_sample`).
    """
    zt, zs = to_atomic_number(target), to_atomic_number(source)
    given_length, given_energy = config.transfer.length_scale, config.transfer.energy_scale
    base_length = float(model.length_scale[zs])
    stats = parent.meta.data_stats.get(source)
    ratio = stats["nn_distance"] / nearest_neighbour_distance(data) if stats and given_length is None else None
    sample = scale_sample(data.structures)
    part = data if len(sample) == len(data) else data.subset(sample)
    # one neighbour list wide enough for the smallest candidate scale: edges beyond a candidate's
    # scaled cutoff contribute exactly nothing, so every candidate can share it
    # (and for the refinement around a ratio below the grid: up to 0.02 below it)
    smallest = min(_SMALLEST_LENGTH, given_length or 1.0, (ratio or 1.0) - 0.02)
    wide_cutoff = model.config.cutoff / min(1.0, base_length * smallest)
    wide = part if wide_cutoff <= data.cutoff else Dataset(part.structures, wide_cutoff, data.name)
    subsampled = part is not data
    score = _scorer(model, wide, config, target=zt, base=base_length, energy=given_energy, cut=subsampled)
    whole_loss = config.transfer.scale_fit == "loss"
    if given_length is not None:
        best, how, why = score(float(given_length), whole_loss), "length given", ""
    else:
        step = _SAMPLE_GRID_STEP if subsampled else _GRID_STEP
        best, whole_loss, how, why = _search_length(
            score, ratio, whole_loss, config.train.loss, step=step, floor=smallest
        )
    loss, length, energy, _ = best
    if not np.isfinite(loss):
        raise ConfigError(
            "the parent's forces do not correlate with the target's at any length scale; give transfer.energy_scale"
        )
    with torch.no_grad():
        model.length_scale[zt] = base_length  # apply_scales sets the final values
    terms = {"forces": "forces", "energy_forces": "energies and forces"}.get(
        config.train.loss if whole_loss else "forces", "energies, forces and stress"
    )
    how += "; energy " + ("given" if given_energy is not None else f"by least squares on the loss ({terms})") + why
    if subsampled:
        how += f"; fitted on a subsample of {len(part)} of the {len(data)} training structures (stratified by group)"
    return float(length), float(energy), how + f"; training loss {loss:.4g} at the start" + " there" * subsampled


def _scorer(
    model: AtomisticModel, data: Dataset, config: Config, *, target: int, base: float, energy: float | None, cut: bool
) -> Callable[[float, bool], Score]:
    """The score of a candidate s_L on ``data`` (each candidate evaluated once). Data the search
    subsampled are evaluated on neighbour lists cut to each candidate's cutoff; whole data on the
    wide list itself, so that their scales stay bit for bit what they were."""
    done: dict[tuple[float, bool], Score] = {}

    def score(length: float, whole: bool) -> Score:
        if (length, whole) in done:
            return done[length, whole]
        with torch.no_grad():
            model.length_scale[target] = base * length
        eq = loss_equations(model, _within_cutoff(data, model) if cut else data, config, whole_loss=whole)
        x, loss = eq.solve(energy)
        if x[0] <= 0 and energy is None:
            done[length, whole] = (np.inf, length, float(x[0]), np.inf)
        else:
            baseline = eq.solve(0.0)[1]  # what the reference energies alone leave unexplained
            done[length, whole] = (loss, length, float(x[0]), loss / max(baseline, 1e-300))
        return done[length, whole]

    return score
