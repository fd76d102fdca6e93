"""Active learning end to end on Ge8 cells: the shipped Si parent, GPAW labels (coarse settings),
a two-model committee; resumes without computing a label twice."""

import json
from dataclasses import replace

import pytest

from crosstrain.active.cli import check_request
from crosstrain.active.committee import force_deviation
from crosstrain.active.explore import ExploreSettings
from crosstrain.active.loop import ActiveSettings, Request, run_active
from crosstrain.active.report import write_report
from crosstrain.active.select import MODES, select
from crosstrain.config import Strategy, load_config
from crosstrain.data.extxyz import read_structures
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import ConfigError, SpeciesError

pytest.importorskip("gpaw")
COARSE = DFTSettings(ecut_ev=150, kpoint_density=1.0)


def request(**active):
    config = load_config("dft-cpu5", ["train.batch_size=2"])
    config = replace(
        config,
        transfer=replace(config.transfer, strategy=Strategy.RESCALED, parent="si-dft5", element_map={"Ge": "Si"}),
    )
    settings = {
        "budget": 3,
        "initial": 2,
        "batch": 1,
        "committee": 2,
        "steps": 4,
        "final_steps": 4,
        "stability_temperatures": (300.0,),
        "stability_ps": 0.02,
        **active,
    }
    explore = ExploreSettings(temperatures=(600.0,), kinds=("bulk", "strained"), md_steps=10, frames=2)
    return Request("Ge", config, COARSE, ActiveSettings(**settings), explore)


def test_active_learning_runs_resumes_and_reports(tmp_path):
    out = tmp_path / "run"
    state = run_active(request(), out, log=lambda m: None)
    assert [r.dft_calls for r in state.rounds] == [2, 3]
    assert state.stopped == "the budget of 3 DFT calls is spent"
    labelled = read_structures(out / "dft" / "labelled.extxyz", require=("energy", "forces", "stress"))
    assert len(labelled) == 3
    picks = state.rounds[1].choice["picks"]
    assert len(picks) == 1 and picks[0]["uncertainty"] > 0 and "deviation" in picks[0]["why"]
    assert picks[0]["what"] in {f"{k} cell, 600 K" for k in ("bulk", "strained")}  # the report says what it was
    stability = state.final.stability.report
    assert set(stability.by_temperature) == {"300"} and len(stability.by_temperature["300"].runs) == 2
    labels = sorted((out / "dft" / "labels").glob("*/*.json"))
    stamps = [p.stat().st_mtime_ns for p in labels]
    # killed after the labels of round 1, before its committee finished: resume trains, never relabels
    for p in (out / "round-01").glob("member-*"):
        p.unlink()
    (out / "final-003calls.ckpt").unlink()
    saved = json.loads((out / "active.json").read_text())
    saved["rounds"] = saved["rounds"][:1]
    (out / "active.json").write_text(json.dumps(saved))
    again = run_active(request(), out, log=lambda m: None)
    assert [r.dft_calls for r in again.rounds] == [2, 3]
    assert [p.stat().st_mtime_ns for p in sorted((out / "dft" / "labels").glob("*/*.json"))] == stamps
    assert again.rounds[1].choice["picks"] == picks  # the same choice, read back
    text = write_report(again, out).read_text()
    assert "| 1 | 3 | 3 |" in text and "round 1: " in text and f"{picks[0]['what']}: " in text
    # a finished run run again is read back: no training, no stability MD
    stamp = (out / "final-003calls.ckpt").stat().st_mtime_ns
    assert run_active(request(), out, log=lambda m: None).final == again.final
    assert (out / "final-003calls.ckpt").stat().st_mtime_ns == stamp
    # a resumed run keeps its settings: another seed is refused, a larger budget is not
    with pytest.raises(ConfigError, match="other settings"):
        run_active(request(seed=1), out, log=lambda m: None)
    # final_steps 0: the final model is the last round's member 0 itself (labels read from the cache)
    import shutil

    shutil.copytree(out / "dft", tmp_path / "copy" / "dft")
    for r in ("round-00", "round-01"):  # the same pools and choices: the copy labels nothing new
        for name in ("pool.extxyz", "choice.json"):
            (tmp_path / "copy" / r).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / r / name, tmp_path / "copy" / r / name)
    plain = run_active(request(final_steps=0), tmp_path / "copy", log=lambda m: None)
    member = sorted((tmp_path / "copy" / "round-01").glob("member-0*.ckpt"))[0]
    assert (tmp_path / "copy" / "final-003calls.ckpt").read_bytes() == member.read_bytes()
    assert set(plain.final.stability.report.by_temperature) == {"300"}  # and it ran its MD check
    copied = sorted((tmp_path / "copy" / "dft" / "labels").glob("*/*.json"))
    assert [p.stat().st_mtime_ns for p in copied] == stamps  # copytree keeps the times: nothing relabelled


