"""One unit of study work: train a target-element model for (strategy, size, seed, settings).

Hyperparameters arrive as a flat mapping of search-space names (``lr``, ``batch_size``,
``steps``, ``patience`` in validations, a strategy's own settings such as ``l2sp_alpha``) on top
of the spec's base ``train`` settings. The training budget is given in gradient steps and turned
into epochs here, so every size gets the same number of updates.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from crosstrain.config import Config, Strategy, config_from_dict
from crosstrain.study.data import StudyData, draw
from crosstrain.study.spec import STUDY_PARAMS, StudySpec
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import evaluate
from crosstrain.train.pipeline import fit
from crosstrain.train.records import Metrics


def training_config(spec: StudySpec, strategy: str, size: int, seed: int, params: dict[str, Any]) -> Config:
    """The full training config of one grid model (epochs and validation cadence from the step budget)."""
    train = {**spec.train, **{k: v for k, v in params.items() if k not in STUDY_PARAMS}}
    base = config_from_dict({"train": train}).train
    batch = min(base.batch_size, size)
    steps = int(params.get("steps", spec.steps))
    epochs = max(1, math.ceil(steps / math.ceil(size / batch)))
    every = max(1, epochs // spec.validations)
    patience = params.get("patience", spec.train.get("patience"))
    transfer: dict[str, Any] = {"strategy": strategy}
    transfer.update({k: params[k] for k in Strategy(strategy).settings if k in params})
    train.update(
        batch_size=batch,
        epochs=epochs,
        valid_every=every,
        patience=None if patience is None else int(patience) * every,
        seed=seed,
    )
    return config_from_dict({"model": spec.model, "train": train, "transfer": transfer})


def run_job(
    spec: StudySpec,
    data: StudyData,
    source: Path | None,
    strategy: str,
    size: int,
    seed: int,
    params: dict[str, Any],
    out: Path,
    test: bool,
) -> dict[str, Any]:
    """Train one model (resuming a killed attempt from its state file) and return its numbers:
    validation errors always, test errors when ``test``; every number a plain float."""
    d = draw(data, size, spec.valid_size, seed)
    config = training_config(spec, strategy, size, seed, params)
    result, report = fit(  # scratch ignores the parent and the map
        config,
        d.train,
        out,
        valid=d.valid,
        parent=source,
        element_map={spec.target_element: spec.source_element},
        resume=True,
        progress=False,
    )
    row: dict[str, Any] = {
        "epochs": config.train.epochs,
        "batch_size": config.train.batch_size,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 2),
        "checkpoint": str(out),
    }
    if report.valid is not None:  # fit validates on d.valid: always there
        row.update(_metrics("valid", report.valid))
    if report.zero_shot is not None:
        row.update(_metrics("zero_shot", report.zero_shot))
    if test:
        model = result.model.eval()
        row.update(_metrics("test", evaluate(model, Dataset(data.test, model.neighbour_cutoff, "test"), 8, by=())))
        if config.transfer.strategy.needs_parent:  # the transferred start on the same test set
            from crosstrain.train.pipeline import start

            s = start(config, d.train, source, {spec.target_element: spec.source_element})
            zero = evaluate(s.model.eval(), Dataset(data.test, s.model.neighbour_cutoff, "test"), 8, by=())
            row.update(_metrics("zero_shot_test", zero))
    return row


def _metrics(prefix: str, m: Metrics) -> dict[str, float | None]:
    values = (m.force_mae, m.force_rmse, m.energy_mae, m.energy_rmse)
    keys = ("force_mae", "force_rmse", "energy_mae", "energy_rmse")
    return {f"{prefix}_{k}": (None if v is None else float(v)) for k, v in zip(keys, values)}
