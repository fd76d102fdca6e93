"""The library functions behind ``crosstrain train``, ``transfer`` and ``evaluate``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from crosstrain.calculator import resolve_device
from crosstrain.config import Config
from crosstrain.data.extxyz import read_structures
from crosstrain.data.manifest import fingerprint
from crosstrain.errors import ConfigError, DataFileError
from crosstrain.io.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from crosstrain.model.base import AtomisticModel
from crosstrain.pretrained import resolve_model
from crosstrain.structure import Structure
from crosstrain.train.batches import Dataset
from crosstrain.train.distributed import init_from_env
from crosstrain.train.evaluate import evaluate, fit_energy_shift
from crosstrain.train.loop import TrainResult, train
from crosstrain.train.records import EvaluationReport, FitReport, Metrics, ZeroShotReport
from crosstrain.train.scales import data_stats
from crosstrain.train.transfer import RULES, Initialised, initialise

Paths = Sequence[str | os.PathLike[str]]


def read_many(paths: Paths, require: Sequence[str] = ()) -> list[Structure]:
    """Every structure of every file in ``paths`` (extxyz)."""
    out: list[Structure] = []
    for p in paths:
        out += read_structures(p, require=require)
    if not out:
        raise DataFileError("no structures given: the data set is empty")
    return out


def fit(
    config: Config,
    data: Paths | list[Structure],
    out: str | os.PathLike[str],
    *,
    valid: Paths | list[Structure] | None = None,
    parent: str | os.PathLike[str] | None = None,
    element_map: dict[str, str] | None = None,
    source_valid: Paths | list[Structure] | None = None,
    resume: bool = False,
    progress: bool = True,
    replay_data: Paths | list[Structure] | None = None,
) -> tuple[TrainResult, FitReport]:
    """Train from scratch (no ``parent``) or transfer from ``parent`` (a path or the name of a
    shipped model); returns the result and a report with zero-shot, final validation and
    source-retention errors. ``replay`` adds a share of ``replay_data`` (default: the shipped
    parent's own training data) to the training set."""
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    rank, _, device = init_from_env(config.train.device)
    progress = progress and rank == 0
    config = with_request(config, parent, element_map)
    s = start(config, data, replay_data=replay_data, device=device)
    model, train_set, init, parent_ckpt = s.model, s.train_set, s.init, s.parent
    valid_structures = None
    if valid is not None:
        valid_structures = as_structures(valid, ("forces",))
    valid_set = Dataset(valid_structures, model.neighbour_cutoff, name="validation data") if valid_structures else None
    zero = None
    if parent_ckpt is not None:
        zero = evaluate(model, valid_set or train_set, config.train.batch_size, by=())
    metadata = _fit_metadata(config, s, len(valid_structures or []))
    result = train(
        model,
        train_set,
        valid=valid_set,
        cfg=config.train,
        out=out,
        parent=init.parent,
        metadata=metadata,
        penalty=init.penalty,
        resume=resume,
        progress=progress,
    )
    valid_metrics = None if valid_set is None else evaluate(result.model, valid_set, config.train.batch_size, by=())
    retention = None
    if source_valid is not None:
        src = as_structures(source_valid)
        retention = evaluate(
            result.model, Dataset(src, model.neighbour_cutoff, "source validation"), config.train.batch_size, by=()
        )
    report = FitReport(
        init=init.info,
        selected_on="validation data" if valid_set else "training data",
        best_epoch=result.best_epoch,
        stopped=result.stopped,
        seconds=round(result.seconds, 2),
        energy_shift_fit=result.energy_shift,
        checkpoint=str(result.checkpoint),
        zero_shot=zero,
        valid=valid_metrics,
        retention=retention,
    )
    return result, report


def _fit_metadata(config: Config, s: Start, n_valid: int) -> dict[str, Any]:
    """What a fitted checkpoint records about its data, its start and its configuration."""
    return {
        "data_fingerprint": fingerprint(s.structures),
        "data_stats": {**(s.parent.meta.data_stats if s.parent else {}), **data_stats(s.train_set)},
        "transfer": s.init.info,
        "config": config.to_dict(),
        "n_train": len(s.structures),
        "n_replay": s.n_replay,
        "n_valid": n_valid,
    }


@dataclass
class Start:
    """A model ready to train: initialised by its strategy, reference energies fitted."""

    model: AtomisticModel
    init: Initialised
    train_set: Dataset
    structures: list[Structure]
    parent: Checkpoint | None
    n_replay: int = 0


def start(
    config: Config,
    data: Paths | list[Structure],
    parent: str | os.PathLike[str] | None = None,
    *,
    element_map: dict[str, str] | None = None,
    replay_data: Paths | list[Structure] | None = None,
    device: str | torch.device = "cpu",
) -> Start:
    """The initial model of the transfer request ``config.transfer`` (``parent`` and
    ``element_map`` given here take precedence) on ``data`` (see :func:`fit`), with the
    per-element reference energies fitted by least squares on the training data: the same start
    for scratch and every transfer strategy. ``scratch`` never loads the parent."""
    config = with_request(config, parent, element_map)
    request = config.transfer
    parent_ckpt = load_checkpoint(resolve_model(request.parent)) if request.parent is not None else None
    structures = as_structures(data, ("forces",))
    n_given = len(structures)
    rule = RULES.get(request.strategy)
    if rule is not None and rule.parent_data is not None and parent_ckpt is not None:
        given = as_structures(replay_data, ("forces",)) if replay_data is not None else None
        structures += rule.parent_data(config, parent_ckpt, given, n_given)
    cutoff = parent_ckpt.model.config.cutoff if parent_ckpt is not None else config.model.cutoff
    train_set = Dataset(structures, cutoff, name="training data")
    init = initialise(config, train_set.numbers, parent_ckpt, element_map=request.element_map, data=train_set)
    model = init.model.to(resolve_device(device))
    if model.neighbour_cutoff > cutoff:  # rescaled lengths: the network sees farther in real space
        train_set = Dataset(structures, model.neighbour_cutoff, name="training data")
    if all(s.energy is not None for s in structures):
        init.info["energy_reference_fit"] = fit_energy_shift(model, train_set, config.train.batch_size)
    return Start(model, init, train_set, structures, parent_ckpt, len(structures) - n_given)


def zero_shot_report(
    config: Config,
    data: Paths | list[Structure],
    out: str | os.PathLike[str],
    *,
    parent: str | os.PathLike[str] | None = None,
    element_map: dict[str, str] | None = None,
    test: Paths | list[Structure] | None = None,
) -> ZeroShotReport:
    """The transferred model before any training step (its strategy's fits on ``data`` done),
    saved to ``out`` and evaluated on ``test``: the honest zero-shot baseline."""
    s = start(config, data, parent, element_map=element_map)
    if s.parent is None:
        raise ConfigError("a zero-shot model is a transferred start: give a transfer strategy and a parent")
    save_checkpoint(
        s.model,
        out,
        parent=s.init.parent,
        training={"zero_shot": True, **config.to_dict()["train"]},
        data_fingerprint=fingerprint(s.structures),
        extra={"transfer": s.init.info, "stopped": "zero-shot: no training step", "n_train": len(s.structures)},
    )
    metrics = None
    if test is not None:
        structures = as_structures(test, ("forces",))
        metrics = evaluate(s.model, Dataset(structures, s.model.neighbour_cutoff, "test data"), by=())
    return ZeroShotReport(init=s.init.info, checkpoint=str(out), test=metrics)


def with_request(
    config: Config, parent: str | os.PathLike[str] | None = None, element_map: dict[str, str] | None = None
) -> Config:
    """``config`` with the parent and element map of this call (where given) in its transfer
    request; ``scratch`` drops both, any other strategy needs a parent."""
    request = config.transfer
    parent_name = str(parent) if parent is not None else request.parent
    mapping = dict(element_map) if element_map is not None else request.element_map
    if not request.strategy.needs_parent:
        parent_name, mapping = None, {}
    elif parent_name is None:
        raise ConfigError(f"strategy {request.strategy.value!r} needs a parent model (--from or transfer.parent)")
    return replace(config, transfer=replace(request, parent=parent_name, element_map=mapping))


def as_structures(x: Paths | list[Structure], require: Sequence[str] = ()) -> list[Structure]:
    """Structures given as such (a copy of the list), or read from extxyz files."""
    if isinstance(x, list) and x and isinstance(x[0], Structure):
        return list(x)  # a list of Structures, checked above
    return read_many(x, require=require)  # type: ignore[arg-type]  # paths


def evaluate_checkpoint(checkpoint: str | os.PathLike[str], data: Paths, batch_size: int = 8) -> EvaluationReport:
    """Errors of a saved model on each data file and on all of them together."""
    ck = load_checkpoint(resolve_model(checkpoint))
    model = ck.model
    files: dict[str, Metrics] = {}
    everything = []
    for p in data:
        structures = read_structures(p)
        for s in structures:
            model.species.check(s.numbers, source=s.source)
        everything += structures
        files[str(p)] = evaluate(model, Dataset(structures, model.neighbour_cutoff, str(p)), batch_size)
    combined = None
    if len(data) > 1:
        combined = evaluate(model, Dataset(everything, model.neighbour_cutoff, "all"), batch_size, by=())
    return EvaluationReport(checkpoint=str(checkpoint), files=files, all=combined)
