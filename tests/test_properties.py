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
    assert e["unrelaxed"] == pytest.approx(2 * 2.1683, abs=1e-6)  # four bonds of -eps broken, exactly 2 eps
    assert e["relaxed"] == pytest.approx(2.82, abs=0.05)
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
    assert "C44 (GPa)" in capsys.readouterr().out
