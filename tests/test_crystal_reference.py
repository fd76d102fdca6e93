"""The DFT crystal reference: GPAW as a cached ASE calculator behind the same property code as a
model's (coarse settings on Na cells, a second or two per SCF)."""

import json

import numpy as np
import pytest
from ase.build import bulk

from crosstrain.analysis.crystal import PropertyPlan, crystal_properties
from crosstrain.cli import main
from crosstrain.dft.crystal_reference import (
    REFERENCE_FILE,
    CachedDFT,
    read_crystal_reference,
)
from crosstrain.dft.label import compute_label
from crosstrain.dft.settings import DFTSettings
from crosstrain.structure import Structure

pytest.importorskip("gpaw")
COARSE = DFTSettings(ecut_ev=150, kpoint_density=1.5, setups=(("Na", "1"),))


def strained_na():
    atoms = bulk("Na", "bcc", a=4.2, cubic=True)
    atoms.set_cell(np.array(atoms.cell) @ (np.eye(3) + [[0.01, 0.004, 0], [0.004, 0, 0], [0, 0, -0.01]]), True)
    atoms.positions[1] += (0.03, -0.02, 0.01)
    return atoms


def test_the_cached_calculator_equals_the_label_and_reuses_it(tmp_path):
    atoms = strained_na()
    with CachedDFT(COARSE, tmp_path) as calc:
        atoms.calc = calc
        energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False)
    assert len(calc.computed) == 1 and calc.reused == 0
    label = compute_label(Structure.from_atoms(atoms, read_labels=False), COARSE)
    assert energy == pytest.approx(label.energy, abs=1e-6)
    assert np.allclose(forces, label.forces, atol=1e-5) and np.abs(forces).max() > 1e-3
    assert np.allclose(stress, label.stress, atol=1e-7) and np.allclose(stress, stress.T)
    again = strained_na()
    with CachedDFT(COARSE, tmp_path) as calc2:
        again.calc = calc2
        assert again.get_potential_energy() == energy  # from the cache, bit for bit
    assert calc2.computed == [] and calc2.reused == 1


def test_a_failed_calculation_stops_the_reference_with_one_line(tmp_path, capsys):
    code = main(["crystal-reference", "Na", "--out", str(tmp_path), "--setups", "Na=1", "--max-scf-steps", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "the DFT calculation failed" in err[0] and "no reference" in err[0]
    assert not (tmp_path / REFERENCE_FILE).exists()
    code = main(["crystal-reference", "Mg", "--out", str(tmp_path / "mg")])
    assert code != 0 and "hcp" in capsys.readouterr().err


def test_bcc_properties_through_the_dft_calculator_resume_from_the_cache(tmp_path):
    """The equation of state and the elastic constants of coarse bcc Na: a cubic crystal's
    stress response (positive constants, B = (C11 + 2 C12)/3 within the two fits' difference), and a
    second run computes nothing."""
    plan = PropertyPlan(vacancy=False, phonons=False, cohesive=False)
    with CachedDFT(COARSE, tmp_path) as calc:
        p = crystal_properties("Na", calc, 4.2, plan=plan)
    assert 3.9 < p.a0 < 4.4 and p.cohesive_energy is None and p.phonons_THz is None
    assert min(p.C11, p.C12, p.C44) > 0 and pytest.approx(p.C44_clamped, rel=1e-3) == p.C44  # bcc: no ion moves
    assert pytest.approx(p.bulk_modulus, rel=0.25) == (p.C11 + 2 * p.C12) / 3
    with CachedDFT(COARSE, tmp_path) as calc:
        again = crystal_properties("Na", calc, 4.2, plan=plan)
    assert calc.computed == [] and again == p


@pytest.mark.slow
def test_the_crystal_reference_command_writes_its_record(tmp_path, capsys):
    args = ["crystal-reference", "Na", "--out", str(tmp_path), "--setups", "Na=1", "--ecut", "150"]
    assert main([*args, "--kpoint-density", "1.5"]) == 0
    ref = read_crystal_reference(tmp_path / REFERENCE_FILE)
    assert ref.crystal == "bcc" and ref.properties.vacancy_formation_energy.relaxed > 0
    assert json.loads((tmp_path / REFERENCE_FILE).read_text())["command"].startswith("crosstrain crystal-reference Na")
