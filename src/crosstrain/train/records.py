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

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from crosstrain.schema import Fields


@dataclass(frozen=True)
class Metrics:
    """Errors of a model on a data set (``None`` where the data carry no such label)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    n_structures: float
    energy_mae: float | None = None  # meV/atom
    energy_rmse: float | None = None  # meV/atom
    force_mae: float | None = None  # eV/Å
    force_rmse: float | None = None  # eV/Å
    stress_mae: float | None = None  # GPa
    by_group: dict[str, Metrics] | None = None  # per structure group, when asked and labelled
    by_temperature: dict[str, Metrics] | None = None  # per temperature (K, as text), likewise

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_structures": self.n_structures,
            "energy_mae": self.energy_mae,
            "energy_rmse": self.energy_rmse,
            "force_mae": self.force_mae,
            "force_rmse": self.force_rmse,
            "stress_mae": self.stress_mae,
        }
        if self.by_group is not None:
            out["by_group"] = {k: v.to_json() for k, v in self.by_group.items()}
        if self.by_temperature is not None:
            out["by_temperature"] = {k: v.to_json() for k, v in self.by_temperature.items()}
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "Metrics")
        return cls(
            n_structures=f.number("n_structures"),
            energy_mae=f.number_or_none("energy_mae"),
            energy_rmse=f.number_or_none("energy_rmse"),
            force_mae=f.number_or_none("force_mae"),
            force_rmse=f.number_or_none("force_rmse"),
            stress_mae=f.number_or_none("stress_mae"),
            by_group=f.records("by_group", Metrics.from_json) if "by_group" in f else None,
            by_temperature=f.records("by_temperature", Metrics.from_json) if "by_temperature" in f else None,
        )


def _shifts(f: Fields, name: str) -> dict[str, float]:
    shifts = Fields(f.mapping(name), f"{f.label}.{name}")
    return {k: shifts.number(k) for k in shifts.names()}


@dataclass(frozen=True)
class FitReport:
    """What :func:`~crosstrain.train.pipeline.fit` did: the start, the errors before and after, the
    selected epoch and the checkpoint written (``--json`` of ``crosstrain train``/``transfer``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    init: dict[str, Any]  # what the strategy did (scales, frozen blocks, reference-energy fit, ...)
    selected_on: str  # "validation data" or "training data"
    best_epoch: int
    stopped: str
    seconds: float
    energy_shift_fit: dict[str, float]  # eV/atom per element, fitted after training
    checkpoint: str
    zero_shot: Metrics | None = None  # the start, on the validation (else training) data; transfers only
    valid: Metrics | None = None  # the selected model on the validation data
    retention: Metrics | None = None  # the selected model on the source element's validation data
    request: dict[str, Any] | None = None  # the run request: each choice with its source (crosstrain.request)

    def with_request(self, request: dict[str, Any]) -> FitReport:
        """This report with the run request recorded (``request.to_json()``)."""
        return replace(self, request=request)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"init": self.init, "selected_on": self.selected_on}
        for name, m in (("zero_shot", self.zero_shot), ("valid", self.valid), ("retention", self.retention)):
            if m is not None:
                out[name] = m.to_json()
        out.update(
            best_epoch=self.best_epoch,
            stopped=self.stopped,
            seconds=self.seconds,
            energy_shift_fit=self.energy_shift_fit,
            checkpoint=self.checkpoint,
        )
        if self.request is not None:
            out["request"] = self.request
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "FitReport")
        return cls(
            init=f.mapping("init"),
            selected_on=f.text("selected_on"),
            best_epoch=f.integer("best_epoch"),
            stopped=f.text("stopped"),
            seconds=f.number("seconds"),
            energy_shift_fit=_shifts(f, "energy_shift_fit"),
            checkpoint=f.text("checkpoint"),
            zero_shot=f.optional_record("zero_shot", Metrics.from_json),
            valid=f.optional_record("valid", Metrics.from_json),
            retention=f.optional_record("retention", Metrics.from_json),
            request=f.mapping("request") if "request" in f else None,
        )


@dataclass(frozen=True)
class ZeroShotReport:
    """A transferred start saved without a training step, and its errors on the test data
    (``--json`` of ``crosstrain transfer --zero-shot``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    init: dict[str, Any]  # what the strategy did
    checkpoint: str
    test: Metrics | None = None
    request: dict[str, Any] | None = None  # the run request (crosstrain.request)

    def with_request(self, request: dict[str, Any]) -> ZeroShotReport:
        return replace(self, request=request)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"init": self.init, "checkpoint": self.checkpoint}
        if self.test is not None:
            out["test"] = self.test.to_json()
        if self.request is not None:
            out["request"] = self.request
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "ZeroShotReport")
        return cls(
            init=f.mapping("init"),
            checkpoint=f.text("checkpoint"),
            test=f.optional_record("test", Metrics.from_json),
            request=f.mapping("request") if "request" in f else None,
        )


@dataclass(frozen=True)
class EvaluationReport:
    """Errors of a saved model per data file and, for several files, on all of them together
    (``--json`` of ``crosstrain evaluate``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    checkpoint: str
    files: dict[str, Metrics]
    all: Metrics | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checkpoint": self.checkpoint, "files": {k: m.to_json() for k, m in self.files.items()}}
        if self.all is not None:
            out["all"] = self.all.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "EvaluationReport")
        return cls(
            checkpoint=f.text("checkpoint"),
            files=f.records("files", Metrics.from_json),
            all=f.optional_record("all", Metrics.from_json),
        )
