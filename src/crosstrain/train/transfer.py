"""Initialising a target-element model: a closed, named set of strategies.

``scratch``  random initialisation (the baseline); the same pipeline with no parent.
``full``     the paper's transfer: every parameter from the parent; each new element gets the
             embedding row, energy shift and scales of the element it is mapped to; all train.
``rescaled`` ``full`` plus a length scale and an energy scale that map the target element onto
             the source, so the parent is already a good zero-shot potential (see
             :func:`estimate_scales`).
``freeze``   ``full`` with the interaction blocks frozen (embedding and output blocks train).
``l2sp``     ``full`` plus the penalty α‖θ − θ_parent‖² towards the parent's weights.
``replay``   ``full`` trained on the target data plus a share of the parent's own data
             (``transfer.replay_ratio`` source structures per target structure), so that one
             model keeps the source element and learns the target (see :func:`replay_sample`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from crosstrain.config import Config
from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.io.checkpoint import Checkpoint, Parent, file_sha256
from crosstrain.model.derivatives import predict
from crosstrain.model.dimenet import DimeNetPP
from crosstrain.species import SpeciesMap, symbol, to_atomic_number
from crosstrain.train.batches import Dataset

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


Penalty = Callable[[torch.nn.Module], torch.Tensor]


def l2sp_penalty(model: torch.nn.Module, alpha: float) -> Penalty:
    """α‖θ − θ_start‖² over the trainable parameters, θ_start taken from ``model`` now."""
    reference = {k: v.detach().clone() for k, v in model.named_parameters()}

    def penalty(m: torch.nn.Module) -> torch.Tensor:
        return alpha * sum((p - reference[k]).pow(2).sum() for k, p in m.named_parameters() if p.requires_grad)

    return penalty


@dataclass
class Initialised:
    """A model ready for training, with what training needs to know about its origin."""

    model: DimeNetPP
    parent: Parent
    penalty: Penalty | None = None  # a term added to every step's loss (l2sp)
    info: dict[str, Any] = field(default_factory=dict)


def parse_element_map(items: list[str] | None) -> dict[str, str]:
    """``["Ge=Si"]`` -> ``{"Ge": "Si"}`` (target = source), validated as element symbols."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise SpeciesError(f"element map {item!r} must look like Ge=Si (target=source)")
        target, source = (symbol(to_atomic_number(x.strip())) for x in item.split("=", 1))
        out[target] = source
    return out


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


def _check_architecture(config: Config, parent: Checkpoint) -> None:
    mine, theirs = config.model.to_dict(), parent.model.config.to_dict()
    diffs = [k for k in mine if mine[k] != theirs[k] and k != "output_init"]
    if diffs:
        detail = ", ".join(f"{k}: config {mine[k]} vs parent {theirs[k]}" for k in diffs)
        raise ConfigError(
            f"the parent's architecture differs from the configuration ({detail}); "
            "drop the model settings or use the parent's (transfer keeps the parent's architecture)"
        )


def initialise(
    config: Config,
    elements: set[int],
    parent: Checkpoint | None = None,
    element_map: dict[str, str] | None = None,
    data: Dataset | None = None,
) -> Initialised:
    """The starting model for ``config.transfer.strategy`` on data containing ``elements``."""
    strategy = config.transfer.strategy
    dtype = _DTYPES[config.train.dtype]
    torch.manual_seed(config.train.seed)
    if strategy == "scratch":
        model = DimeNetPP(config.model, SpeciesMap(tuple(sorted(elements)))).to(dtype)
        return Initialised(model, Parent(), info={"strategy": "scratch"})
    if parent is None:
        raise ConfigError(f"strategy {strategy!r} needs a parent model (--from)")
    _check_architecture(config, parent)
    model = parent.model.to(dtype)
    element_map = dict(element_map or {})
    for target, source in element_map.items():
        if to_atomic_number(source) not in model.species:
            raise SpeciesError(
                f"--map {target}={source}: the parent model has no {source} "
                f"(parent elements: {', '.join(model.species.symbols)})"
            )
    missing = sorted(z for z in elements if z not in model.species and symbol(z) not in element_map)
    if missing:
        names = ", ".join(symbol(z) for z in missing)
        raise SpeciesError(
            f"the data contain {names}, which the parent model does not know; "
            f"map it onto a parent element, e.g. --map {symbol(missing[0])}="
            f"{model.species.symbols[0]}"
        )
    for target, source in element_map.items():
        model.copy_element(target, source)
    info: dict[str, Any] = {"strategy": strategy, "element_map": element_map}
    if strategy == "rescaled":
        if data is None:
            raise ConfigError("rescaled transfer needs the target training data")
        info.update(apply_scales(model, parent, element_map, data, config))
    if strategy == "freeze":
        for p in model.interactions.parameters():
            p.requires_grad_(False)
        info["frozen"] = "interaction blocks"
    penalty = None
    if strategy == "l2sp":
        penalty = l2sp_penalty(model, config.transfer.l2sp_alpha)
        info["l2sp_alpha"] = config.transfer.l2sp_alpha
    parent_link = Parent(
        sha256=file_sha256(parent.path) if parent.path else "",
        strategy=strategy,
        path=str(parent.path or ""),
        element_map=element_map,
    )
    return Initialised(model, parent_link, penalty, info)


