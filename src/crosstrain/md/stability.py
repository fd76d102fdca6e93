"""The stability harness: K independent MD runs per temperature; fraction stable, time to failure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Self

import numpy as np
from ase import Atoms

from crosstrain.errors import SchemaError
from crosstrain.md.run import MDResult, MDSettings, run_md
from crosstrain.schema import Fields


def _run_json(run: MDResult) -> dict[str, Any]:
    return run.to_json() | {"temperatures": None}  # a stability report keeps no temperature series


def _run_from_json(data: Any) -> MDResult:
    f = Fields(data, "MDResult")
    return MDResult.from_json({**f.data, "temperatures": []} if f.value("temperatures") is None else data)


@dataclass(frozen=True)
class TemperatureStability:
    """The runs at one temperature (without their temperature series)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    fraction_stable: float
    mean_time_to_failure_ps: float | None  # over the failed runs; None when none failed
    runs: tuple[MDResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "fraction_stable": self.fraction_stable,
            "mean_time_to_failure_ps": self.mean_time_to_failure_ps,
            "runs": [_run_json(r) for r in self.runs],
        }

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "TemperatureStability")
        runs = []
        for k, run in enumerate(f.listing("runs")):
            try:
                runs.append(_run_from_json(run))
            except SchemaError as exc:
                raise SchemaError(f"TemperatureStability: field 'runs', run {k}: {exc}") from None
        return cls(
            fraction_stable=f.number("fraction_stable"),
            mean_time_to_failure_ps=f.number_or_none("mean_time_to_failure_ps"),
            runs=tuple(runs),
        )


def _settings(data: dict[str, Any]) -> MDSettings:
    known = {f.name for f in fields(MDSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SchemaError(f"StabilityReport: field 'settings' has an unknown field {unknown[0]!r}")
    return MDSettings(**data)


@dataclass(frozen=True)
class StabilityReport:
    """What :func:`stability` found (``--json`` of ``crosstrain md --runs``): per temperature (K, as
    text) the fraction of stable runs, and their mean over the temperatures."""

    SCHEMA_VERSION: ClassVar[int] = 1

    settings: MDSettings  # the settings given (each temperature and seed replaces its own)
    by_temperature: dict[str, TemperatureStability]
    batched: bool  # the runs of a temperature advanced together (crosstrain.md.replicas)
    fraction_stable: float

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "by_temperature": {t: v.to_json() for t, v in self.by_temperature.items()},
            "batched": self.batched,
            "fraction_stable": self.fraction_stable,
        }

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "StabilityReport")
        return cls(
            settings=_settings(f.mapping("settings")),
            by_temperature=f.records("by_temperature", TemperatureStability.from_json),
            batched=f.flag("batched"),
            fraction_stable=f.number("fraction_stable"),
        )


def stability(
    atoms: Atoms,
    calc_factory: Any,
    temperatures: list[float],
    *,
    runs: int,
    settings: MDSettings,
    progress: bool = False,
    model: Any = None,
) -> StabilityReport:
    """Run ``runs`` seeded MD runs at each temperature; a blow-up is a result, never an exception.
    With ``model`` (a crosstrain model) the runs of one temperature advance together, one batched
    model call per step (:mod:`crosstrain.md.replicas`); ``calc_factory`` is then unused."""
    by_temperature: dict[str, TemperatureStability] = {}
    for t in temperatures:
        seeds = [settings.seed + 1000 * k + int(t) for k in range(runs)]
        base = replace(settings, temperature=float(t), trajectory=None)
        if model is not None:
            from crosstrain.md.replicas import run_replicas

            results = run_replicas(atoms, model, base, seeds=seeds)
        else:
            results = [run_md(atoms, calc_factory(), replace(base, seed=seed)) for seed in seeds]
        stable = [r.stable for r in results]
        failed_times = [r.time_ps for r in results if not r.stable]
        by_temperature[f"{t:g}"] = TemperatureStability(
            fraction_stable=float(np.mean(stable)),
            mean_time_to_failure_ps=float(np.mean(failed_times)) if failed_times else None,
            runs=tuple(replace(r, temperatures=(), velocities=None, masses=None) for r in results),
        )
        if progress:
            print(f"{t:g} K: {sum(stable)}/{runs} stable")
    fractions = [v.fraction_stable for v in by_temperature.values()]
    return StabilityReport(
        settings=settings,
        by_temperature=by_temperature,
        batched=model is not None,
        fraction_stable=float(np.mean(fractions)),
    )
