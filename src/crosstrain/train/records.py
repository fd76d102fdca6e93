"""The records that cross module boundaries after training: typed, JSON-ready as they are.

``Metrics`` is what :func:`crosstrain.train.evaluate.evaluate` returns (energies in meV/atom,
forces in eV/Å, stress in GPa; ``None`` where the data carry no such label; per-group and
per-temperature breakdowns when asked). ``FitReport`` is what :func:`crosstrain.train.pipeline.fit`
returns next to its :class:`~crosstrain.train.loop.TrainResult`. Both are ``TypedDict``s: plain
dicts at the JSON edge (reports, study rows, ``--json`` files), checked by mypy inside.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Metrics(TypedDict, total=False):
    n_structures: float
    energy_mae: float | None
    energy_rmse: float | None
    force_mae: float | None
    force_rmse: float | None
    stress_mae: float | None
    by_group: dict[str, Metrics]
    by_temperature: dict[str, Metrics]


class FitReport(TypedDict, total=False):
    init: dict[str, Any]  # what the strategy did (scales, frozen blocks, reference-energy fit, ...)
    selected_on: str  # "validation data" or "training data"
    zero_shot: Metrics  # the start, on the validation (else training) data; transfers only
    valid: Metrics  # the selected model on the validation data
    retention: Metrics  # the selected model on the source element's validation data
    best_epoch: int
    stopped: str
    seconds: float
    energy_shift_fit: Any
    checkpoint: str
    request: dict[str, Any]  # the run request: each choice with its source (crosstrain.request)
