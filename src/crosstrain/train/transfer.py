"""Initialising a target-element model: a closed, named set of strategies.

``scratch``  random initialisation (the baseline); the same pipeline with no parent.
``full``     the paper's transfer: every parameter from the parent; each new element gets the
             embedding row, energy shift and scales of the element it is mapped to; all train.
``rescaled`` ``full`` plus a length scale and an energy scale that map the target element onto
             the source, so the parent is already a good zero-shot potential (see
             :mod:`crosstrain.train.scales`).
``freeze``   ``full`` with the interaction blocks frozen (embedding and output blocks train).
``l2sp``     ``full`` plus the penalty α‖θ − θ_parent‖² towards the parent's weights.
``replay``   ``full`` trained on the target data plus a share of the parent's own data
             (``transfer.replay_ratio`` source structures per target structure), so that one
             model keeps the source element and learns the target (see :func:`replay_sample`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

from crosstrain.config import Config, Strategy
from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.io.checkpoint import Checkpoint, Parent, file_sha256
from crosstrain.model import architecture_of, build_model
from crosstrain.model.base import AtomisticModel
from crosstrain.pretrained import parent_training_data
from crosstrain.species import SpeciesMap, symbol, to_atomic_number
from crosstrain.structure import Structure
from crosstrain.train.batches import Dataset
from crosstrain.train.scales import apply_scales

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
T = TypeVar("T")


Penalty = Callable[[torch.nn.Module], torch.Tensor]


def l2sp_penalty(model: torch.nn.Module, alpha: float) -> Penalty:
    """α‖θ − θ_start‖² over the trainable parameters, θ_start taken from ``model`` now."""
    reference = {k: v.detach().clone() for k, v in model.named_parameters()}

    def penalty(m: torch.nn.Module) -> torch.Tensor:
        terms = [(p - reference[k]).pow(2).sum() for k, p in m.named_parameters() if p.requires_grad]
        return alpha * torch.stack(terms).sum() if terms else torch.zeros(())

    return penalty


@dataclass
class Initialised:
    """A model ready for training, with what training needs to know about its origin."""

    model: AtomisticModel
    parent: Parent
    penalty: Penalty | None = None  # a term added to every step's loss (l2sp)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What a strategy may use when it prepares the parent's copy."""

    config: Config
    parent: Checkpoint
    element_map: dict[str, str]
    data: Dataset | None


Prepared = tuple[dict[str, Any], Penalty | None]  # what the strategy records, its loss penalty


@dataclass(frozen=True)
class Rule:
    """What one transfer strategy does after the parent's weights are copied and each target
    element got the row of its source element: ``prepare`` changes the model (and may return a
    penalty); ``parent_data`` adds a share of the parent's own structures to the training set."""

    prepare: Callable[[AtomisticModel, Context], Prepared]
    parent_data: Callable[[Config, Checkpoint, list[Structure] | None, int], list[Structure]] | None = None


def _keep(model: AtomisticModel, ctx: Context) -> Prepared:
    return {}, None


def _rescale(model: AtomisticModel, ctx: Context) -> Prepared:
    if ctx.data is None:
        raise ConfigError("rescaled transfer needs the target training data")
    return apply_scales(model, ctx.parent, ctx.element_map, data=ctx.data, config=ctx.config), None


def _freeze(model: AtomisticModel, ctx: Context) -> Prepared:
    for p in model.interaction_parameters():
        p.requires_grad_(False)
    return {"frozen": "interaction blocks"}, None


def _l2sp(model: AtomisticModel, ctx: Context) -> Prepared:
    alpha = ctx.config.transfer.l2sp_alpha
    return {"l2sp_alpha": alpha}, l2sp_penalty(model, alpha)


def _replay_data(config: Config, parent: Checkpoint, given: list[Structure] | None, n_target: int) -> list[Structure]:
    """The parent's structures ``replay`` trains on: from ``given``, else a shipped parent's own."""
    source = given
    if source is None:
        source = parent_training_data(parent.path) if parent.path else None
    if source is None:
        raise ConfigError(
            "the replay strategy needs the parent's data: "
            "give --replay-data FILE (only shipped parents bring their own)"
        )
    return replay_sample(source, n_target, ratio=config.transfer.replay_ratio, seed=config.train.seed)


#: every strategy with a parent; ``scratch`` has none (a new strategy: one entry here, its name and
#: settings in :class:`crosstrain.config.Strategy`, one test)
RULES: dict[Strategy, Rule] = {
    Strategy.FULL: Rule(_keep),
    Strategy.RESCALED: Rule(_rescale),
    Strategy.FREEZE: Rule(_freeze),
    Strategy.L2SP: Rule(_l2sp),
    Strategy.REPLAY: Rule(_keep, parent_data=_replay_data),
}


def parse_element_map(items: list[str] | None) -> dict[str, str]:
    """``["Ge=Si"]`` -> ``{"Ge": "Si"}`` (target = source), validated as element symbols."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise SpeciesError(f"element map {item!r} must look like Ge=Si (target=source)")
        target, source = (symbol(to_atomic_number(x.strip())) for x in item.split("=", 1))
        out[target] = source
    return out


def _check_architecture(config: Config, parent: Checkpoint) -> None:
    wanted, theirs_name = architecture_of(config.model), parent.model.architecture
    if wanted != theirs_name:
        raise ConfigError(
            f"the configuration asks for a {wanted} model but the parent is {theirs_name}: "
            "a transfer keeps the parent's architecture (no transfer between architectures)"
        )
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
    *,
    element_map: dict[str, str] | None = None,
    data: Dataset | None = None,
) -> Initialised:
    """The starting model for ``config.transfer.strategy`` on data containing ``elements``."""
    strategy = config.transfer.strategy
    dtype = _DTYPES[config.train.dtype]
    torch.manual_seed(config.train.seed)
    if not strategy.needs_parent:
        model = build_model(config.model, SpeciesMap(tuple(sorted(elements)))).to(dtype)
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
    fitted, penalty = RULES[strategy].prepare(model, Context(config, parent, element_map, data))
    info: dict[str, Any] = {"strategy": strategy, "element_map": element_map, **fitted}
    parent_link = Parent(
        sha256=file_sha256(parent.path) if parent.path else "",
        strategy=strategy,
        path=str(parent.path or ""),
        element_map=element_map,
    )
    return Initialised(model, parent_link, penalty, info)


def replay_sample(source: list[T], n_target: int, *, ratio: float, seed: int) -> list[T]:
    """``ceil(ratio × n_target)`` structures of the parent's data (all of them if fewer), drawn
    with ``seed``: what ``replay`` adds to the target training set."""
    k = min(len(source), max(1, int(np.ceil(ratio * n_target))))
    order = np.random.default_rng(1_000_003 + seed).permutation(len(source))[:k]
    return [source[i] for i in sorted(order.tolist())]
