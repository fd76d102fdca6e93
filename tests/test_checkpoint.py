import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import make_model
from crosstrain.errors import CheckpointError
from crosstrain.graph import batch_graph
from crosstrain.io.checkpoint import (
    FORMAT_VERSION,
    Parent,
    file_sha256,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from crosstrain.model.derivatives import predict


def rewrite(path, change_meta=None, change_tensors=None):
    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()["crosstrain"])
    tensors = load_file(str(path))
    if change_meta:
        change_meta(meta)
    if change_tensors:
        change_tensors(tensors)
    save_file(tensors, str(path), metadata={"crosstrain": json.dumps(meta)})


@pytest.fixture
def saved(tmp_path, model):
    return save_checkpoint(model, tmp_path / "m.ckpt", training={"lr": 1e-3}, data_fingerprint="abc")


def test_round_trip_gives_identical_predictions(saved, model, si_structure):
    loaded = load_checkpoint(saved).model
    g = batch_graph([si_structure], cutoff=model.cutoff, dtype=torch.float64)
    a, b = predict(model, g, compute_stress=True), predict(loaded, g, compute_stress=True)
    assert torch.equal(a.energy, b.energy) and torch.equal(a.forces, b.forces) and torch.equal(a.stress, b.stress)
    meta = read_meta(saved)
    assert meta.species == ["Si"] and meta.cutoff == model.cutoff and meta.dtype == "float64"
    assert meta.units["energy"] == "eV" and meta.training == {"lr": 1e-3}
    assert meta.energy_shift["Si"] == pytest.approx(-4.14)
    assert meta.parent.strategy == "scratch" and meta.parent.sha256 == ""
    assert meta.data_fingerprint == "abc"


def test_parent_and_float32(tmp_path, saved):
    m32 = make_model().to(torch.float32)
    parent = Parent(sha256=file_sha256(saved), strategy="full", path=str(saved), element_map={"Ge": "Si"})
    p = save_checkpoint(m32, tmp_path / "child.ckpt", parent=parent)
    ck = load_checkpoint(p)
    assert ck.parent == parent and ck.model.dtype == torch.float32
    assert ck.model.energy_shift.dtype == torch.float64
    assert float(ck.model.energy_shift[14]) == pytest.approx(-4.14, abs=1e-12)


def test_newer_format_asks_to_upgrade(saved):
    rewrite(saved, change_meta=lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer.*upgrade crosstrain"):
        load_checkpoint(saved)


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_checkpoint(saved)


def test_garbage_file(tmp_path):
    p = tmp_path / "junk.ckpt"
    p.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="junk.ckpt"):
        load_checkpoint(p)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_metadata_not_matching_weights(saved):
    rewrite(saved, change_meta=lambda m: m["model"].update(hidden_channels=32))
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(saved)


def test_shift_mismatch_is_detected(saved):
    rewrite(saved, change_meta=lambda m: m["energy_shift"].update(Si=1.0))
    with pytest.raises(CheckpointError, match="energy_shift of Si"):
        load_checkpoint(saved)


def test_writes_are_atomic(tmp_path, model, monkeypatch):
    path = save_checkpoint(model, tmp_path / "m.ckpt")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", boom)
    with pytest.raises(OSError):
        save_checkpoint(make_model(seed=5), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]
    assert np.isfinite(load_checkpoint(path).model.energy_shift.numpy()).all()


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os

    from crosstrain.io.atomic import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_is_finished_only_for_the_final_checkpoint_of_a_run(tmp_path, model):
    from crosstrain.io.checkpoint import is_finished, save_checkpoint

    assert not is_finished(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    assert not is_finished(tmp_path / "junk.ckpt")
    assert not is_finished(save_checkpoint(model, tmp_path / "mid.ckpt"))  # e.g. an improvement mid-run
    assert is_finished(save_checkpoint(model, tmp_path / "end.ckpt", extra={"stopped": "epochs"}))


def test_metadata_is_one_typed_record_with_a_json_round_trip(tmp_path):
    from crosstrain.io.checkpoint import CheckpointMeta

    model = make_model(["Si", "Ge"])
    path = save_checkpoint(model, tmp_path / "m.ckpt", extra={"stopped": "done", "best_epoch": 3})
    meta = read_meta(path)
    assert meta.species == ["Si", "Ge"] and meta.stopped == "done" and meta.best_epoch == 3
    assert meta.format_version == FORMAT_VERSION and meta.parent.strategy == "scratch"
    assert CheckpointMeta.from_json(meta.to_json()) == meta
    with safe_open(str(path), framework="pt") as fh:
        assert json.loads(fh.metadata()["crosstrain"]) == meta.to_json()  # the flat JSON layout of format 1
    with pytest.raises(ValueError, match="may not overwrite"):
        save_checkpoint(model, tmp_path / "x.ckpt", extra={"species": ["Si"]})
