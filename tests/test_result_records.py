"""The frozen result records that cross package boundaries: each reads back what it writes, reads
the JSON the code before the records wrote (built here as that code built it), and names the
missing field of bad input."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from crosstrain.errors import CrosstrainError, SchemaError
from crosstrain.train.records import EvaluationReport, FitReport, Metrics, ZeroShotReport


def round_trips(record) -> None:
    """``from_json(to_json())`` is the record itself, also through a JSON file's text."""
    data = record.to_json()
    assert type(record).from_json(data) == record
    assert type(record).from_json(json.loads(json.dumps(data))) == record
    assert type(record).SCHEMA_VERSION == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, dataclasses.fields(record)[0].name, None)


def same_json(record, old: dict) -> None:
    """``old`` (the dict the earlier code wrote) reads, and is written back key for key, in order."""
    new = type(record).from_json(old).to_json()
    assert json.dumps(new) == json.dumps(old)


# --- train -------------------------------------------------------------------------------------


def old_metrics(n: float = 5.0, force: float | None = 0.05, groups: bool = False) -> dict:
    """What ``ErrorSums.metrics()`` and ``evaluate`` returned as TypedDicts."""
    m = {
        "n_structures": n,
        "energy_mae": 3.5,
        "energy_rmse": 4.25,
        "force_mae": force,
        "force_rmse": None if force is None else 2 * force,
        "stress_mae": None,
    }
    if groups:
        m["by_group"] = {"Elastic": old_metrics(2.0), "Surface": old_metrics(3.0, force=0.07)}
    return m


def test_metrics_round_trip_and_old_json():
    m = Metrics.from_json(old_metrics(groups=True))
    assert m.force_mae == 0.05 and m.by_group["Surface"].force_mae == 0.07 and m.by_temperature is None
    round_trips(m)
    same_json(m, old_metrics(groups=True))
    same_json(m, old_metrics(force=None))
    temps = Metrics(4.0, force_mae=0.1, force_rmse=0.2, by_temperature={"600": Metrics(2.0), "1500": Metrics(2.0)})
    round_trips(temps)
    assert list(temps.to_json()["by_temperature"]) == ["600", "1500"]


def test_bad_metrics_name_the_field():
    bad = old_metrics()
    del bad["force_rmse"]
    with pytest.raises(SchemaError, match="Metrics: field 'force_rmse' is missing"):
        Metrics.from_json(bad)
    with pytest.raises(SchemaError, match="field 'n_structures' must be a number, got str"):
        Metrics.from_json({**old_metrics(), "n_structures": "5"})
    with pytest.raises(CrosstrainError, match="expected a JSON object, got list"):
        Metrics.from_json([1, 2])
    nested = old_metrics(groups=True)
    del nested["by_group"]["Surface"]["energy_mae"]
    with pytest.raises(SchemaError, match="'by_group', entry 'Surface': Metrics: field 'energy_mae' is missing"):
        Metrics.from_json(nested)


def old_fit_report(transfer: bool = True, request: bool = True) -> dict:
    """The dict ``fit`` built (and ``crosstrain train --json`` wrote, with the request added)."""
    report = {"init": {"strategy": "full", "energy_reference_fit": {"Ge": -4.1}}, "selected_on": "validation data"}
    if transfer:
        report["zero_shot"] = old_metrics(force=0.3)
    report["valid"] = old_metrics()
    if transfer:
        report["retention"] = old_metrics(force=0.08)
    report.update(
        {
            "best_epoch": 7,
            "stopped": "epochs",
            "seconds": 12.34,
            "energy_shift_fit": {"Ge": 0.001},
            "checkpoint": "ge.ckpt",
        }
    )
    if request:
        report["request"] = {"data": ["ge.extxyz"], "strategy": {"value": "full", "source": "--strategy"}}
    return report


