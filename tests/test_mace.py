"""MACE (mace-torch) behind the model contract: physics invariants, exact element maps, checkpoints,
mace-torch model files in and out, and torch.load's weights-only guarantee after mace is imported."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import rattled_si
from crosstrain.errors import CheckpointError, ConfigError
from crosstrain.species import SpeciesMap

# the contract's physics tests, run again here on a MACE model (the ``model`` fixture below)
from test_model_physics import (  # noqa: F401 (collected by pytest)
    evaluate,
    test_batching_equals_one_by_one,
    test_cluster_and_isolated_atom_energies,
    test_energy_is_smooth_across_the_cutoff,
    test_forces_match_finite_differences,
    test_rotation_translation_permutation_invariance,
    test_stress_matches_finite_differences,
    test_supercell_is_extensive,
)

if importlib.util.find_spec("mace") is None:  # (importorskip would import mace outside crosstrain's guard)
    pytest.skip("mace-torch is not installed (pip install 'crosstrain[mace]')", allow_module_level=True)

from crosstrain.model.mace.config import MaceConfig  # noqa: E402
from crosstrain.model.mace.network import MACEModel  # noqa: E402

#: small and fast, but with vector features, body order 3 and two layers: every per-element tensor kind
TINY = MaceConfig(
    cutoff=4.0,
    num_bessel=6,
    max_ell=2,
    correlation=2,
    hidden_irreps="8x0e+8x1o",
    mlp_irreps="8x0e",
    radial_mlp=(16,),
    avg_num_neighbors=8.0,
)


def make_mace(elements=("Si",), seed: int = 0) -> MACEModel:
    torch.manual_seed(seed)
    model = MACEModel(TINY, SpeciesMap.from_elements(elements)).to(torch.float64)
    with torch.no_grad():
        for z in model.species:
            model.energy_shift[z] = -4.0 - 0.01 * z
            model.energy_scale[z] = 1.5
    return model.eval()  # type: ignore[return-value]


@pytest.fixture
def model() -> MACEModel:
    return make_mace()


def _energy(model, atoms) -> float:
    """Through the ASE calculator: its neighbour list covers the cutoff over the length scale."""
    from crosstrain.calculator import CrosstrainCalculator

    atoms = atoms.copy()
    atoms.calc = CrosstrainCalculator(model)
    return float(atoms.get_potential_energy())


def _ge(atoms):
    out = atoms.copy()
    out.set_chemical_symbols(["Ge"] * len(out))
    return out


def test_energies_and_forces_equal_mace_torch_own_calculator(model, si_atoms):
    from crosstrain.model.mace._library import mace_calculator
    from crosstrain.model.mace.files import mace_network

    MACECalculator = mace_calculator()  # noqa: N806

    ours = evaluate(model, [si_atoms], stress=True)
    theirs = si_atoms.copy()
    theirs.calc = MACECalculator(models=mace_network(model), device="cpu", default_dtype="float64")
    assert theirs.get_potential_energy() == pytest.approx(float(ours.energy[0]), abs=1e-9)
    np.testing.assert_allclose(theirs.get_forces(), ours.forces.numpy(), atol=1e-9)


def test_mapping_an_element_reproduces_the_parent_exactly():
    model = make_mace(("Si",))
    si = rattled_si()
    before = evaluate(model, [si])
    model.copy_element("Ge", "Si")
    assert model.species.symbols == ["Si", "Ge"] and model.table == [14, 32]
    for cell in (si, _ge(si)):
        after = evaluate(model, [cell])
        assert abs(float(after.energy[0]) - float(before.energy[0])) <= 1e-10
        np.testing.assert_allclose(after.forces.numpy(), before.forces.numpy(), atol=1e-10)


def test_growing_a_two_element_table_keeps_mixed_cells_exact():
    model = make_mace(("C", "Si"))
    mixed = rattled_si()
    mixed.numbers[[0, 3, 5]] = 6  # carbon on three sites
    before = _energy(model, mixed)
    model.copy_element("Ge", "Si")  # the table grows from 2 to 3 elements (e3nn's 1/sqrt(E) factors)
    assert _energy(model, mixed) == pytest.approx(before, abs=1e-10)
    as_ge = mixed.copy()
    as_ge.numbers[as_ge.numbers == 14] = 32
    assert _energy(model, as_ge) == pytest.approx(before, abs=1e-10)


def test_checkpoint_round_trip(tmp_path, model, si_atoms):
    from crosstrain.io.checkpoint import load_checkpoint, save_checkpoint

    model.copy_element("Ge", "Si")
    path = save_checkpoint(model, tmp_path / "m.ckpt")
    back = load_checkpoint(path).model
    assert back.architecture == "mace" and back.species.symbols == ["Si", "Ge"]
    for cell in (si_atoms, _ge(si_atoms)):
        assert _energy(back, cell) == pytest.approx(_energy(model, cell), abs=1e-12)


def _scaled_ge_model() -> MACEModel:
    """A Ge model as ``rescaled`` leaves it: length and energy scale, reference energy, float64."""
    model = make_mace(("Si",))
    model.copy_element("Ge", "Si")
    with torch.no_grad():
        model.length_scale[32] = 0.96
        model.energy_scale[32] = 0.83
        model.energy_shift[32] = -4.6
    return model


def test_exported_file_gives_the_same_energies_in_mace_calculator(tmp_path):
    from crosstrain.io.checkpoint import export_model

    model = _scaled_ge_model()
    cells = [_ge(rattled_si(a=5.66, seed=s)) for s in (1, 2)]
    path = export_model(model, tmp_path / "ge.model", elements=["Ge"])
    script = (
        "import sys; from ase.io import read; from mace.calculators import MACECalculator\n"
        "calc = MACECalculator(model_paths=sys.argv[1], device='cpu', default_dtype='float64')\n"
        "for a in read(sys.argv[2], ':'):\n    a.calc = calc; print(repr(a.get_potential_energy()))\n"
    )
    from ase.io import write

    write(tmp_path / "cells.extxyz", cells)
    # a fresh process, as a mace-torch user loads it (mace sets its own torch.load flag there)
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "cells.extxyz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    theirs = [float(x) for x in out[-2:]]
    for cell, e in zip(cells, theirs):
        assert e == pytest.approx(_energy(model, cell), abs=1e-8)
    # and read back as a crosstrain model (e.g. a parent): the same energies again
    from crosstrain.io.checkpoint import load_checkpoint

    back = load_checkpoint(path)
    assert back.model.species.symbols == ["Ge"] and back.meta.architecture == "mace"
    for cell, e in zip(cells, theirs):
        assert _energy(back.model.double(), cell) == pytest.approx(e, abs=1e-8)


def test_export_refuses_what_a_mace_file_cannot_hold(tmp_path):
    from conftest import make_model
    from crosstrain.io.checkpoint import export_model

    with pytest.raises(ConfigError, match="differ .*--elements Ge"):
        export_model(_scaled_ge_model(), tmp_path / "both.model")
    with pytest.raises(ConfigError, match="dimenet\\+\\+ model cannot be written as a mace-torch file"):
        export_model(make_model(), tmp_path / "d.model")
    assert not list(tmp_path.iterdir())  # nothing half-written


def _mace_torch_file(path, **settings):
    """A small ScaleShiftMACE written as mace_run_train writes one (E0 one row per head)."""
    from e3nn import o3

    from crosstrain.model.mace._library import mace_modules

    modules = mace_modules()
    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    kwargs = dict(
        atomic_inter_scale=1.3, atomic_inter_shift=0.1, r_max=4.0, num_bessel=6, num_polynomial_cutoff=5,
        max_ell=1, interaction_cls=block, interaction_cls_first=block, num_interactions=2, num_elements=1,
        hidden_irreps=o3.Irreps("4x0e+4x1o"), MLP_irreps=o3.Irreps("4x0e"), atomic_energies=np.array([[-4.2]]),
        avg_num_neighbors=8.0, atomic_numbers=[14], correlation=2, gate=torch.nn.functional.silu,
    )  # fmt: skip
    net = modules.ScaleShiftMACE(**{**kwargs, **settings}).double()
    torch.save(net, path)
    return net


def test_a_file_as_mace_run_train_writes_it_gives_the_same_energies(tmp_path):
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.model.mace._library import mace_calculator

    net = _mace_torch_file(tmp_path / "si.model")
    assert tuple(net.atomic_energies_fn.atomic_energies.shape) == (1, 1)  # one row per head
    cell = rattled_si()
    theirs = cell.copy()
    theirs.calc = mace_calculator()(models=net, device="cpu", default_dtype="float64")
    model = load_checkpoint(tmp_path / "si.model").model
    assert _energy(model, cell) == pytest.approx(theirs.get_potential_energy(), abs=1e-9)


def test_mace_files_crosstrain_cannot_map_exactly_are_refused_in_one_line(tmp_path):
    from crosstrain.io.checkpoint import load_checkpoint

    cases = {
        "zbl.model": ({"pair_repulsion": True}, "pair_repulsion=True: with it a per-element copy would not be exact"),
        "nogate.model": ({"gate": None}, "readout gate None"),
    }
    for name, (settings, reason) in cases.items():
        _mace_torch_file(tmp_path / name, **settings)
        with pytest.raises(CheckpointError, match=f"{name}: {reason}"):
            load_checkpoint(tmp_path / name)
    (tmp_path / "junk.model").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(CheckpointError, match="junk.model: not readable as a mace-torch"):
        load_checkpoint(tmp_path / "junk.model")
    # a torch archive under another name is never unpickled
    (tmp_path / "zbl.model").rename(tmp_path / "weights.pt")
    with pytest.raises(
        CheckpointError, match="weights.pt: a torch archive, not a crosstrain checkpoint; .*named \\*.model"
    ):
        load_checkpoint(tmp_path / "weights.pt")


class _Anything:
    pass


def test_torch_load_stays_weights_only_after_mace_is_imported(tmp_path):
    torch.save({"x": _Anything()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):  # the protection, before anything
        torch.load(tmp_path / "evil.pt")
    # a fresh process where only crosstrain imports mace (mace itself would switch the protection off)
    script = (
        "import os, pickle, sys, torch\n"
        "from crosstrain.model import build_model, preset\n"
        "from crosstrain.species import SpeciesMap\n"
        "build_model(preset('cpu', 'mace'), SpeciesMap.from_elements(['Si']))\n"
        "assert 'mace' in sys.modules and 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ\n"
        "sys.modules['__main__']._Anything = type('_Anything', (), {})\n"
        "try:\n    torch.load(sys.argv[1])\nexcept pickle.UnpicklingError:\n    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "evil.pt")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "refused"


def test_transfer_between_architectures_is_refused(model):
    from crosstrain.config import config_from_dict
    from crosstrain.io.checkpoint import Checkpoint, build_metadata
    from crosstrain.train.transfer import initialise

    parent = Checkpoint(model=model, meta=build_metadata(model))
    config = config_from_dict({"transfer": {"strategy": "full"}})  # the default architecture, dimenet++
    with pytest.raises(ConfigError, match="asks for a dimenet\\+\\+ model but the parent is mace"):
        initialise(config, {14}, parent)


def test_a_mace_config_is_chosen_by_name_and_round_trips():
    from crosstrain.config import config_from_dict

    cfg = config_from_dict({"model": {"architecture": "mace", "preset": "cpu", "hidden_irreps": "16x0e"}})
    assert isinstance(cfg.model, MaceConfig) and cfg.model.hidden_irreps == "16x0e"
    again = config_from_dict(cfg.to_dict())
    assert again.model == cfg.model
    with pytest.raises(ConfigError, match="model.hidden_channels: unknown key"):
        config_from_dict({"model": {"architecture": "mace", "hidden_channels": 8}})


def test_freeze_keeps_message_passing_and_trains_the_rest(model):
    frozen = {id(p) for p in model.interaction_parameters()}
    assert frozen and len(frozen) < len(list(model.parameters()))
    assert all(id(p) not in frozen for p in model.net.node_embedding.parameters())
    assert all(id(p) not in frozen for p in model.net.readouts.parameters())


def test_a_users_mace_file_is_a_parent_on_the_command_line(tmp_path, capsys):
    """``crosstrain transfer --from my_si.model --map Ge=Si``: a mace-torch file as the parent, then
    the fine-tuned checkpoint exported as a mace-torch file again."""
    from crosstrain.cli import main
    from crosstrain.data.extxyz import write_structures
    from crosstrain.io.checkpoint import export_model, file_sha256, load_checkpoint
    from crosstrain.pretrained import mlearn_split

    parent = export_model(make_mace(("Si",)), tmp_path / "my_si.model")
    parts = mlearn_split("Ge", valid=22, test=25, seed=0)
    data = write_structures(tmp_path / "ge.extxyz", parts["train"][:6])
    valid = write_structures(tmp_path / "valid.extxyz", parts["valid"][:3])
    out = tmp_path / "ge.ckpt"
    common = ["--data", str(data), "--valid", str(valid), "--out", str(out)]
    assert main(["transfer", "--from", str(parent), "--map", "Ge=Si", *common, "train.epochs=1"]) == 0
    ck = load_checkpoint(out)
    assert ck.meta.architecture == "mace" and ck.meta.parent.sha256 == file_sha256(parent)
    assert ck.meta.parent.strategy == "rescaled" and "Ge" in ck.model.species.symbols
    assert main(["export", str(out), "--out", str(tmp_path / "ge.model"), "--elements", "Ge"]) == 0
    assert load_checkpoint(tmp_path / "ge.model").model.species.symbols == ["Ge"]
    capsys.readouterr()
    # a transfer between architectures is one line, exit 2, nothing written
    other = tmp_path / "other.ckpt"
    argv = ["transfer", "--from", str(parent), "--map", "Ge=Si", "--data", str(data), "--out", str(other)]
    assert main([*argv, "model.architecture=dimenet++"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no transfer between architectures" in err and "\n" not in err and not other.exists()
