"""The study: spec validation, per-seed draws, and a tiny real study on LAMMPS SW data run by
one and by two worker processes on one SQLite storage, killed and resumed."""

from __future__ import annotations

import collections
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY_SW_PROTOCOL
from crosstrain.errors import ConfigError
from crosstrain.study.spec import BUILTIN, load_spec, spec_from_dict

pytest.importorskip("optuna")

TINY = {
    "name": "tiny",
    "data": {
        "kind": "sw",
        "protocol": TINY_SW_PROTOCOL,
    },
    "source": {"train": {"epochs": 1, "batch_size": 4}, "valid_size": 2},
    "model": {
        "preset": "cpu",
        "hidden_channels": 16,
        "out_emb_channels": 16,
        "int_emb_size": 8,
        "basis_emb_size": 4,
        "num_blocks": 1,
        "num_spherical": 3,
        "num_radial": 4,
    },
    "train": {"loss": "forces", "lr": 0.002, "batch_size": 2},
    "grid": {
        "strategies": ["scratch", "full"],
        "sizes": [1, 2],
        "seeds": 2,
        "valid_size": 2,
        "test_size": 3,
        "steps": 3,
        "validations": 2,
    },
    "search": {"trials": 2, "space": {"lr": {"low": 5e-4, "high": 5e-3, "log": True}, "batch_size": [1, 2]}},
}
FAST = {"heartbeat": 1, "grace": 3}


# ------------------------------------------------------------------------------------- spec


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_specs_are_valid_and_round_trip(name):
    spec = load_spec(name)
    again = spec_from_dict(yaml.safe_load(spec.to_yaml()))
    assert again == spec
    assert set(spec.strategies) >= {"scratch", "full"}


def test_paper_specs_follow_the_paper():
    sw, dft = load_spec("sw-paper"), load_spec("dft-paper")
    assert sw.sizes == (1, 2, 5, 10, 20, 50, 100, 340) and sw.valid_size == 170 and sw.seeds == 5
    assert dft.sizes[-1] == "all" and dft.valid_size == 22 and dft.seeds == 5
    assert dft.chemical_accuracy_mev == 43.0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"grid": {"sizes": [0]}}, "grid.sizes"),
        ({"grid": {"strategies": ["full", "full"]}}, "grid.strategies"),
        ({"train": {"seed": 3}}, "train.seed"),
        ({"search": {"space": {"colour": [1, 2]}}}, "not a searchable"),
        ({"search": {"space": {"lr": {"low": 1, "high": 0.1}}}}, "low < high"),
        ({"data": {"kind": "vasp"}}, "data.kind"),
        ({"grid": {"sized": [1]}}, "unknown key"),
        ({"search": {"space": {"warmup_steps": {"low": 0, "high": 50}}}}, "add int: true"),
        ({"search": {"space": {"scale_fit": {"low": 0, "high": 1}}}}, "named values"),
    ],
)
def test_bad_specs_are_clear_errors(change, message):
    doc = yaml.safe_load(yaml.safe_dump(TINY))
    for section, values in change.items():
        doc[section] = {**doc.get(section, {}), **values}
    with pytest.raises(ConfigError, match=message):
        spec_from_dict(doc)


def test_spec_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("grid: [1, 2\n")
    with pytest.raises(ConfigError, match="s.yaml"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="no such spec"):
        load_spec(tmp_path / "missing.yaml")


def test_training_budget_in_steps():
    from crosstrain.study.jobs import training_config

    spec = spec_from_dict({**TINY, "grid": {**TINY["grid"], "steps": 100, "validations": 5}})
    small = training_config(spec, "full", size=1, seed=0, params={"batch_size": 4, "patience": 2})
    assert small.train.batch_size == 1 and small.train.epochs == 100  # 1 step per epoch
    assert small.train.valid_every == 20 and small.train.patience == 40
    big = training_config(spec, "scratch", size=64, seed=3, params={"batch_size": 4})
    assert big.train.epochs == 7 and big.train.seed == 3 and big.transfer.strategy == "scratch"


