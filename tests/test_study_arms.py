"""Study arms beyond one strategy each: recipes, settings, further stages, the split's validation
set, per-group test errors and the study's record in the benchmarks' cell layout."""

from __future__ import annotations

import copy

import pytest
import yaml

from crosstrain.errors import ConfigError
from crosstrain.study.records import StudyRow
from crosstrain.study.spec import arm_settings, spec_from_dict
from test_study import TINY

pytest.importorskip("optuna")

ARMS = {
    "scratch": {"strategy": "scratch", "recipe": "dft-cpu5"},
    "rescaled": {"strategy": "rescaled", "recipe": "dft-cpu5-finetune", "set": {"train.lr": 1e-4}},
    "rescaled+stage": {"strategy": "full", "after": "rescaled", "set": {"train.energy_weight": 30}},
}


def with_grid(**grid: object) -> dict:
    doc = copy.deepcopy(TINY)
    doc["grid"] = {k: v for k, v in {**doc["grid"], **grid}.items() if v is not None}
    return doc


def test_named_arms_round_trip_and_keep_their_settings():
    doc = with_grid(strategies=None, arms=ARMS)
    doc["model"] = {}  # the recipes' model
    spec = spec_from_dict(doc)
    assert spec.strategies == ("scratch", "rescaled", "rescaled+stage")
    assert spec_from_dict(yaml.safe_load(spec.to_yaml())) == spec
    rescaled = arm_settings(spec, spec.arm("rescaled"))
    assert rescaled["train"]["lr"] == 1e-4  # the arm's set beats its recipe's 5e-4
    assert rescaled["train"]["loss"] == "forces"  # the spec's train beats the recipe's
    assert rescaled["model"]["cutoff"] == 5.0 and rescaled["transfer"]["strategy"] == "rescaled"
    stage = arm_settings(spec, spec.arm("rescaled+stage"))
    assert stage["train"]["energy_weight"] == 30 and stage["transfer"]["strategy"] == "full"
    assert not spec.arm("rescaled+stage").needs_source and spec.arm("rescaled").needs_source


def test_plain_strategies_still_write_the_old_layout():
    spec = spec_from_dict(copy.deepcopy(TINY))
    assert spec.to_dict()["grid"]["strategies"] == ["scratch", "full"] and "arms" not in spec.to_dict()["grid"]


@pytest.mark.parametrize(
    "arms, message",
    [
        ({"a": {"strategy": "fancy"}}, "grid.arms.a.strategy"),
        ({"a": {"strategy": "full", "after": "b"}}, "grid.arms.a.after: no arm 'b'"),
        ({"a": {"strategy": "full", "after": "b"}, "b": {"strategy": "full", "after": "a"}}, "loop"),
        ({"a": {"strategy": "full", "recipe": "no-such-recipe"}}, "grid.arms.a.recipe"),
        ({"a": {"strategy": "full", "set": {"lr": 1}}}, "grid.arms.a.set"),
        ({"a": {"strategy": "full", "set": {"train.seed": 1}}}, "set by the study"),
        ({"a": {"strategy": "full", "set": {"train.lr": "fast"}}}, "grid.arms.a"),
        ({"a": {"strategy": "full", "colour": 1}}, "grid.arms.a.colour"),
    ],
)
def test_bad_arms_are_one_line_naming_the_key(arms, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_dict(with_grid(strategies=None, arms=arms))


def test_strategies_and_arms_together_and_missing_parent_and_data_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="strategies or arms"):
        spec_from_dict(with_grid(arms={"a": {"strategy": "full"}}))
    no_parent = copy.deepcopy(TINY)
    no_parent["source"] = {}
    with pytest.raises(ConfigError, match="grid.arms.full: strategy 'full' starts from a parent"):
        spec_from_dict(no_parent)
    spec_from_dict({**no_parent, "grid": {**TINY["grid"], "strategies": ["scratch"]}})  # scratch needs none
    missing = {**copy.deepcopy(TINY), "source": {"checkpoint": str(tmp_path / "none.ckpt")}}
    with pytest.raises(ConfigError, match="source.checkpoint"):
        spec_from_dict(missing)
    mlearn = {**copy.deepcopy(TINY), "data": {"kind": "mlearn", "root": str(tmp_path / "nowhere")}}
    with pytest.raises(ConfigError, match="data.root"):
        spec_from_dict(mlearn)
    with pytest.raises(ConfigError, match="report.baseline"):
        spec_from_dict({**copy.deepcopy(TINY), "report": {"baseline": "nothing"}})
    with pytest.raises(ConfigError, match="report.tests.more"):
        spec_from_dict({**copy.deepcopy(TINY), "report": {"tests": {"more": str(tmp_path / "none.extxyz")}}})


