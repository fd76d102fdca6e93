"""The records that cross package boundaries after training and evaluation: frozen and typed.

``Metrics`` is what :func:`crosstrain.train.evaluate.evaluate` returns (energies in meV/atom,
forces in eV/Å, stress in GPa; ``None`` where the data carry no such label; per-group and
per-temperature breakdowns when asked). ``FitReport`` is what :func:`crosstrain.train.pipeline.fit`
returns next to its :class:`~crosstrain.train.loop.TrainResult`, ``ZeroShotReport`` what
:func:`~crosstrain.train.pipeline.zero_shot_report` returns, ``EvaluationReport`` what
:func:`~crosstrain.train.pipeline.evaluate_checkpoint` returns. Each is written by its
``to_json()`` in the layout of the ``--json`` files, reports and study rows on disk, and read back
by ``from_json()`` (a :class:`~crosstrain.errors.SchemaError` names a missing or wrong field).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from crosstrain.schema import OMIT_NONE, JSONRecord


@dataclass(frozen=True)
class Metrics(JSONRecord):
    """Errors of a model on a data set (``None`` where the data carry no such label)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    n_structures: float
    energy_mae: float | None = None  # meV/atom
    energy_rmse: float | None = None  # meV/atom
    force_mae: float | None = None  # eV/Å
    force_rmse: float | None = None  # eV/Å
    stress_mae: float | None = None  # GPa
    # per structure group, when asked and labelled
    by_group: dict[str, Metrics] | None = field(default=None, metadata=OMIT_NONE)
    # per temperature (K, as text), likewise
    by_temperature: dict[str, Metrics] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class FitReport(JSONRecord):
    """What :func:`~crosstrain.train.pipeline.fit` did: the start, the errors before and after, the
    selected epoch and the checkpoint written (``--json`` of ``crosstrain train``/``transfer``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    init: dict[str, Any]  # what the strategy did (scales, frozen blocks, reference-energy fit, ...)
    selected_on: str  # "validation data" or "training data"
    # the start, on the validation (else training) data; transfers only
    zero_shot: Metrics | None = field(default=None, metadata=OMIT_NONE)
    valid: Metrics | None = field(default=None, metadata=OMIT_NONE)  # the selected model on the validation data
    # the selected model on the source element's validation data
    retention: Metrics | None = field(default=None, metadata=OMIT_NONE)
    best_epoch: int
    stopped: str
    seconds: float
    energy_shift_fit: dict[str, float]  # eV/atom per element, fitted after training
    checkpoint: str
    # the run request: each choice with its source (crosstrain.request)
    request: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)

    def with_request(self, request: dict[str, Any]) -> FitReport:
        """This report with the run request recorded (``request.to_json()``)."""
        return replace(self, request=request)


@dataclass(frozen=True)
class ZeroShotReport(JSONRecord):
    """A transferred start saved without a training step, and its errors on the test data
    (``--json`` of ``crosstrain transfer --zero-shot``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    init: dict[str, Any]  # what the strategy did
    checkpoint: str
    test: Metrics | None = field(default=None, metadata=OMIT_NONE)
    request: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)  # the run request (crosstrain.request)

    def with_request(self, request: dict[str, Any]) -> ZeroShotReport:
        return replace(self, request=request)


@dataclass(frozen=True)
class EvaluationReport(JSONRecord):
    """Errors of a saved model per data file and, for several files, on all of them together
    (``--json`` of ``crosstrain evaluate``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    checkpoint: str
    files: dict[str, Metrics]
    all: Metrics | None = field(default=None, metadata=OMIT_NONE)