def test_a_strategys_own_settings_are_searched_for_it_alone():
    from crosstrain.study.jobs import training_config
    from crosstrain.study.worker import search_space

    space = {
        "lr": {"low": 1e-3, "high": 1e-2},
        "l2sp_alpha": {"low": 1e-4, "high": 1e-1, "log": True},
        "replay_ratio": [0.5, 1.0],
    }
    spec = spec_from_dict(
        {
            **TINY,
            "grid": {**TINY["grid"], "strategies": ["scratch", "l2sp", "replay"]},
            "search": {**TINY["search"], "space": space},
        }
    )
    assert [p.name for p in search_space(spec, "scratch")] == ["lr"]
    assert [p.name for p in search_space(spec, "l2sp")] == ["lr", "l2sp_alpha"]
    assert [p.name for p in search_space(spec, "replay")] == ["lr", "replay_ratio"]
    params = {"l2sp_alpha": 0.05, "replay_ratio": 0.5}
    assert training_config(spec, "l2sp", size=4, seed=0, params=params).transfer.l2sp_alpha == 0.05
    replay = training_config(spec, "replay", size=4, seed=0, params=params).transfer
    assert replay.replay_ratio == 0.5 and replay.l2sp_alpha == 1e-3  # not l2sp's


# -------------------------------------------------------------------------------- the study


@pytest.fixture
def tiny_data(tiny_sw_data):
    return tiny_sw_data


def _folder(tmp_path, tiny_data) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(tiny_data, folder / "data")
    return folder


def test_draws_are_nested_stratified_and_seeded(tmp_path, tiny_data):
    from crosstrain.study.data import draw, load_data

    spec = spec_from_dict(TINY)
    data = load_data(spec, _folder(tmp_path, tiny_data))
    assert len(data.pool) == 8 and len(data.test) == 3
    small, large = draw(data, 1, n_valid=2, seed=0), draw(data, 5, n_valid=2, seed=0)
    ids = lambda structures: [s.info["index"] for s in structures]  # noqa: E731
    assert ids(large.train)[:1] == ids(small.train) and ids(large.valid) == ids(small.valid)
    assert not set(ids(large.train)) & set(ids(large.valid))
    assert {s.info["temperature"] for s in large.valid} == {600.0, 1500.0}  # one per temperature
    assert ids(draw(data, 5, n_valid=2, seed=0).train) == ids(large.train)
    assert ids(draw(data, 5, n_valid=2, seed=1).train) != ids(large.train)


def _trials(folder: Path) -> list:
    import optuna

    from crosstrain.study.storage import default_storage_url, open_storage

    storage = open_storage(default_storage_url(folder))
    out = []
    for name in optuna.get_all_study_names(storage):
        if not name.endswith("/meta"):
            out += optuna.load_study(study_name=name, storage=storage).get_trials()
    return [t for t in out if t.user_attrs.get("job")]


def _assert_each_job_once(trials) -> None:
    done = collections.Counter(t.user_attrs["job"] for t in trials if t.state.name == "COMPLETE")
    assert len(done) == 16 and set(done.values()) == {1}, done


def test_study_end_to_end_in_process(tmp_path, tiny_data):
    from crosstrain.study.runner import run_study

    folder = _folder(tmp_path, tiny_data)
    doc = run_study(spec_from_dict(TINY), folder, log=lambda m: None, progress=False, **FAST)
    _assert_each_job_once(_trials(folder))
    rows = list(csv.DictReader((folder / "results.csv").open()))
    assert len(rows) == 16 and {r["stage"] for r in rows} == {"hpo", "final"}
    finals = [r for r in rows if r["stage"] == "final"]
    assert all(float(r["test_force_mae"]) > 0 and Path(r["checkpoint"]).exists() for r in finals)
    assert {(s["strategy"], s["n_train"], s["seeds"]) for s in doc["summary"]} == {
        ("full", 1, 2),
        ("full", 2, 2),
        ("scratch", 1, 2),
        ("scratch", 2, 2),
        ("full zero-shot", 1, 2),
        ("full zero-shot", 2, 2),  # the transferred starts on the same test set
    }
    zero = [s for s in doc["summary"] if s["strategy"] == "full zero-shot"]
    assert all(s["test_force_mae_mean"] > 0 and s["valid_force_mae_mean"] is None for s in zero)
    assert "test force MAE" in (folder / "report.md").read_text()
    assert (folder / "learning_curve.png").stat().st_size > 10_000
    # the selected settings of each cell are its best search trial's
    for r in finals:
        cell = [
            h for h in rows if h["stage"] == "hpo" and h["strategy"] == r["strategy"] and h["n_train"] == r["n_train"]
        ]
        best = min(cell, key=lambda h: float(h["objective"]))
        assert float(r["hp_lr"]) == pytest.approx(float(best["hp_lr"]))
    # rerunning resumes: nothing left to do, nothing retrained
    again = run_study(spec_from_dict(TINY), folder, log=lambda m: None, progress=False, **FAST)
    assert again["status"]["done"] == 16 and len(_trials(folder)) == 16


