"""A study's rows and cells as frozen records: one :class:`StudyRow` per trained model (a line of
``results.csv``), one :class:`CellSummary` per (strategy, size) (a line of ``summary.csv``, an entry
of ``summary.json``'s ``summary``). Their JSON is the flat layout of those files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from crosstrain.schema import Fields

#: the metrics a cell summarises (each as ``<metric>_mean``, ``_std`` and ``_median``)
METRICS = ("test_force_mae", "test_energy_mae", "valid_force_mae", "valid_energy_mae", "phonon_gamma_error_pct")
#: metrics a summary written before they existed lacks (``report.properties``)
OPTIONAL_METRICS = ("phonon_gamma_error_pct",)
#: the fixed columns of a row, first in ``results.csv``
ROW_FIELDS = ("study", "stage", "strategy", "n_train", "seed", "state", "trial", "job")
HP = "hp_"  # the prefix of a hyperparameter's column


@dataclass(frozen=True)
class StudyRow:
    """One trial with a job (search or retraining): where it sits in the grid, its
    hyperparameters and what its job recorded (``values``: errors, epochs, time, checkpoint,
    ``diverged``, ... as the trial's user attributes hold them)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    study: str
    stage: str  # "hpo" or "final"
    strategy: str
    n_train: int
    seed: int
    state: str  # the Optuna trial state: COMPLETE, FAIL, RUNNING, WAITING, ...
    trial: int
    job: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # without the "hp_" of their columns
    values: dict[str, Any] = field(default_factory=dict)
    objective: float | None = None

    @property
    def diverged(self) -> bool:
        return bool(self.values.get("diverged"))

    def metric(self, name: str) -> float | None:
        """A number of the run (e.g. ``test_force_mae``); ``None`` for a diverged run or a missing
        number (counted, never dropped)."""
        v = self.values.get(name)
        if self.diverged or v in (None, ""):
            return None
        return float(v)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in ROW_FIELDS}
        out.update({HP + k: v for k, v in self.hyperparameters.items()})
        out.update(self.values)
        out["objective"] = self.objective
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "StudyRow")
        rest = [k for k in f.names() if k not in (*ROW_FIELDS, "objective")]
        return cls(
            study=f.text("study"),
            stage=f.text("stage"),
            strategy=f.text("strategy"),
            n_train=f.integer("n_train"),
            seed=f.integer("seed"),
            state=f.text("state"),
            trial=f.integer("trial"),
            job=f.text("job"),
            hyperparameters={k.removeprefix(HP): f.value(k) for k in rest if k.startswith(HP)},
            values={k: f.value(k) for k in rest if not k.startswith(HP)},
            objective=f.number_or_none("objective"),
        )


@dataclass(frozen=True)
class Spread:
    """One metric of a cell over its seeds (see :mod:`crosstrain.analysis.comparison`)."""

    mean: float | None  # over the finished runs
    std: float | None  # sample std over the finished runs (0 for one run)
    median: float | None  # a diverged run counted as the worst


@dataclass(frozen=True)
class CellSummary:
    """The retrained models of one (strategy, size): seeds, diverged runs and each metric's spread;
    ``strategy`` is ``"<strategy> zero-shot"`` for the transferred starts of the cell."""

    SCHEMA_VERSION: ClassVar[int] = 1

    strategy: str
    n_train: int
    seeds: int
    diverged: int
    metrics: dict[str, Spread]  # by name in METRICS

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "n_train": self.n_train,
            "seeds": self.seeds,
            "diverged": self.diverged,
        }
        for m, s in self.metrics.items():
            out.update({f"{m}_mean": s.mean, f"{m}_std": s.std, f"{m}_median": s.median})
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "CellSummary")
        return cls(
            strategy=f.text("strategy"),
            n_train=f.integer("n_train"),
            seeds=f.integer("seeds"),
            diverged=f.integer("diverged"),
            metrics={
                m: Spread(f.number_or_none(f"{m}_mean"), f.number_or_none(f"{m}_std"), f.number_or_none(f"{m}_median"))
                for m in METRICS
                if m not in OPTIONAL_METRICS or f"{m}_mean" in f.names()
            },
        )
