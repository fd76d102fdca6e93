"""The demo's results as records: what ``demo.json`` holds (the source model, each Ge arm, the MD
stage) and how it is read back; :mod:`crosstrain.workflows.demo` writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from crosstrain.provenance import Provenance
from crosstrain.schema import FLAT, OMIT_NONE, Fields, JSONRecord
from crosstrain.train.records import FitReport, Metrics, ZeroShotReport


@dataclass(frozen=True)
class DemoSource:
    """The Si parent of the demo: trained here (``report``, its training report) or the shipped
    one (``shipped``, its name, with its validation errors on the demo's Si set)."""

    checkpoint: str
    valid: Metrics | None
    shipped: str | None = None
    report: FitReport | None = None

    def to_json(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.to_json()
        valid = None if self.valid is None else self.valid.to_json()
        return {"valid": valid, "checkpoint": self.checkpoint, "shipped": self.shipped}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "DemoSource")
        if "shipped" in f:
            valid = f.optional_record("valid", Metrics.from_json)
            return cls(checkpoint=f.text("checkpoint"), valid=valid, shipped=f.text("shipped"))
        report = FitReport.from_json(data)
        return cls(checkpoint=report.checkpoint, valid=report.valid, report=report)


@dataclass(frozen=True)
class DemoArm:
    """One strategy of the Ge stage: its training report (the transfer arm and scratch) and, for
    ``full`` and ``rescaled``, its transferred start tested without a training step. The JSON is
    the training report's with ``zero_shot_test`` beside it (``init`` from the start without one)."""

    report: FitReport | None = None
    zero_shot_test: ZeroShotReport | None = None

    @property
    def init(self) -> dict[str, Any]:
        """What the strategy did at the start (the training run's, else the zero-shot start's)."""
        source = self.report or self.zero_shot_test
        return {} if source is None else source.init

    def to_json(self) -> dict[str, Any]:
        out = {} if self.report is None else self.report.to_json()
        if self.zero_shot_test is not None:
            out["zero_shot_test"] = self.zero_shot_test.to_json()
            if self.report is None:
                out["init"] = self.zero_shot_test.init
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "DemoArm")
        trained = {k: v for k, v in f.data.items() if k != "zero_shot_test"}
        return cls(
            report=FitReport.from_json(trained) if "best_epoch" in f else None,
            zero_shot_test=f.optional_record("zero_shot_test", ZeroShotReport.from_json),
        )


@dataclass(frozen=True)
class ArmStability(JSONRecord):
    """The stability MD of one Ge model: the fraction of stable runs, overall and per temperature."""

    fraction_stable: float
    by_temperature: dict[str, float]


@dataclass(frozen=True)
class PDOSRun(JSONRecord):
    """The 300 K NVE run of one model: whether it stayed physical, the phonon DOS's peak (THz) and
    its overlap with the SW reference's (1 identical)."""

    stable: bool
    reason: str | None = field(default=None, metadata=OMIT_NONE)
    peak_THz: float | None = field(default=None, metadata=OMIT_NONE)
    overlap_with_sw: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class DemoMD(JSONRecord):
    """The MD stage (``md.json``, cached): stability and phonon DOS per model, the cell's lattice
    constant (Å) and the models' creation times (so that retrained models rerun it)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    stability: dict[str, ArmStability]
    pdos: dict[str, PDOSRun]
    lattice_constant: float
    models: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class DemoResult(JSONRecord):
    """Every number of a demo run (``demo.json``): the data, the Si parent, the Ge models (reports,
    zero-shot starts, test errors by temperature or group), the MD stage, the wall time and where
    it ran. ``transfer`` is the transfer arm (absent from results before it was recorded: ``full``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    scale: str
    data: str
    transfer: str | None = field(default=None, metadata=OMIT_NONE)
    n_si_train: int
    n_ge_train: int
    n_ge_test: int
    si: DemoSource
    ge: dict[str, DemoArm]
    ge_test: dict[str, Metrics]
    md: DemoMD
    md_settings: str
    wall_seconds: float
    provenance: Provenance = field(metadata=FLAT)
    #: wall time of each stage of this run (data, parent, Ge models, MD); a stage reused from the
    #: output folder costs only its reading
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def arm(self) -> str:
        """The transfer arm (``full`` in results written before the arm was recorded)."""
        return self.transfer or "full"