def _worker(folder: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "crosstrain.cli",
        "study",
        "worker",
        "--dir",
        str(folder),
        "--threads",
        "1",
        "--heartbeat",
        "1",
        "--grace",
        "3",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_worker_processes_share_one_storage(tmp_path, tiny_data):
    from crosstrain.study.worker import plan

    folder = _folder(tmp_path, tiny_data)
    from crosstrain.study.storage import default_storage_url

    longer = {**TINY, "grid": {**TINY["grid"], "steps": 12}}  # enough work for both to take some
    plan(spec_from_dict(longer), folder, default_storage_url(folder), log=lambda m: None, **FAST)
    procs = [_worker(folder), _worker(folder)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trials = _trials(folder)
    _assert_each_job_once(trials)
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both did work


def test_killed_worker_loses_nothing_and_duplicates_nothing(tmp_path, tiny_data):
    from crosstrain.study.storage import default_storage_url
    from crosstrain.study.worker import plan

    folder = _folder(tmp_path, tiny_data)
    plan(spec_from_dict(TINY), folder, default_storage_url(folder), log=lambda m: None, **FAST)
    victim = _worker(folder)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it mid-study, while a trial runs
        trials = _trials(folder)
        if sum(t.state.name == "COMPLETE" for t in trials) >= 3 and any(t.state.name == "RUNNING" for t in trials):
            break
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    before = {
        t.user_attrs["job"]: (t.number, t.datetime_complete) for t in _trials(folder) if t.state.name == "COMPLETE"
    }
    assert 3 <= len(before) < 16
    rescuer = _worker(folder)
    out = rescuer.communicate(timeout=240)[0]
    assert rescuer.returncode == 0, out
    trials = _trials(folder)
    _assert_each_job_once(trials)
    after = {t.user_attrs["job"]: (t.number, t.datetime_complete) for t in trials if t.state.name == "COMPLETE"}
    assert all(after[job] == v for job, v in before.items())  # finished trials untouched
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) <= 1  # the one the kill interrupted, re-run as a retry
    retries = [t for t in trials if "retry_of" in t.user_attrs]
    assert len(retries) == len(failed)


def test_worker_without_a_planned_study_is_a_clear_error(tmp_path):
    from crosstrain.cli import main

    (tmp_path / "s").mkdir()
    code = main(["study", "worker", "--dir", str(tmp_path / "s"), "--wait", "0"])
    assert code == 2


def test_search_points_are_seeded_and_start_from_the_spec_settings():
    from crosstrain.study.worker import _search_jobs

    spec = spec_from_dict({**TINY, "search": {**TINY["search"], "trials": 13}})
    jobs = _search_jobs(spec, "full", 2)
    assert jobs == _search_jobs(spec, "full", 2)  # the same for every run and worker
    assert jobs[0][1] == {"lr": 0.002, "batch_size": 2}  # the spec's own settings first
    randoms = [p for _, p in jobs[1:10]]
    assert all(5e-4 <= p["lr"] <= 5e-3 and p["batch_size"] in (1, 2) for p in randoms)
    assert randoms[0] != randoms[1] and jobs[1][1] != _search_jobs(spec, "scratch", 2)[1][1]
    assert [p for _, p in jobs[10:]] == [{}, {}, {}]  # then TPE proposes, from 10 points of history
    small = spec_from_dict({**TINY, "search": {**TINY["search"], "trials": 3}})
    assert all(p for _, p in _search_jobs(small, "full", 2))  # a small search is all planned: reproducible


def test_summary_counts_diverged_runs_and_headline_pairs_seeds():
    from crosstrain.study.records import StudyRow
    from crosstrain.study.results import headline, summarise

    def row(strategy, seed, force, diverged=False):
        values = {"test_force_mae": None if diverged else force, "diverged": "loss became nan" if diverged else None}
        return StudyRow("s", "final", strategy, 5, seed, "COMPLETE", seed, f"{strategy}/{seed}", values=values)

    rows = [row("full", 0, 0.05), row("full", 1, 0.06), row("full", 2, 0.0, diverged=True)]
    rows += [row("scratch", 0, 0.08), row("scratch", 1, 0.07), row("scratch", 2, 0.09)]
    by = {s.strategy: s for s in summarise(rows)}
    assert by["full"].seeds == 3 and by["full"].diverged == 1
    assert by["full"].metrics["test_force_mae"].mean == pytest.approx(0.055)
    assert by["full"].metrics["test_force_mae"].median == pytest.approx(0.06)  # the diverged run ranks last
    (line,) = headline(rows, ("scratch", "full"))
    assert "3 seeds" in line and "better on 2 of 3 seeds" in line and "1 / 0 runs diverged" in line


def test_the_report_states_whether_the_papers_claims_hold():
    from crosstrain.study.records import StudyRow
    from crosstrain.study.results import claims

    def row(strategy, n, seed, force):
        values = {"test_force_mae": force, "diverged": None}
        return StudyRow("s", "final", strategy, n, seed, "COMPLETE", seed, f"{strategy}/{n}/{seed}", values=values)

    scratch = [row("scratch", n, s, 0.1) for n in (1, 4) for s in (0, 1)]
    shrinking = [row("full", 1, s, 0.07) for s in (0, 1)] + [row("full", 4, s, 0.04) for s in (0, 1)]
    (line,) = claims(scratch + shrinking, ("scratch", "full"))
    assert "C1 (better than scratch at every n) holds" in line
    assert "C2 (the gain grows as n shrinks) does not hold: 30 % at n = 1, 60 % at n = 4" in line
    growing = [row("full", 1, s, 0.04) for s in (0, 1)] + [row("full", 4, s, 0.11) for s in (0, 1)]
    (line,) = claims(scratch + growing, ("scratch", "full"))
    assert "C1 (better than scratch at every n) does not hold (not better at n = 4)" in line
    assert "C2 (the gain grows as n shrinks) holds" in line


def test_a_worker_killed_before_its_first_heartbeat_leaves_no_orphan(tmp_path):
    """Optuna's stale check skips RUNNING trials without a heartbeat; requeue_orphans catches them."""
    import optuna

    from crosstrain.study.storage import open_storage, requeue_orphans

    storage = open_storage(f"sqlite:///{tmp_path / 'o.db'}", heartbeat=1, grace=1)
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 1.0}, user_attrs={"job": "j"})
    study.ask()  # taken (RUNNING), and its worker "dies" before any heartbeat
    assert requeue_orphans(study) == 0  # not yet past the grace period
    time.sleep(2.2)
    assert requeue_orphans(study) == 1
    states = [(t.state.name, t.user_attrs.get("retry_of")) for t in study.get_trials()]
    assert states == [("FAIL", None), ("WAITING", 0)]