def test_fit_report_round_trip_and_old_json():
    r = FitReport.from_json(old_fit_report())
    assert r.zero_shot.force_mae == 0.3 and r.retention.force_mae == 0.08 and r.best_epoch == 7
    round_trips(r)
    for transfer in (True, False):
        for request in (True, False):
            same_json(r, old_fit_report(transfer, request))
    with pytest.raises(SchemaError, match="FitReport: field 'best_epoch' is missing"):
        FitReport.from_json({k: v for k, v in old_fit_report().items() if k != "best_epoch"})
    with pytest.raises(SchemaError, match="FitReport: field 'valid': Metrics: field 'force_mae' is missing"):
        FitReport.from_json({**old_fit_report(), "valid": {k: v for k, v in old_metrics().items() if k != "force_mae"}})


def test_fit_report_takes_the_request_and_nothing_else():
    r = FitReport.from_json(old_fit_report(request=False))
    with_request = r.with_request({"data": ["x"]})
    assert r.request is None and with_request.to_json()["request"] == {"data": ["x"]}
    with pytest.raises(FrozenInstanceError):
        r.best_epoch = 3  # type: ignore[misc]


def test_zero_shot_and_evaluation_reports_round_trip_and_read_old_json():
    old_zero = {"init": {"scales": {"Ge": {"length_scale": 0.96}}}, "checkpoint": "z.ckpt", "test": old_metrics()}
    z = ZeroShotReport.from_json(old_zero)
    round_trips(z)
    same_json(z, old_zero)
    same_json(z, {**old_zero, "request": {"data": ["ge.extxyz"]}})
    same_json(z, {"init": {}, "checkpoint": "z.ckpt"})
    old_eval = {"checkpoint": "ge.ckpt", "files": {"a.extxyz": old_metrics(groups=True), "b.extxyz": old_metrics()}}
    old_eval["all"] = old_metrics(10.0)
    e = EvaluationReport.from_json(old_eval)
    assert e.all.n_structures == 10.0 and e.files["a.extxyz"].by_group
    round_trips(e)
    same_json(e, old_eval)
    same_json(e, {"checkpoint": "ge.ckpt", "files": {"a.extxyz": old_metrics()}})
    with pytest.raises(SchemaError, match="EvaluationReport: field 'files' is missing"):
        EvaluationReport.from_json({"checkpoint": "ge.ckpt"})


def test_evaluate_returns_metrics_with_the_old_keys():
    from conftest import make_model, rattled_si
    from crosstrain.structure import Structure
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate

    model = make_model()
    structures = []
    for k, group in enumerate(("bulk", "bulk", "rattled")):
        s = Structure.from_atoms(rattled_si(seed=k), read_labels=False)
        structures.append(
            dataclasses.replace(
                s, energy=-40.0 + k, forces=np.full((8, 3), 0.1), info={"group": group, "temperature": 300.0 * k}
            )
        )
    m = evaluate(model, Dataset(structures, model.neighbour_cutoff), by=("group", "temperature"))
    assert isinstance(m, Metrics) and m.n_structures == 3.0 and m.stress_mae is None
    keys = ["n_structures", "energy_mae", "energy_rmse", "force_mae", "force_rmse", "stress_mae"]
    assert list(m.to_json()) == [*keys, "by_group", "by_temperature"]
    assert list(m.by_group) == ["bulk", "rattled"] and list(m.by_temperature) == ["0", "300", "600"]
    round_trips(m)
    assert list(evaluate(model, Dataset(structures, model.neighbour_cutoff), by=()).to_json()) == keys


# --- md ----------------------------------------------------------------------------------------


def old_md_result(stable: bool = True) -> dict:
    """``MDResult.to_dict()``: ``asdict`` without the velocities and masses."""
    return {
        "stable": stable,
        "reason": "" if stable else "forces exploded (51.2 eV/Å > 50)",
        "steps_done": 100 if stable else 40,
        "time_ps": 0.1 if stable else 0.04,
        "temperatures": [290.5, 301.25],
        "energy_drift_per_atom": 0.0012,
    }


