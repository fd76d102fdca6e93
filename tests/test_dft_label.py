"""DFT labels from GPAW on a two-atom Ge cell (coarse settings, a few seconds per SCF)."""

import json

import numpy as np
import pytest

from crosstrain.cli import main
from crosstrain.data.extxyz import read_structures, write_structures
from crosstrain.dft import label as label_mod
from crosstrain.dft.label import DFTCodeMissing, compute_label, label_structures, structure_key
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

pytest.importorskip("gpaw")
COARSE = DFTSettings(ecut_ev=150, kpoint_density=1.0)


def ge2(shift=(0.05, -0.03, 0.02), a=5.70):
    from ase.build import bulk

    atoms = bulk("Ge", "diamond", a=a)
    atoms.positions[1] += shift
    return Structure.from_atoms(atoms, source="ge2")


def test_gpaw_forces_are_minus_the_energy_gradient():
    tight = DFTSettings(ecut_ev=150, kpoint_density=1.0, energy_tolerance_ev=1e-8, density_tolerance=1e-7)
    s = ge2()
    label = compute_label(s, tight)
    assert label.ok and np.isfinite(label.energy)
    forces = np.array(label.forces)
    assert np.abs(forces.sum(axis=0)).max() < 1e-3  # no net force
    h = 0.0025  # the central difference's own error is ~h^2 (3e-3 eV/Å at h = 0.01 on this cell)
    energies = []
    for sign in (1, -1):
        p = s.positions.copy()
        p[1, 0] += sign * h
        shifted = Structure(p, s.numbers, s.cell, s.pbc)
        energies.append(compute_label(shifted, tight).energy)
    assert forces[1, 0] == pytest.approx(-(energies[0] - energies[1]) / (2 * h), abs=3e-4)
    assert np.array(label.stress).shape == (3, 3)


def test_labels_are_cached_resumed_and_failures_recorded(tmp_path, monkeypatch):
    structures = [ge2(), ge2(shift=(0.0, 0.04, 0.0))]
    run = label_structures(structures, tmp_path, COARSE)
    assert (run.computed, run.reused, len(run.failed)) == (2, 0, 0)
    out = read_structures(tmp_path / "labelled.extxyz", require=("energy", "forces", "stress"))
    assert [s.info["label_key"] for s in out] == [structure_key(s) for s in structures]
    assert json.loads((tmp_path / "settings.json").read_text())["sha256"] == COARSE.sha256
    # a second run computes nothing (the DFT code is never called)
    monkeypatch.setattr(label_mod, "compute_label", None)
    again = label_structures(structures + structures[:1], tmp_path, COARSE)
    assert (again.computed, again.reused) == (0, 3)
    assert [x.energy for x in again.labels[:2]] == [x.energy for x in run.labels]


def test_an_scf_that_does_not_converge_is_a_failed_label_not_a_crash(tmp_path):
    strict = DFTSettings(ecut_ev=150, kpoint_density=1.0, max_scf_steps=2)
    run = label_structures([ge2()], tmp_path, strict)
    assert len(run.failed) == 1
    assert "did not converge within max_scf_steps=2" in run.failed[0].reason
    assert not (tmp_path / "labelled.extxyz").exists()
    assert json.loads((tmp_path / "failed.json").read_text())[0]["source"] == "ge2"
    # other settings are another cache: the failure is not reused for them
    assert label_structures([ge2()], tmp_path, COARSE).computed == 1


def test_label_command_and_its_errors(tmp_path, capsys, monkeypatch):
    data = tmp_path / "in.extxyz"
    write_structures(data, [ge2()])
    argv = ["label", str(data), "--out", str(tmp_path / "lab"), "--ecut", "150", "--kpoint-density", "1.0"]
    assert main(argv) == 0
    assert "1 of 1 structures labelled (1 computed" in capsys.readouterr().out
    from crosstrain.parallel import available_cores

    too_many = str(available_cores() + 1)
    assert main(argv + ["--workers", too_many]) == 2
    assert f"--workers {too_many}: choose 1 to" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="ecut_ev must be positive"):
        DFTSettings(ecut_ev=0)
    with pytest.raises(ConfigError, match="unknown DFT setting"):
        DFTSettings.from_dict({"encut": 400})
    import builtins

    real_import = builtins.__import__

    def no_gpaw(name, *args, **kwargs):
        if name == "gpaw":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gpaw)
    with pytest.raises(DFTCodeMissing, match="apt-get install g\\+\\+ libxc-dev"):
        label_structures([ge2()], tmp_path / "x", COARSE)


def test_another_paw_setup_is_a_setting_of_its_own(tmp_path, capsys):
    """``setups`` (GPAW's 1-electron Na) enters the hash only when given: every earlier label keeps its hash."""
    from ase.build import bulk

    assert "setups" not in DFTSettings().to_dict()
    one = DFTSettings(ecut_ev=150, kpoint_density=1.0, setups={"Na": "1"})
    assert one.sha256 != COARSE.sha256 and DFTSettings.from_dict(one.to_dict()) == one
    assert one.to_dict()["setups"] == {"Na": "1"} and one.gpaw_parameters()["setups"] == {"Na": "1"}
    with pytest.raises(ConfigError, match="element=setup pairs"):
        DFTSettings(setups=["Na"])
    atoms = bulk("Na", "bcc", a=4.2, cubic=True)
    atoms.positions[1] += (0.05, 0.0, 0.0)
    na = Structure.from_atoms(atoms, source="na2")
    semicore, valence = compute_label(na, COARSE), compute_label(na, one)
    assert semicore.ok and valence.ok
    assert abs(valence.energy - semicore.energy) > 0.01  # another setup was used (GPAW: energies vs its atoms)
    assert np.allclose(valence.forces, semicore.forces, atol=0.05)  # the same physics
    path = write_structures(tmp_path / "na.extxyz", [na])
    assert (
        main(
            ["label", str(path), "--out", str(tmp_path / "l"), "--ecut", "150", "--kpoint-density", "1"]
            + ["--setups", "Na=1", "--workers", "1"]
        )
        == 0
    )
    assert json.loads((tmp_path / "l" / "settings.json").read_text())["sha256"] == one.sha256
    with pytest.raises(SystemExit) as stop:
        main(["label", str(path), "--out", str(tmp_path / "l"), "--setups", "Na"])
    assert stop.value.code == 2
    assert "setups must look like Na=1" in capsys.readouterr().err