def test_selection_prefers_uncertain_and_diverse_candidates():
    import numpy as np
    from ase.build import bulk

    from crosstrain.structure import Structure

    cells = []
    for k, a in enumerate([5.6, 5.6, 5.9]):
        atoms = bulk("Ge", "diamond", a=a, cubic=True)
        atoms.rattle(0.05, seed=k)
        cells.append(Structure.from_atoms(atoms))
    rng = np.random.default_rng(0)
    # 0 and 1 are near twins: after the most uncertain (0), the diverse 2 beats the twin 1
    picks = select(cells, 2, mode="uncertain", rng=rng, uncertainty=np.array([1.0, 0.9, 0.5]))
    assert [p.index for p in picks] == [0, 2]
    forces = np.zeros((2, 3, 3))
    forces[1, 2, 0] = 0.2  # one atom, two members 0.2 eV/Å apart
    assert force_deviation(forces) == pytest.approx(0.1)


def test_bad_requests_fail_before_any_dft_call():
    with pytest.raises(ConfigError, match="budget must be at least 1"):
        ActiveSettings(budget=0)
    with pytest.raises(ConfigError, match="committee of at least 2"):
        ActiveSettings(committee=1)
    r = request()
    bad = replace(r, config=replace(r.config, transfer=replace(r.config.transfer, element_map={"Ge": "C"})))
    with pytest.raises(SpeciesError, match="the parent has no C"):
        check_request(bad)
    unmapped = replace(r, config=replace(r.config, transfer=replace(r.config.transfer, element_map={})))
    with pytest.raises(SpeciesError, match="map it, e.g. --map Ge=Si"):
        check_request(unmapped)
    with pytest.raises(ConfigError, match="diamond-structure cells only"):
        check_request(replace(r, element="Cu"))


def test_stratified_selection_takes_turns_over_the_kinds_of_cell():
    import numpy as np
    from ase.build import bulk

    from crosstrain.structure import Structure

    cells = []
    for k, (kind, a) in enumerate([("surface", 5.6), ("surface", 5.9), ("surface", 5.3), ("bulk", 5.6), ("bulk", 5.8)]):
        atoms = bulk("Ge", "diamond", a=a, cubic=True)
        atoms.rattle(0.05, seed=k)
        s = Structure.from_atoms(atoms)
        cells.append(Structure(s.positions, s.numbers, s.cell, s.pbc, info={"kind": kind}))
    rng = np.random.default_rng(0)
    deviation = np.array([1.0, 0.9, 0.8, 0.2, 0.1])
    # uncertainty alone takes the three surfaces; stratified alternates, the surfaces (most uncertain) first
    assert sorted(p.index for p in select(cells, 3, mode="uncertain", rng=rng, uncertainty=deviation)) == [0, 1, 2]
    picks = select(cells, 3, mode="stratified", rng=rng, uncertainty=deviation)
    assert [cells[p.index].info["kind"] for p in picks] == ["surface", "bulk", "surface"]
    assert picks[0].index == 0 and "bulk cells' turn" in picks[1].why
    # no committee yet: the most plentiful kind first, farthest-point within each kind; a kind that
    # runs out leaves the rounds
    first = select(cells, 5, mode="stratified", rng=rng)
    assert [cells[p.index].info["kind"] for p in first] == ["surface", "bulk", "surface", "bulk", "surface"]
    # a frame the committee cannot evaluate ranks with the most uncertain
    nan = select(cells, 1, mode="stratified", rng=rng, uncertainty=np.array([0.5, 0.4, 0.3, np.nan, 0.1]))
    assert nan[0].index in (0, 3)
    with pytest.raises(ConfigError, match="'stratified' needs a committee of at least 2"):
        ActiveSettings(selection="stratified", committee=1)
    modes = {m: ActiveSettings(selection=m, committee=3).members_per_round for m in MODES}
    assert modes == {"uncertain": 3, "stratified": 3, "coverage": 3, "random": 1}  # all but random read it


def test_coverage_selection_weighs_uncertainty_by_how_much_of_the_pool_a_pick_covers():
    import numpy as np
    from ase.build import bulk

    from crosstrain.structure import Structure

    cells = []
    for k, a in enumerate([5.6, 5.6, 5.6, 6.3]):  # three near twins and one outlier
        atoms = bulk("Ge", "diamond", a=a, cubic=True)
        atoms.rattle(0.03, seed=k)
        cells.append(Structure.from_atoms(atoms))
    rng = np.random.default_rng(0)
    deviation = np.array([0.5, 0.55, 0.5, 0.9])
    # uncertainty alone takes the outlier; coverage takes the twin that covers the most deviation
    assert select(cells, 1, mode="uncertain", rng=rng, uncertainty=deviation)[0].index == 3
    picks = select(cells, 2, mode="coverage", rng=rng, uncertainty=deviation)
    assert picks[0].index in (0, 1, 2) and picks[1].index == 3  # then the twins are covered
    assert "covers the most uncovered committee force deviation" in picks[0].why
    # a labelled twin already covers the cluster: the outlier comes first
    assert select(cells, 1, mode="coverage", rng=rng, labelled=[cells[0]], uncertainty=deviation)[0].index == 3
    # no committee yet: the most representative candidate (a twin), not the farthest
    assert select(cells, 1, mode="coverage", rng=rng)[0].index in (0, 1, 2)