def old_stability() -> dict:
    """What ``stability`` returned (and ``crosstrain md --runs --json`` wrote)."""
    from crosstrain.md.run import MDSettings

    runs = [old_md_result() | {"temperatures": None}, old_md_result(False) | {"temperatures": None}]
    return {
        "settings": {**MDSettings(steps=100).__dict__},
        "by_temperature": {
            "300": {"fraction_stable": 1.0, "mean_time_to_failure_ps": None, "runs": runs[:1]},
            "1200": {"fraction_stable": 0.5, "mean_time_to_failure_ps": 0.04, "runs": runs},
        },
        "batched": True,
        "fraction_stable": 0.75,
    }


def test_md_result_round_trip_and_old_json():
    from crosstrain.md.run import MDResult

    r = MDResult.from_json(old_md_result())
    assert r.temperatures == (290.5, 301.25) and r.velocities is None
    round_trips(r)
    same_json(r, old_md_result(False))
    with_velocities = MDResult(True, "", 10, 0.01, [300.0], 0.0, np.zeros((2, 8, 3)), np.ones(8))
    assert MDResult.from_json(with_velocities.to_json()) == with_velocities  # the frames are not in the JSON
    with pytest.raises(SchemaError, match="MDResult: field 'time_ps' is missing"):
        MDResult.from_json({k: v for k, v in old_md_result().items() if k != "time_ps"})
    with pytest.raises(SchemaError, match="field 'temperatures' must be an array of numbers"):
        MDResult.from_json({**old_md_result(), "temperatures": ["hot"]})


def test_stability_report_round_trip_and_old_json():
    from crosstrain.md.stability import StabilityReport

    s = StabilityReport.from_json(old_stability())
    assert s.settings.steps == 100 and s.by_temperature["1200"].runs[1].reason.startswith("forces exploded")
    round_trips(s)
    same_json(s, old_stability())
    bad = old_stability()
    del bad["by_temperature"]["1200"]["runs"][1]["stable"]
    with pytest.raises(SchemaError, match="entry '1200': TemperatureStability: field 'runs', run 1: .*'stable'"):
        StabilityReport.from_json(bad)
    with pytest.raises(SchemaError, match="unknown field 'speed'"):
        StabilityReport.from_json({**old_stability(), "settings": {**old_stability()["settings"], "speed": 1}})


# --- workflows.properties ----------------------------------------------------------------------


def old_properties_table() -> dict:
    """What ``properties_table`` returned (and ``crosstrain properties --json`` wrote)."""
    crystal = {
        "element": "Si",
        "a0": 5.431,
        "bulk_modulus": 101.4,
        "cohesive_energy": 4.3366,
        "C11": 151.4,
        "C12": 76.4,
        "C44": 56.4,
        "C44_clamped": 117.8,
        "vacancy_formation_energy": {"unrelaxed": 4.33, "relaxed": 2.82, "relaxed_from": {"symmetric": 4.3}},
        "phonons_THz": {"Gamma": [0.0, 0.0, 0.0, 15.9, 15.9, 15.9], "X": [4.2], "L": [3.1]},
    }
    dft = {  # dft_reference: elastic_reference with its C44 renamed (and so last)
        "a0": 5.787,
        "a0_cell": 5.754,
        "C11": 120.0,
        "C12": 45.0,
        "residual_stress": -1.0,
        "bulk_modulus": 70.0,
        "structures_used": 13,
        "source": "mlearn Elastic group (PBE), small-strain fit",
        "C44_clamped": 60.0,
    }
    return {"Si": {"model": crystal, "sw": crystal}, "Ge": {"sw": {**crystal, "element": "Ge"}, "dft": dft}, "C": {}}


def test_properties_table_round_trip_and_old_json():
    from crosstrain.workflows.properties import PropertiesTable, format_table

    t = PropertiesTable.from_json(old_properties_table())
    assert t.elements["Ge"].model is None and t.elements["Ge"].dft.a0 == 5.787 and t.elements["Ge"].dft.C44 == 60.0
    assert t.elements["Si"].sw.vacancy_formation_energy.relaxed_from == {"symmetric": 4.3}
    round_trips(t)
    same_json(t, old_properties_table())
    text = format_table(t)
    assert "| property | Si model | Si sw | Ge sw | Ge dft |" in text and "read it with care" in text
    with pytest.raises(SchemaError, match="element 'Ge': ElementProperties: unknown field 'dtf'"):
        PropertiesTable.from_json({"Ge": {"dtf": {}}})
    with pytest.raises(SchemaError, match="'Si': ElementProperties: field 'sw': .*expected a JSON object, got list"):
        PropertiesTable.from_json({"Si": {"sw": []}})
    sw = {k: v for k, v in old_properties_table()["Si"]["sw"].items() if k != "C44_clamped"}
    with pytest.raises(SchemaError, match="field 'sw': CrystalProperties: field 'C44_clamped' is missing"):
        PropertiesTable.from_json({"Si": {"sw": sw}})


