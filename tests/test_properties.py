"""Crystal properties through ASE, checked on the Stillinger-Weber potential.

Literature values for SW Si: a0 5.431 Å, E_coh 4.3366 eV (Stillinger & Weber 1985); C11 151.4,
C12 76.4, C44 56.4 GPa (relaxed; Cowley, Phys. Rev. B 37, 9876 (1988), also Balamane et al.,
Phys. Rev. B 46, 2250 (1992)); relaxed vacancy formation energy 2.82 eV (Balamane et al. 1992).
"""

import json

import pytest

from crosstrain.analysis.crystal import (
    elastic_constants,
    equation_of_state,
    isolated_atom_energy,
    phonon_frequencies,
    vacancy_formation_energy,
)
from crosstrain.analysis.references import sw_calculator
from crosstrain.cli import main

pytest.importorskip("matscipy")
pytest.importorskip("phonopy")


def test_sw_si_equation_of_state_and_elastic_constants():
    eos = equation_of_state("Si", sw_calculator("Si"), 5.40)
    assert eos["a0"] == pytest.approx(5.431, abs=2e-3)
    assert isolated_atom_energy("Si", sw_calculator("Si")) - eos["energy_per_atom"] == pytest.approx(4.3366, abs=1e-3)
    c = elastic_constants("Si", sw_calculator("Si"), eos["a0"])
    assert c["C11"] == pytest.approx(151.4, rel=0.01)
    assert c["C12"] == pytest.approx(76.4, rel=0.01)
    assert c["C44"] == pytest.approx(56.4, rel=0.01)
    assert eos["bulk_modulus"] == pytest.approx((c["C11"] + 2 * c["C12"]) / 3, rel=0.01)  # two routes agree


def test_sw_si_vacancy_and_phonons():
    e = vacancy_formation_energy("Si", sw_calculator("Si"), 5.431)
    assert e.unrelaxed == pytest.approx(2 * 2.1683, abs=1e-6)  # four bonds of -eps broken, exactly 2 eps
    assert e.relaxed == pytest.approx(2.82, abs=0.05)
    freqs = phonon_frequencies("Si", sw_calculator("Si"), 5.431)
    assert max(abs(f) for f in freqs["Gamma"][:3]) < 1e-3  # acoustic modes vanish at Γ
    assert min(freqs["Gamma"][3:]) == pytest.approx(max(freqs["Gamma"]), rel=1e-6)  # triply degenerate optical
    assert 0 < min(freqs["X"]) < min(freqs["Gamma"][3:])


def test_properties_command_for_a_model_and_the_reference(tmp_path, capsys):
    from conftest import make_model
    from crosstrain.io.checkpoint import save_checkpoint

    ckpt = save_checkpoint(make_model(), tmp_path / "m.ckpt")
    out = tmp_path / "props.json"
    assert main(["properties", str(ckpt), "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert set(table["Si"]) == {"model", "sw"}
    from crosstrain.workflows.properties import PropertiesTable

    read = PropertiesTable.from_json(table).elements["Si"]  # the written table reads back
    assert read.sw is not None and pytest.approx(56.4, rel=0.02) == read.sw.C44 and read.model is not None
    assert "C44 (GPa)" in capsys.readouterr().out


def _sw_elastic_set(element: str, a0: float) -> list:
    """Strain states like the mlearn Elastic group (64-atom cells, ions not relaxed), on SW."""
    import numpy as np
    from ase.build import bulk

    from crosstrain.structure import Structure

    base = bulk(element, "diamond", a=a0, cubic=True) * (2, 2, 2)
    out = []
    for i, j in ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)):
        for d in (-0.02, -0.01, 0.01, 0.02, 0.06):  # the 6 % state must be left out of the fit
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = d
            atoms = base.copy()
            atoms.set_cell(np.array(base.cell) @ (np.eye(3) + eps), scale_atoms=True)
            atoms.calc = sw_calculator(element)
            atoms.get_stress()  # the labels Structure.from_atoms reads from the calculator
            s = Structure.from_atoms(atoms)
            s.info["group"] = "Elastic"
            out.append(s)
    return out


