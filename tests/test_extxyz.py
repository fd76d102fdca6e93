import numpy as np
import pytest

from conftest import rattled_si
from crosstrain.data.extxyz import read_structures, write_structures
from crosstrain.errors import CrosstrainError, DataFileError
from crosstrain.structure import Structure


def labelled(n=3):
    out = []
    for k in range(n):
        atoms = rattled_si(seed=k)
        rng = np.random.default_rng(k)
        out.append(
            Structure(
                atoms.positions,
                atoms.numbers,
                np.array(atoms.cell),
                atoms.pbc,
                energy=-40.0 - k,
                forces=rng.normal(size=(8, 3)),
                stress=rng.normal(size=(3, 3)) * 1e-3,
                info={"temperature": 300.0 * (k + 1), "group": "md"},
            )
        )
    return out


def test_round_trip(tmp_path):
    structures = labelled()
    path = write_structures(tmp_path / "d.extxyz", structures)
    back = read_structures(path, require=("energy", "forces", "stress"), element="Si")
    assert len(back) == 3
    for a, b in zip(structures, back):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-7)  # extxyz keeps 8 decimals
        np.testing.assert_allclose(a.forces, b.forces, atol=1e-7)
        np.testing.assert_allclose(0.5 * (a.stress + a.stress.T), b.stress, atol=1e-7)
        assert a.energy == b.energy and b.info["temperature"] == a.info["temperature"]
        assert b.source.endswith(f"record {back.index(b)}")


def test_missing_label_names_record(tmp_path):
    structures = labelled()
    structures[1] = Structure(structures[1].positions, structures[1].numbers, structures[1].cell, True, energy=1.0)
    path = write_structures(tmp_path / "d.extxyz", structures)
    with pytest.raises(DataFileError, match=r"d.extxyz record 1: missing label 'forces'"):
        read_structures(path, require=("forces",))


def test_wrong_element(tmp_path):
    path = write_structures(tmp_path / "d.extxyz", labelled())
    with pytest.raises(DataFileError, match="record 0: contains Si where only Ge is expected"):
        read_structures(path, element="Ge")


def test_nan_forces_named(tmp_path):
    path = write_structures(tmp_path / "d.extxyz", labelled())
    lines = path.read_text().splitlines()
    # first atom line of record 2 (each record: count, comment, 8 atoms)
    k = 2 * 10 + 2
    parts = lines[k].split()
    parts[-1] = "nan"
    lines[k] = " ".join(parts)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CrosstrainError, match=r"d.extxyz record 2: forces contains NaN"):
        read_structures(path)


@pytest.mark.parametrize("content, message", [("", "empty"), ("3\nnot extxyz\nSi 0 0\n", "malformed")])
def test_malformed_files(tmp_path, content, message):
    p = tmp_path / "bad.extxyz"
    p.write_text(content)
    with pytest.raises(DataFileError, match=message):
        read_structures(p)


def test_truncated_file_names_record(tmp_path):
    path = write_structures(tmp_path / "d.extxyz", labelled())
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:25]) + "\n")  # record 2 cut short
    with pytest.raises(DataFileError, match="record 2"):
        read_structures(path)


def test_empty_write_refused_and_no_partial_file(tmp_path):
    with pytest.raises(DataFileError):
        write_structures(tmp_path / "e.extxyz", [])
    assert list(tmp_path.iterdir()) == []
