"""Shipped parents and recipes: names resolve, entries describe how to rebuild them."""

import pytest

from crosstrain.config import recipes
from crosstrain.errors import CheckpointError
from crosstrain.pretrained import HERE, entries, index, resolve_model
from crosstrain.workflows.build_models import training_data


def test_index_entries_name_their_data_recipe_and_command(tmp_path):
    known = entries()
    assert {"si-dft", "si-sw"} <= set(known)
    for name, e in known.items():
        assert e.command == f"crosstrain models build {name}" and e.recipe in recipes()
    train, valid = training_data(known["si-dft"].data, tmp_path)
    assert (len(train), len(valid)) == (192, 22)
    assert {s.info["family"] for s in train}.isdisjoint(s.info["family"] for s in valid)


def test_shipped_models_load_and_carry_their_errors():
    from crosstrain.io.checkpoint import load_checkpoint

    for name, e in index().items():
        ck = load_checkpoint(resolve_model(name))
        assert e.data.element in ck.model.species.symbols and (HERE / e.file).stat().st_size < 10e6
        assert e.errors is not None and e.errors["force_mae"] > 0
    with pytest.raises(CheckpointError, match="no shipped model"):
        resolve_model("si-nonexistent")
