"""An active-learning run as frozen records: its rounds, its final model and the whole state that
``active.json`` holds (written by ``to_json`` in the layout of the files on disk, read back by
``from_json``, so a killed run resumes from its file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from crosstrain.errors import SchemaError
from crosstrain.md.stability import StabilityReport
from crosstrain.schema import OMIT_NONE, Fields, JSONRecord
from crosstrain.train.records import Metrics


@dataclass(frozen=True)
class ModelStability:
    """The stability MD of a model at its own lattice constant ``a0`` (Å)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    a0: float
    report: StabilityReport

    @property
    def fraction_stable(self) -> float:
        return self.report.fraction_stable

    def to_json(self) -> dict[str, Any]:
        return {"a0": self.a0, "fraction_stable": self.report.fraction_stable, **self.report.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "ModelStability")
        return cls(a0=f.number("a0"), report=StabilityReport.from_json({k: v for k, v in f.data.items() if k != "a0"}))


@dataclass(frozen=True, kw_only=True)
class RoundRecord(JSONRecord):
    """One round: the DFT calls so far, the labels its committee trained on, its choice (the
    round's ``choice.json``: picks, pool, largest deviation, times) and member 0's test errors."""

    SCHEMA_VERSION: ClassVar[int] = 1

    round: int
    dft_calls: int
    labels: int
    choice: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    test: Metrics | None = field(default=None, metadata=OMIT_NONE)
    train_seconds: float  # the committee's training and the test evaluation


@dataclass(frozen=True, kw_only=True)
class FinalModel(JSONRecord):
    """The final model: trained on every label, tested, and run through the stability MD."""

    SCHEMA_VERSION: ClassVar[int] = 1

    checkpoint: str
    dft_calls: int
    labels: int
    test: Metrics | None = field(default=None, metadata=OMIT_NONE)
    stability: ModelStability


@dataclass(frozen=True)
class ActiveState:
    """What ``active.json`` holds: the run's settings (what a resumed run must keep), its rounds,
    the kinds of cell explored, why it stopped and its final model (once there)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    settings: dict[str, Any]
    rounds: tuple[RoundRecord, ...] = ()
    kinds: tuple[str, ...] = ()
    stopped: str | None = None
    final: FinalModel | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "settings": self.settings,
            "rounds": [r.to_json() for r in self.rounds],
            "kinds": list(self.kinds),
        }
        if self.stopped is not None:
            out["stopped"] = self.stopped
        if self.final is not None:
            out["final"] = self.final.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "ActiveState")
        rounds = []
        for k, r in enumerate(f.listing("rounds")):
            try:
                rounds.append(RoundRecord.from_json(r))
            except SchemaError as exc:
                raise SchemaError(f"ActiveState: field 'rounds', round {k}: {exc}") from None
        kinds = f.listing("kinds")
        if not all(isinstance(k, str) for k in kinds):
            raise SchemaError("ActiveState: field 'kinds' must be an array of strings")
        return cls(
            settings=f.mapping("settings"),
            rounds=tuple(rounds),
            kinds=tuple(kinds),
            stopped=f.text("stopped") if "stopped" in f else None,
            final=f.optional_record("final", FinalModel.from_json),
        )