# --- study -------------------------------------------------------------------------------------


def old_study_row(stage: str = "hpo") -> dict:
    """A row of ``results.csv`` as ``collect_rows`` built it from a trial (before the records)."""
    row = {
        "study": "tiny",
        "stage": stage,
        "strategy": "full",
        "n_train": 2,
        "seed": 0 if stage == "hpo" else 1,
        "state": "COMPLETE",
        "trial": 3,
        "job": f"{stage}/full/n2/3",
        "hp_lr": 0.002,
        "hp_batch_size": 2,
        "worker": "host-1",
        "hpo_trial": None if stage == "hpo" else 0,
        "epochs": 4,
        "best_epoch": 4,
        "train_seconds": 1.5,
        "checkpoint": "models/full/n2/hpo-3.ckpt",
        "valid_force_mae": 0.1,
        "valid_force_rmse": 0.2,
        "valid_energy_mae": None,
        "valid_energy_rmse": None,
        "seconds": 2.25,
    }
    if stage == "final":
        row.update(test_force_mae=0.12, zero_shot_test_force_mae=0.3)
    row["objective"] = 0.1  # the trial's value, last
    return row


def old_cell(zero_shot: bool = False) -> dict:
    """An entry of ``summary.json``'s ``summary`` (a row of ``summary.csv``)."""
    entry = {"strategy": "full zero-shot" if zero_shot else "full", "n_train": 2, "seeds": 2, "diverged": 0}
    for m in ("test_force_mae", "test_energy_mae", "valid_force_mae", "valid_energy_mae"):
        mean = 0.1 if m.startswith("test_force") else None
        if zero_shot:  # the zero-shot entries were written mean, median, std
            entry.update({f"{m}_mean": mean, f"{m}_median": mean, f"{m}_std": None if mean is None else 0.0})
        else:
            entry.update({f"{m}_mean": mean, f"{m}_std": None if mean is None else 0.01, f"{m}_median": mean})
    return entry


def test_study_rows_and_cells_round_trip_and_read_old_json():
    from crosstrain.study.records import CellSummary, StudyRow

    for stage in ("hpo", "final"):
        r = StudyRow.from_json(old_study_row(stage))
        assert r.hyperparameters == {"lr": 0.002, "batch_size": 2} and r.values["worker"] == "host-1"
        round_trips(r)
        same_json(r, old_study_row(stage))
    final = StudyRow.from_json(old_study_row("final"))
    assert final.metric("test_force_mae") == 0.12 and final.metric("test_energy_mae") is None
    diverged = dataclasses.replace(final, values={**final.values, "diverged": "loss became nan"})
    assert diverged.diverged and diverged.metric("test_force_mae") is None
    with pytest.raises(SchemaError, match="StudyRow: field 'objective' is missing"):
        StudyRow.from_json({k: v for k, v in old_study_row().items() if k != "objective"})
    c = CellSummary.from_json(old_cell())
    assert c.metrics["test_force_mae"].std == 0.01 and c.metrics["valid_force_mae"].mean is None
    round_trips(c)
    same_json(c, old_cell())
    assert CellSummary.from_json(old_cell(zero_shot=True)).to_json() == old_cell(zero_shot=True)  # same keys
    with pytest.raises(SchemaError, match="CellSummary: field 'valid_energy_mae_median' is missing"):
        CellSummary.from_json({k: v for k, v in old_cell().items() if k != "valid_energy_mae_median"})


# --- active ------------------------------------------------------------------------------------