def test_the_split_validation_set_is_shared_and_draws_are_the_benchmarks(tmp_path):
    from crosstrain.data.splits import draw as benchmark_draw
    from crosstrain.study.data import StudyData, draw, resolve_sizes

    pool, valid = list(range(30)), [100, 101, 102]
    data = StudyData([], [], pool, [], valid, "group", tmp_path)  # type: ignore[arg-type]
    d0, d1 = draw(data, 5, n_valid=3, seed=0, valid_from="split"), draw(data, 5, n_valid=3, seed=1, valid_from="split")
    assert d0.valid == d1.valid == valid
    assert d0.train == benchmark_draw(pool, 5, 0) and d0.train != d1.train
    spec = spec_from_dict(with_grid(valid="split", sizes=[30, "all"]))
    assert resolve_sizes(spec, 30) == [30]  # nothing is drawn out of the pool for validation


def row(arm: str, seed: int, force: float | None, energy: float, surface: float, **extra: float) -> StudyRow:
    values = {
        "test_force_mae": force,
        "test_energy_mae": energy,
        "test_n": 4.0,
        "test_Surface_n": 1.0,
        "test_Surface_energy_mae": surface,
        "diverged": None if force is not None else "loss became nan",
        "seconds": 10.0,
        **extra,
    }
    return StudyRow("s", "final", arm, 22, seed, "COMPLETE", seed, f"{arm}/{seed}", values=values)


def test_record_cells_pair_each_arm_with_the_baseline_and_leave_out_a_group_exactly():
    from crosstrain.study.results import record_cells

    spec = spec_from_dict(with_grid(strategies=["scratch", "full"]))
    rows = [row("scratch", s, 0.06 + 0.01 * s, 10.0, 40.0) for s in range(3)]
    rows += [row("full", 0, 0.04, 8.0, 20.0, zero_shot_test_force_mae=0.2), row("full", 1, None, 8.0, 20.0)]
    rows += [row("full", 2, 0.05, 6.0, 6.0, zero_shot_test_force_mae=0.3)]
    cells = record_cells(rows, spec)
    assert list(cells) == ["scratch n=22", "full n=22"]
    full = cells["full n=22"]
    assert full["force_mae"]["n"] == 3 and full["force_mae"]["diverged"] == 1  # counted, never dropped
    assert full["energy_mae_without_Surface"]["values"][0] == pytest.approx((8.0 * 4 - 20.0) / 3)
    assert full["force_mae_vs_scratch"]["n_pairs"] == 3 and full["force_mae_vs_scratch"]["a_better"] == 2
    assert list(full["zero_shot_force_mae"]["values"]) == [0.2, None, 0.3]
    assert "force_mae_vs_scratch" not in cells["scratch n=22"] and full["seeds"] == [0, 1, 2]


ACTIVE_DATA = {
    "kind": "explored",
    "temperatures": [600.0],
    "kinds": ["bulk", "strained"],
    "frames": 1,
    "md_steps": 10,
    "dft": {"ecut_ev": 150, "kpoint_density": 1.0},
    "workers": 1,
    "explore": {"temperatures": [600.0], "kinds": ["bulk", "strained"], "md_steps": 10, "frames": 2},
}
ACTIVE_ARM = {
    "selection": "random",
    "committee": 1,
    "initial": 2,
    "batch": 1,
    "steps": 3,
    "final_steps": 0,
    "stability_temperatures": [300.0],
    "stability_ps": 0.02,
}
ACTIVE_SPEC = {
    "name": "al",
    "data": ACTIVE_DATA,
    "source": {"checkpoint": "si-dft5"},
    "recipe": "dft-cpu5",
    "train": {"batch_size": 2, "compile": False},
    "grid": {"arms": {"random": {"strategy": "rescaled", "active": ACTIVE_ARM}}, "sizes": [2], "seeds": 1},
    "search": {"trials": 0},
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"grid": {"arms": {"r": {"strategy": "rescaled"}}, "sizes": [2]}}, "explored data have no training pool"),
        (
            {"grid": {"arms": {"r": {"strategy": "rescaled", "active": {"budget": 3}}}, "sizes": [2]}},
            "set by the study",
        ),
        ({"grid": {"arms": {"r": {"strategy": "rescaled", "active": {"colour": 1}}}, "sizes": [2]}}, "unknown setting"),
        ({"search": {"trials": 2}}, "no search"),
        ({"data": {**ACTIVE_DATA, "dft": {"ecut_ev": -1}}}, "data.dft"),
        ({"data": {**ACTIVE_DATA, "explore": {"kinds": ["moon"]}}}, "data.explore"),
        ({"data": {"kind": "mlearn"}}, "need data of kind explored"),
    ],
)
def test_bad_active_learning_specs_are_one_line_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_dict({**copy.deepcopy(ACTIVE_SPEC), **change})