def apply_scales(
    model: DimeNetPP, parent: Checkpoint, element_map: dict[str, str], data: Dataset, config: Config
) -> dict[str, Any]:
    """Set the ``rescaled`` length and energy scales of each mapped element (see :func:`estimate_scales`)."""
    out: dict[str, Any] = {}
    for target, source in element_map.items():
        length, energy, how = estimate_scales(model, parent, target, source, data, config)
        zt = to_atomic_number(target)
        zs = to_atomic_number(source)
        with torch.no_grad():
            model.length_scale[zt] = model.length_scale[zs] * length
            model.energy_scale[zt] = model.energy_scale[zs] * energy
            model.energy_shift[zt] = model.energy_shift[zs] * energy
        out[target] = {"length_scale": length, "energy_scale": energy, "how": how}
    return {"scales": out}


def estimate_scales(
    model: DimeNetPP, parent: Checkpoint, target: str, source: str, data: Dataset, config: Config
) -> tuple[float, float, str]:
    """Length scale s_L (target lengths × s_L look like source lengths) and energy scale s_E.

    For a candidate s_L the best s_E has a closed form: the least-squares factor matching the
    target forces with the parent evaluated on the scaled geometry (F_target ≈ s_E · F_model).
    s_L is chosen by the resulting force error on the target training data, on a grid over
    0.85-1.15 that contains 1 (no rescaling) and the ratio of nearest-neighbour distances
    (source, from the parent's recorded data statistics, over target), refined to 0.005. So on
    those data the zero-shot model is never worse than ``full`` with a fitted energy scale.
    Either scale may be given.
    """
    zt, zs = to_atomic_number(target), to_atomic_number(source)
    given_length, given_energy = config.transfer.length_scale, config.transfer.energy_scale
    base_length = float(model.length_scale[zs])
    # one neighbour list wide enough for the smallest candidate scale (0.83): edges beyond a
    # candidate's scaled cutoff contribute exactly nothing, so every candidate can share it
    wide_cutoff = model.config.cutoff / min(1.0, base_length * min(0.83, given_length or 1.0))
    wide = data if wide_cutoff <= data.cutoff else Dataset(data.structures, wide_cutoff, data.name)

    def score(length: float) -> tuple[float, float, float]:
        with torch.no_grad():
            model.length_scale[zt] = base_length * length
        if given_energy is not None:
            return _force_mse(model, wide, config, float(given_energy)), length, float(given_energy)
        energy, mse = _fit_energy_scale(model, wide, config)
        return mse, length, energy

    if given_length is not None:
        best = score(float(given_length))
        how = "length given"
    else:
        stats = parent.metadata.get("data_stats", {}).get(source)
        ratio = stats["nn_distance"] / nearest_neighbour_distance(data) if stats else 1.0
        coarse = sorted({1.0, round(ratio, 6), *np.round(np.arange(0.85, 1.1501, 0.02), 6).tolist()})
        best = min(score(x) for x in coarse)
        fine = np.round(best[1] + np.arange(-0.02, 0.0201, 0.005), 6).tolist()
        best = min([best, *(score(x) for x in fine if x > 0)])
        how = (
            f"length by force error on a grid over 0.85-1.15 refined to 0.005 "
            f"(nearest-neighbour ratio {ratio:.4f} for reference)"
        )
    mse, length, energy = best
    with torch.no_grad():
        model.length_scale[zt] = base_length  # apply_scales sets the final values
    how += "; energy " + ("given" if given_energy is not None else "by least squares on the target forces")
    return float(length), float(energy), how + f"; force RMSE {mse**0.5:.4f} eV/Å on the target training data"


def _force_sums(model: DimeNetPP, data: Dataset, config: Config) -> tuple[float, float, float, int]:
    fp = ff = tt = 0.0
    n = 0
    for indices, _ in data.batches(config.train.batch_size):
        batch = data.batch(indices, dtype=model.dtype, device=next(model.parameters()).device)
        pred = predict(model, batch.graph).forces.double()
        ref = batch.forces.double()
        fp += float((pred * ref).sum())
        ff += float((pred * pred).sum())
        tt += float((ref * ref).sum())
        n += ref.numel()
    return fp, ff, tt, n


def _fit_energy_scale(model: DimeNetPP, data: Dataset, config: Config) -> tuple[float, float]:
    fp, ff, tt, n = _force_sums(model, data, config)
    if ff == 0:
        raise ConfigError("the parent predicts zero forces on the target data; give transfer.energy_scale")
    scale = fp / ff
    return scale, (tt - 2 * scale * fp + scale * scale * ff) / n


def _force_mse(model: DimeNetPP, data: Dataset, config: Config, scale: float) -> float:
    fp, ff, tt, n = _force_sums(model, data, config)
    return (tt - 2 * scale * fp + scale * scale * ff) / n


def replay_sample(source: list, n_target: int, ratio: float, seed: int) -> list:
    """``ceil(ratio × n_target)`` structures of the parent's data (all of them if fewer), drawn
    with ``seed``: what ``replay`` adds to the target training set."""
    k = min(len(source), max(1, int(np.ceil(ratio * n_target))))
    order = np.random.default_rng(1_000_003 + seed).permutation(len(source))[:k]
    return [source[i] for i in sorted(order.tolist())]
