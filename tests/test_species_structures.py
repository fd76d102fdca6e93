import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from crosstrain.errors import SpeciesError, StructureError
from crosstrain.species import SpeciesMap, to_atomic_number
from crosstrain.structure import Structure


def test_atomic_numbers_and_symbols():
    assert to_atomic_number("Si") == 14
    assert to_atomic_number("ge") == 32
    assert to_atomic_number(32) == 32
    with pytest.raises(SpeciesError, match="unknown chemical element 'Xx'"):
        to_atomic_number("Xx")
    with pytest.raises(SpeciesError):
        to_atomic_number(0)


def test_species_map_is_ordered_and_serialisable():
    sm = SpeciesMap.from_elements(["Ge", "Si"])
    assert sm.numbers == (32, 14)
    assert SpeciesMap.from_json(sm.to_json()) == sm
    assert "Si" in sm and 32 in sm and "C" not in sm
    assert sm.with_element("C").symbols == ["Ge", "Si", "C"]
    with pytest.raises(SpeciesError, match="duplicate"):
        SpeciesMap((14, 14))


def test_species_check_names_unknown_element():
    with pytest.raises(SpeciesError, match="contains element.*C.*model elements: Si"):
        SpeciesMap.from_elements(["Si"]).check([14, 6, 14], source="file.xyz record 3")


def test_structure_round_trip_through_ase(si_atoms):
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(len(si_atoms), 3))
    stress = rng.normal(size=6)
    si_atoms.calc = SinglePointCalculator(si_atoms, energy=-40.0, forces=forces, stress=stress)
    si_atoms.info["temperature"] = 300.0
    s = Structure.from_atoms(si_atoms)
    assert s.energy == -40.0 and s.stress.shape == (3, 3)
    back = s.to_atoms()
    np.testing.assert_allclose(back.get_forces(), forces)
    np.testing.assert_allclose(back.get_stress(), stress)
    np.testing.assert_allclose(back.positions, si_atoms.positions)
    assert back.info["temperature"] == 300.0


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(positions=np.full((2, 3), np.nan)), "positions contains NaN"),
        (dict(cell=np.zeros((3, 3))), "zero volume"),
        (dict(forces=np.zeros((3, 3))), r"forces has shape \(3, 3\), expected \(2, 3\)"),
        (dict(forces=np.array([[0, 0, np.inf], [0, 0, 0]])), "forces contains NaN"),
        (dict(energy=float("nan")), "energy is NaN"),
        (dict(numbers=np.array([], dtype=int), positions=np.zeros((0, 3))), "non-empty"),
    ],
)
def test_bad_structures_name_their_source(change, message):
    base = dict(
        positions=np.zeros((2, 3)) + [[0, 0, 0], [1.2, 1.2, 1.2]],
        numbers=np.array([14, 14]),
        cell=np.eye(3) * 5.0,
        pbc=True,
        source="data.extxyz record 7",
    )
    base.update(change)
    with pytest.raises(StructureError, match=message) as info:
        Structure(**base)
    assert "data.extxyz record 7" in str(info.value)


def test_cluster_without_cell_is_fine():
    atoms = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 2.3]])
    s = Structure.from_atoms(atoms)
    assert not s.periodic and len(s) == 2
