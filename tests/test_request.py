"""The run request: defaults come from the parent and the data, each choice says where it came from."""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain.cli import main
from crosstrain.config import load_config
from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.pretrained import mlearn_split
from crosstrain.request import DFT_RECIPE, FINETUNE_LR_FACTOR, RunRequest, resolve
from crosstrain.structure import Structure


@pytest.fixture(scope="module")
def ge() -> dict[str, list[Structure]]:
    parts = mlearn_split("Ge", valid=22, test=25, seed=0)
    return {"train": parts["train"][:12], "valid": parts["valid"][:4]}


def forces_only(structures: list[Structure]) -> list[Structure]:
    return [Structure(s.positions, s.numbers, s.cell, s.pbc, forces=s.forces, source=s.source) for s in structures]


def test_shipped_parent_decides_recipe_strategy_and_map(ge):
    r = resolve(ge["train"], valid=ge["valid"], parent="si-dft5")
    explicit = resolve(
        ge["train"],
        valid=ge["valid"],
        parent="si-dft5",
        config="dft-cpu5-finetune",
        strategy="rescaled",
        element_map={"Ge": "Si"},
    )
    assert r.config == explicit.config  # the shortest command is the explicit best recipe
    assert r.choice("recipe").value == "dft-cpu5-finetune" and r.choice("recipe").source == "parent si-dft5"
    assert r.choice("strategy").value == "rescaled" and r.choice("map").value == "Ge=Si"
    assert "inferred" in r.choice("map").source
    assert r.config.train.loss == "energy_forces_stress"
    line = r.describe()
    assert "dft-cpu5-finetune (parent si-dft5)" in line and "map Ge=Si" in line


def test_parent_decides_architecture_without_config(ge):
    """The issue's first command: a 5 Å parent and no model setting from the user is no conflict."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model

    for name in ("si-dft5", "si-dft"):
        r = resolve(ge["train"], valid=ge["valid"], parent=name, strategy="rescaled")
        assert r.config.model == load_checkpoint(resolve_model(name)).model.config


def test_explicit_model_setting_that_conflicts_names_the_key(ge):
    with pytest.raises(ConfigError, match=r"model\.cutoff .*4\.2.*differs from the parent's 5\.0"):
        resolve(ge["train"], parent="si-dft5", overrides=["model.cutoff=4.2"])
    with pytest.raises(ConfigError, match=r"model\.cutoff.*dft-cpu5-finetune.*parent's 4\.2"):
        resolve(ge["train"], parent="si-dft", config="dft-cpu5-finetune")  # a recipe for another architecture
    # an explicit setting equal to the parent's is fine
    resolve(ge["train"], valid=ge["valid"], parent="si-dft5", overrides=["model.cutoff=5.0"])


def test_map_naming_an_element_the_parent_lacks(ge, capsys):
    with pytest.raises(SpeciesError, match="parent model has no C"):
        from crosstrain.train.pipeline import start

        r = resolve(ge["train"], parent="si-dft5", element_map={"Ge": "C"})
        start(r.config, list(r.data))


def test_train_on_energies_uses_the_dft_recipe(ge):
    r = resolve(ge["train"], valid=ge["valid"])
    assert r.config == resolve(ge["train"], valid=ge["valid"], config=DFT_RECIPE).config
    assert r.choice("recipe").value == DFT_RECIPE and r.choice("strategy").value == "scratch"


def test_data_decide_the_loss(ge):
    bare = forces_only(ge["train"])
    r = resolve(bare, valid=forces_only(ge["valid"]), parent="si-dft5")
    assert r.config.train.loss == "forces" and r.choice("loss").source == "data: forces only"
    assert r.config.train.select_on == "forces"
    assert resolve(bare).config.train.loss == "forces"
    with pytest.raises(ConfigError, match="no energy, but train.loss=energy_forces"):
        resolve(bare, overrides=["train.loss=energy_forces"])
    with pytest.raises(ConfigError, match="no energy"):
        resolve(bare, config="dft-cpu5")  # a recipe the user named that needs energies


def test_parent_file_fine_tunes_at_a_smaller_rate(ge, tmp_path):
    import shutil

    from crosstrain.pretrained import HERE

    own = tmp_path / "mine.ckpt"
    shutil.copy(HERE / "si-dft5.ckpt", own)
    own.write_bytes(own.read_bytes())  # same bytes: still recognised as shipped by checksum
    r = resolve(ge["train"], valid=ge["valid"], parent=str(own))
    assert r.choice("recipe").source == "parent si-dft5"
    from crosstrain.io.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(own)
    other = tmp_path / "other.ckpt"
    save_checkpoint(ck.model, other, training={**ck.meta.training, "lr": 1e-3, "epochs": 7})
    r = resolve(ge["train"], valid=ge["valid"], parent=str(other))
    assert r.config.train.lr == pytest.approx(1e-3 * FINETUNE_LR_FACTOR) and r.config.train.epochs == 7
    assert r.choice("strategy").value == "rescaled" and "parent file" in r.choice("recipe").source


def test_missing_valid_is_a_seeded_family_aware_share(ge):
    a = resolve(ge["train"], parent="si-dft5")
    b = resolve(ge["train"], parent="si-dft5")
    assert a.valid is not None and len(a.valid) >= 1 and len(a.data) + len(a.valid) == len(ge["train"])
    assert [s.source for s in a.valid] == [s.source for s in b.valid]
    assert not {s.source for s in a.valid} & {s.source for s in a.data}
    tiny = resolve(ge["train"][:3], parent="si-dft5")
    assert tiny.valid is None and "fewer than" in tiny.choice("validation").value


def test_smoke_switch(ge, monkeypatch):
    monkeypatch.setenv("CROSSTRAIN_SMOKE", "1")
    r = resolve(ge["train"], valid=ge["valid"], parent="si-dft5")
    assert r.config.train.epochs == 2 and not r.config.train.compile and r.choice("smoke")


def test_cli_bad_requests_are_one_line_exit_2_nothing_written(tmp_path, capsys, ge):
    from crosstrain.data.extxyz import write_structures

    data = write_structures(tmp_path / "ge.extxyz", ge["train"])
    bare = write_structures(tmp_path / "bare.extxyz", forces_only(ge["train"]))
    out = tmp_path / "out.ckpt"
    cases = [
        (
            ["transfer", "--from", "si-dft5", "--data", str(data), "--out", str(out), "--set", "model.cutoff=4.2"],
            "model.cutoff",
        ),
        (
            ["transfer", "--from", "si-dft", "--config", "dft-cpu5", "--data", str(data), "--out", str(out)],
            "model.cutoff",
        ),
        (["train", "--config", "dft-cpu5", "--data", str(bare), "--out", str(out)], "bare.extxyz"),
        (["transfer", "--from", "si-dft5", "--map", "Ge=Xx", "--data", str(data), "--out", str(out)], "Xx"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("crosstrain: error:") and needle in err and "\n" not in err
        assert not out.exists()


def test_request_is_frozen_and_serialisable(ge):
    import json

    r = resolve(ge["train"], valid=ge["valid"], parent="si-dft5")
    assert isinstance(r, RunRequest)
    with pytest.raises(AttributeError):
        r.config = None  # type: ignore[misc]
    doc = json.loads(json.dumps(r.to_json()))
    assert doc["choices"]["strategy"] == {"value": "rescaled", "source": "parent si-dft5"}
    assert np.isclose(doc["config"]["train"]["lr"], load_config("dft-cpu5-finetune").train.lr)