def test_an_active_learning_arm_runs_as_a_study_cell(tmp_path):
    """A real run: SW test geometries labelled by GPAW (coarse), one random-selection arm from the
    shipped Si parent with a budget of 2 DFT calls, scored on that test set; rerunning reuses it."""
    pytest.importorskip("gpaw")
    from crosstrain.study.results import collect_rows, record_cells
    from crosstrain.study.runner import run_study
    from crosstrain.study.worker import attach

    spec = spec_from_dict(copy.deepcopy(ACTIVE_SPEC))
    assert spec_from_dict(yaml.safe_load(spec.to_yaml())) == spec
    run_study(spec, tmp_path / "s", log=lambda m: None, progress=False, heartbeat=1, grace=3)
    study = attach(tmp_path / "s", f"sqlite:///{tmp_path / 's' / 'optuna.db'}")
    (row,) = [r for r in collect_rows(study) if r.stage == "final"]
    assert row.state == "COMPLETE" and row.values["dft_calls"] == 2 and row.values["test_force_mae"] > 0
    assert len(row.values["curve"]) >= 1 and row.values["test_n"] == 2.0
    cells = record_cells(collect_rows(study), spec)
    assert cells["random n=2"]["force_mae"]["n"] == 1


def test_every_benchmark_spec_is_valid():
    """The grids behind the published numbers are specs; each must load as written."""
    from pathlib import Path

    from crosstrain.study.spec import load_spec

    specs = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*/*.yaml"))
    assert len(specs) >= 6
    for path in specs:
        assert load_spec(path).name


def test_a_stage_with_extra_test_sets_source_retention_and_the_record(tmp_path, tiny_sw_data):
    """A real tiny study: scratch, full and a further stage after full, no search; an extra test set,
    source retention and errors per temperature; the record pairs each arm with scratch."""
    import json
    import shutil

    from crosstrain.study.cli import register  # noqa: F401  (the command exists)
    from crosstrain.study.results import collect_rows, record_cells
    from crosstrain.study.runner import run_study
    from crosstrain.study.worker import attach

    folder = tmp_path / "s"
    shutil.copytree(tiny_sw_data, folder / "data")
    extra = str(folder / "data" / "Ge.valid.extxyz")
    doc = copy.deepcopy(TINY)
    doc["grid"] = {**doc["grid"], "strategies": None, "sizes": [2], "seeds": 2}
    doc["grid"]["arms"] = {
        "scratch": {"strategy": "scratch"},
        "full": {"strategy": "full"},
        "full+more": {"strategy": "full", "after": "full", "set": {"train.lr": 1e-4}},
    }
    doc["grid"] = {k: v for k, v in doc["grid"].items() if v is not None}
    doc["search"] = {"trials": 0}
    doc["report"] = {"by": ["temperature"], "source_retention": True, "tests": {"valid-as-test": extra}}
    spec = spec_from_dict(doc)
    run_study(spec, folder, log=lambda m: None, progress=False, heartbeat=1, grace=3)
    study = attach(folder, f"sqlite:///{folder / 'optuna.db'}")
    rows = [r for r in collect_rows(study) if r.stage == "final"]
    assert {(r.strategy, r.seed) for r in rows} == {(a, s) for a in ("scratch", "full", "full+more") for s in (0, 1)}
    stage = {r.seed: r for r in rows if r.strategy == "full+more"}
    assert all(r.state == "COMPLETE" and r.values["extra_valid-as-test_force_mae"] > 0 for r in rows)
    assert all(r.values["source_force_mae"] > 0 for r in rows if r.strategy != "scratch")
    from crosstrain.io.checkpoint import read_meta

    meta = read_meta(stage[0].values["checkpoint"])  # the stage started from full's model of the same seed
    assert meta.parent is not None and "full" in meta.parent.path and "seed0" in meta.parent.path
    cells = record_cells(collect_rows(study), spec)
    assert cells["full+more n=2"]["force_mae_vs_scratch"]["n_pairs"] == 2
    assert "extra_valid-as-test_force_mae" in cells["full n=2"] and "source_force_mae" in cells["full n=2"]
    json.dumps(cells)  # the record's result is plain JSON