def test_the_first_search_point_fills_what_the_spec_leaves_open_with_a_seeded_draw():
    from crosstrain.study.worker import _search_jobs

    space = {**TINY["search"]["space"], "lr_decay": {"low": 0.05, "high": 1.0, "log": True}}
    spec = spec_from_dict({**TINY, "search": {**TINY["search"], "space": space, "trials": 2}})
    first = _search_jobs(spec, "full", 2)[0][1]
    assert first["lr"] == 0.002 and first["batch_size"] == 2  # the spec's own settings kept
    assert 0.05 <= first["lr_decay"] <= 1.0 and first == _search_jobs(spec, "full", 2)[0][1]


def test_source_validation_subsample_keeps_families_whole():
    """The mlearn Ge split's validation set holds 23 structures for 22 asked; 22 of them cannot be
    taken without splitting a family, so the source-retention set keeps all 23 (the reverse
    direction, Si from ge-dft5, stopped here with 'leave no training family')."""
    from crosstrain.pretrained import mlearn_split
    from crosstrain.study.data import _stratified

    valid = mlearn_split("Ge", valid=22, test=25, seed=0)["valid"]
    assert len(_stratified(valid, 22, "group", 0)) == len(valid) >= 22


def test_a_study_resumes_when_its_shipped_source_moved(tmp_path):
    """A study planned with a shipped parent records that parent's path in the installation that
    planned it; from another checkout (or after reinstalling) the recorded path is gone and the spec's
    name resolves it again (the checksum still decides); a source gone for good is one line."""
    from types import SimpleNamespace

    from crosstrain.pretrained import resolve_model
    from crosstrain.study.worker import _planned_source

    moved = {"source": str(tmp_path / "old-checkout" / "ge-dft5.ckpt")}
    assert (
        _planned_source(SimpleNamespace(source={"checkpoint": "ge-dft5"}), moved) == resolve_model("ge-dft5").resolve()
    )
    gone = SimpleNamespace(source={"checkpoint": str(tmp_path / "mine.ckpt")})
    with pytest.raises(ConfigError, match="the study's source model is gone"):
        _planned_source(gone, {"source": str(tmp_path / "mine.ckpt")})
    assert _planned_source(gone, {"source": None}) is None
