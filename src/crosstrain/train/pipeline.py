"""The library functions behind ``crosstrain train``, ``transfer`` and ``evaluate``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from crosstrain.calculator import resolve_device
from crosstrain.config import Config
from crosstrain.data.extxyz import read_structures
from crosstrain.data.manifest import fingerprint
from crosstrain.data.structures import Structure
from crosstrain.errors import DataFileError
from crosstrain.io.checkpoint import load_checkpoint
from crosstrain.train.batches import Dataset
from crosstrain.train.distributed import init_from_env
from crosstrain.train.evaluate import evaluate, fit_energy_shift
from crosstrain.train.loop import TrainResult, train
from crosstrain.train.transfer import data_stats, initialise

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
    valid: Paths | list[Structure] | None = None,
    parent: str | os.PathLike[str] | None = None,
    element_map: dict[str, str] | None = None,
    source_valid: Paths | list[Structure] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train from scratch (no ``parent``) or transfer from ``parent``; returns the result and a report
    with zero-shot, final validation and source-retention errors."""
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    rank, _, device = init_from_env(config.train.device)
    progress = progress and rank == 0
    train_structures = data if _structures(data) else read_many(data, require=("forces",))
    valid_structures = None
    if valid is not None:
        valid_structures = valid if _structures(valid) else read_many(valid, require=("forces",))
    parent_ckpt = load_checkpoint(parent) if parent is not None else None
    cutoff = (
        parent_ckpt.model.config.cutoff
        if parent_ckpt is not None and config.transfer.strategy != "scratch"
        else config.model.cutoff
    )
    train_set = Dataset(train_structures, cutoff, name="training data")
    init = initialise(config, train_set.numbers, parent_ckpt, element_map, train_set)
    model = init.model.to(resolve_device(device))
    if model.neighbour_cutoff > cutoff:  # rescaled lengths: the network sees farther in real space
        train_set = Dataset(train_structures, model.neighbour_cutoff, name="training data")
    valid_set = Dataset(valid_structures, model.neighbour_cutoff, name="validation data") if valid_structures else None
    report: dict[str, Any] = {"init": init.info}
    if parent_ckpt is not None and config.transfer.strategy != "scratch":
        zero_shot_model = model
        if all(s.energy is not None for s in train_structures):
            fit_energy_shift(zero_shot_model, train_set, config.train.batch_size)
        report["zero_shot"] = evaluate(zero_shot_model, valid_set or train_set, config.train.batch_size, by=())
    metadata = {
        "data_fingerprint": fingerprint(train_structures),
        "data_stats": {**(parent_ckpt.metadata.get("data_stats", {}) if parent_ckpt else {}), **data_stats(train_set)},
        "transfer": init.info,
        "config": config.to_dict(),
        "n_train": len(train_structures),
        "n_valid": len(valid_structures or []),
    }
    result = train(
        model,
        train_set,
        valid_set,
        config.train,
        out,
        parent=init.parent,
        metadata=metadata,
        l2sp=init.l2sp,
        resume=resume,
        progress=progress,
    )
    if valid_set is not None:
        report["valid"] = evaluate(result.model, valid_set, config.train.batch_size, by=())
    if source_valid is not None:
        src = source_valid if _structures(source_valid) else read_many(source_valid)
        report["retention"] = evaluate(
            result.model, Dataset(src, model.neighbour_cutoff, "source validation"), config.train.batch_size, by=()
        )
    report.update(
        {
            "best_epoch": result.best_epoch,
            "stopped": result.stopped,
            "seconds": round(result.seconds, 2),
            "energy_shift_fit": result.energy_shift,
            "checkpoint": str(result.checkpoint),
        }
    )
    return result, report


def _structures(x: Any) -> bool:
    return isinstance(x, list) and bool(x) and isinstance(x[0], Structure)


def evaluate_checkpoint(checkpoint: str | os.PathLike[str], data: Paths, batch_size: int = 8) -> dict[str, Any]:
    """Errors of a saved model on each data file and on all of them together."""
    ck = load_checkpoint(checkpoint)
    model = ck.model
    out: dict[str, Any] = {"checkpoint": str(checkpoint), "files": {}}
    everything = []
    for p in data:
        structures = read_structures(p)
        for s in structures:
            model.species.check(s.numbers, source=s.source)
        everything += structures
        out["files"][str(p)] = evaluate(model, Dataset(structures, model.neighbour_cutoff, str(p)), batch_size)
    if len(data) > 1:
        out["all"] = evaluate(model, Dataset(everything, model.neighbour_cutoff, "all"), batch_size, by=())
    return out