def test_elastic_fit_of_strained_cells_recovers_the_potential_constants():
    from crosstrain.analysis.dft_reference import elastic_reference

    ref = elastic_reference(_sw_elastic_set("Si", 5.431))
    direct = elastic_constants("Si", sw_calculator("Si"), 5.431)
    assert ref.a0 == pytest.approx(5.431, abs=2e-3) and ref.a0_cell == pytest.approx(5.431)
    compressed = elastic_reference(_sw_elastic_set("Si", 5.40))  # states around a compressed cell
    assert compressed.a0_cell == pytest.approx(5.40) and compressed.a0 == pytest.approx(5.431, abs=3e-3)
    assert pytest.approx(direct["C11"], rel=0.01) == ref.C11
    assert pytest.approx(direct["C12"], rel=0.01) == ref.C12
    assert pytest.approx(direct["C44_clamped"], rel=0.01) == ref.C44  # unrelaxed shears: C44⁰
    assert direct["C44_clamped"] > direct["C44"]  # internal relaxation softens the shear


def test_dft_reference_from_the_mlearn_data():
    from crosstrain.workflows.properties import dft_reference

    si, ge = dft_reference("Si"), dft_reference("Ge")
    assert si.a0_cell == pytest.approx(5.469, abs=1e-3) and ge.a0_cell == pytest.approx(5.754, abs=1e-3)
    # the cells are compressed (Ge by ~1 GPa): PBE at zero stress is larger (GPAW gives 5.77 Å for Ge)
    assert si.a0 == pytest.approx(5.472, abs=2e-3) and ge.a0 == pytest.approx(5.787, abs=2e-3)
    assert 140 < si.C11 < 165 and 50 < si.C12 < 65  # PBE silicon
    assert ge.C11 < si.C11 and ge.bulk_modulus < si.bulk_modulus  # Ge is softer
    assert abs(si.residual_stress) < 1.0  # the cell with the most common edge is unstrained


def test_bcc_properties_and_a_crystal_reference_column(tmp_path, capsys):
    """bcc Na through LAMMPS's MEAM potential (a real potential, not a reference): a cubic crystal's
    elastic response, a positive relaxed vacancy energy, no phonons (diamond only); a crystal
    reference made from it is the table's ``gpaw`` column, and Na has no SW column."""
    from crosstrain.analysis.crystal import crystal_properties
    from crosstrain.data.lammps import meam_calculator
    from crosstrain.dft.crystal_reference import REFERENCE_PLAN, CrystalReference
    from crosstrain.workflows.properties import PropertiesTable, format_table, properties_table

    p = crystal_properties("Na", meam_calculator("Na"), 4.2, plan=REFERENCE_PLAN)
    assert 4.0 < p.a0 < 4.4 and p.phonons_THz is None and p.cohesive_energy is None
    assert p.C11 > p.C12 > 0 and p.C44 > 0 and pytest.approx(p.C44_clamped, rel=1e-3) == p.C44
    assert pytest.approx(p.bulk_modulus, rel=0.05) == (p.C11 + 2 * p.C12) / 3
    v = p.vacancy_formation_energy
    assert 0 < v.relaxed <= v.unrelaxed and set(v.relaxed_from) == {"symmetric"}
    ref = CrystalReference("Na", "bcc", p, {"code": "meam"}, "x", "", 1, 0.0, "test")
    table = properties_table(None, ["Na"], dft=True, crystal_references={"Na": ref})
    assert list(table.elements["Na"].columns()) == ["gpaw"] and table.elements["Na"].gpaw == p
    assert PropertiesTable.from_json(json.loads(json.dumps(table.to_json()))) == table
    assert "Na gpaw" in format_table(table)
    # mlearn's Elastic fit assumes diamond cells: a bcc element without a crystal reference gets no DFT column
    assert properties_table(None, ["Li"], dft=True).elements["Li"].columns() == {}
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(ref.to_json()))
    assert main(["properties", "--elements", "Si", "--dft", "--crystal-reference", str(path)]) == 2
    assert "a crystal reference for Na, not one of Si" in capsys.readouterr().err