def old_active_state(finished: bool = True) -> dict:
    """``active.json`` as ``run_active`` wrote it (a dict state; settings abridged)."""
    choice = {
        "picks": [{"index": 3, "uncertainty": 0.21, "why": "largest deviation", "source": "bulk 600 K frame 1"}],
        "pool": 8,
        "largest_deviation": 0.21,
        "stop": None,
        "explore_seconds": 3.5,
        "dft_wall_seconds": 12.0,
        "dft_cpu_seconds": 11.5,
        "failed": [],
    }
    rounds = [
        {
            "round": 0,
            "dft_calls": 2,
            "labels": 2,
            "choice": {**choice, "largest_deviation": None},
            "train_seconds": 4.0,
        },
        {"round": 1, "dft_calls": 3, "labels": 3, "choice": choice, "test": old_metrics(), "train_seconds": 5.5},
    ]
    from crosstrain.active.explore import ExploreSettings
    from crosstrain.active.loop import ActiveSettings
    from crosstrain.dft.settings import DFTSettings

    settings = {  # as _load_state builds them (the config left out)
        "active": dataclasses.asdict(ActiveSettings(budget=3)),
        "explore": dataclasses.asdict(ExploreSettings()),
        "dft": DFTSettings().to_dict(),
        "dft_sha256": DFTSettings().sha256,
        "element": "Ge",
    }
    settings = json.loads(json.dumps(settings))
    state = {"settings": settings, "rounds": rounds, "kinds": ["bulk", "strained", "vacancy", "surface"]}
    if finished:
        state["stopped"] = "the budget of 3 DFT calls is spent"
        stability = old_stability()
        state["final"] = {
            "checkpoint": "run/final-003calls.ckpt",
            "dft_calls": 3,
            "labels": 3,
            "test": old_metrics(force=0.09),
            "stability": {"a0": 5.77, "fraction_stable": stability["fraction_stable"], **stability},
        }
    return state


def test_active_state_round_trip_and_old_json():
    from crosstrain.active.records import ActiveState

    s = ActiveState.from_json(old_active_state())
    assert s.rounds[1].test.force_mae == 0.05 and s.rounds[0].test is None
    assert s.final.stability.a0 == 5.77 and s.final.stability.fraction_stable == 0.75
    round_trips(s)
    same_json(s, old_active_state())
    same_json(s, old_active_state(finished=False))
    bad = old_active_state()
    del bad["rounds"][1]["labels"]
    with pytest.raises(SchemaError, match="'rounds', round 1: RoundRecord: field 'labels' is missing"):
        ActiveState.from_json(bad)
    bad = old_active_state()
    del bad["final"]["stability"]["batched"]
    with pytest.raises(SchemaError, match="FinalModel: field 'stability': StabilityReport: field 'batched' is missing"):
        ActiveState.from_json(bad)


def test_active_report_reads_the_record(tmp_path):
    from crosstrain.active.records import ActiveState
    from crosstrain.active.report import write_report

    text = write_report(ActiveState.from_json(old_active_state()), tmp_path).read_text()
    assert "| 1 | 3 | 3 | 0.0500 | 3.50 | 0.210 | 4 | 12 | 6 |" in text
    assert "MD stable in 75 % of runs (64 atoms, 300, 1200 K)" in text and "Stopped: the budget" in text


def test_every_nested_record_round_trips_on_its_own():
    from crosstrain.active.records import ActiveState
    from crosstrain.md.stability import StabilityReport
    from crosstrain.workflows.properties import PropertiesTable

    state = ActiveState.from_json(old_active_state())
    stability = StabilityReport.from_json(old_stability())
    table = PropertiesTable.from_json(old_properties_table())
    nested = [
        *state.rounds,
        state.final,
        state.final.stability,
        *stability.by_temperature.values(),
        *table.elements.values(),
    ]
    assert {type(r).__name__ for r in nested} == {
        "RoundRecord",
        "FinalModel",
        "ModelStability",
        "TemperatureStability",
        "ElementProperties",
    }
    for record in nested:
        round_trips(record)
