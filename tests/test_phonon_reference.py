"""The DFT phonon reference: GPAW labels of phonopy's displaced supercells (coarse settings, one
16-atom Si calculation of ~20 s for the module), the comparison of a model with it, and refusals."""

import json

import numpy as np
import pytest

from crosstrain.analysis.crystal import SPECIAL_POINTS, frequencies_at, phonopy_model
from crosstrain.analysis.references import sw_calculator
from crosstrain.cli import main
from crosstrain.dft import label as label_mod
from crosstrain.dft.phonons import (
    PhononReference,
    compare_phonons,
    read_reference,
    reference_phonopy,
    shipped_reference,
)

pytest.importorskip("gpaw")
pytest.importorskip("phonopy")
COARSE = ["--ecut", "150", "--kpoint-density", "1", "--a0", "5.431", "--workers", "1", "--no-eos"]


@pytest.fixture(scope="module")
def coarse_si(tmp_path_factory):
    out = tmp_path_factory.mktemp("si-phonons")
    assert main(["phonon-reference", "Si", "--out", str(out), *COARSE]) == 0
    return out


def test_a_reference_holds_forces_settings_and_frequencies(coarse_si):
    ref = read_reference(coarse_si / "phonon_reference.json")
    assert (ref.element, ref.a0, ref.cell, ref.supercell, ref.displacement) == ("Si", 5.431, "primitive", 2, 0.01)
    assert ref.settings["ecut_ev"] == 150 and ref.settings["density_tolerance"] == 1e-6  # the phonon default
    assert len(ref.forces) == 1 and np.asarray(ref.forces[0]).shape == (16, 3)
    assert abs(np.asarray(ref.forces[0]).sum(axis=0)).max() < 1e-3  # no net force
    gamma = sorted(ref.frequencies_THz["Gamma"])
    assert max(abs(f) for f in gamma[:3]) < 0.05  # acoustic sum rule
    assert 13.0 < gamma[5] < 17.5  # Si's optical phonon, PBE about 15 THz, at a coarse setting
    assert "150 eV" in ref.describe() and "16-atom" in ref.describe()
    # phonopy rebuilds the same frequencies from the stored forces
    ph = reference_phonopy(ref)
    for name, q in SPECIAL_POINTS.items():
        assert frequencies_at(ph, q) == pytest.approx(list(ref.frequencies_THz[name]), abs=1e-8)


def test_a_second_run_computes_nothing(coarse_si, monkeypatch):
    before = (coarse_si / "phonon_reference.json").read_text()
    monkeypatch.setattr(label_mod, "compute_label", None)  # any DFT call would fail
    assert main(["phonon-reference", "Si", "--out", str(coarse_si), *COARSE]) == 0
    assert json.loads((coarse_si / "phonon_reference.json").read_text())["forces"] == json.loads(before)["forces"]


def test_a_model_is_compared_in_the_references_cell(coarse_si, tmp_path):
    ref = read_reference(coarse_si / "phonon_reference.json")
    comparison, model_bands, ref_bands = compare_phonons(sw_calculator("Si"), ref)
    sw = phonopy_model("Si", sw_calculator("Si"), 5.431)  # the 64-atom cell: same Γ, X and L
    assert comparison.model_THz["Γ optical"] == pytest.approx(max(frequencies_at(sw, (0, 0, 0))), rel=1e-4)
    pbe = comparison.reference_THz["Γ optical"]
    assert comparison.error_percent["Γ optical"] == pytest.approx(100 * (comparison.model_THz["Γ optical"] / pbe - 1))
    assert 0 < comparison.dos_overlap < 1 and comparison.band_rms_THz > 0
    itself, _, _ = compare_phonons(lambda: _ForcesFrom(ref), ref)  # the reference against itself
    assert itself.worst_percent < 1e-6 and itself.dos_overlap == pytest.approx(1.0, abs=1e-6)
    assert PhononReference.from_json(json.loads(json.dumps(ref.to_json()))) == ref


class _ForcesFrom:
    """A calculator that returns the reference's own forces (the one displaced supercell)."""

    def __init__(self, ref):
        self.forces = np.asarray(ref.forces[0])

    def get_potential_energy(self, atoms=None):
        return 0.0

    def get_forces(self, atoms):
        return self.forces


def test_a_failed_calculation_writes_no_reference(tmp_path, capsys):
    out = tmp_path / "ref"
    assert main(["phonon-reference", "Si", "--out", str(out), *COARSE, "--max-scf-steps", "2"]) == 2
    assert "no reference written" in capsys.readouterr().err
    assert not (out / "phonon_reference.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Mo"], "diamond-structure elements only"),
        (["Si", "--supercell", "1"], "supercell 1: too small"),
        (["Si", "--displacement", "0.2"], "displacement 0.2"),
    ],
)
def test_a_reference_crosstrain_cannot_build_is_refused(tmp_path, capsys, args, message):
    assert main(["phonon-reference", *args, "--out", str(tmp_path / "x"), *COARSE]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_a_reference_for_another_element_is_refused_by_properties(coarse_si, capsys):
    ref = str(coarse_si / "phonon_reference.json")
    assert main(["properties", "--elements", "Ge", "--dft", "--phonon-reference", ref, "--no-reference"]) == 2
    assert "a phonon reference for Si, not one of Ge" in capsys.readouterr().err


@pytest.mark.parametrize(("element", "low", "high"), [("Si", 14.5, 15.8), ("Ge", 7.8, 8.8)])
def test_the_shipped_references_are_pbe_at_the_data_cell_and_the_phonon_defaults(element, low, high):
    from crosstrain.dft.cli import PHONON_DEFAULTS
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.workflows.properties import dft_reference

    ref = shipped_reference(element)
    assert ref is not None and ref.element == element
    settings = DFTSettings.from_dict(ref.settings)
    assert settings.sha256 == ref.settings_sha256 and settings == DFTSettings(**PHONON_DEFAULTS)
    assert ref.a0 == pytest.approx(dft_reference(element).a0, abs=1e-9)  # the models' data cell
    assert abs(ref.own_a0 / ref.a0 - 1) < 0.01
    assert low < max(ref.frequencies_THz["Gamma"]) < high  # PBE's optical phonon (experiment: 15.5, 9.1 THz)
    ph = reference_phonopy(ref)
    assert frequencies_at(ph, (0, 0, 0))[5] == pytest.approx(max(ref.frequencies_THz["Gamma"]), abs=1e-8)


def test_a_study_reports_each_models_phonons_and_elastic_constants_against_dft(coarse_si, tmp_path, monkeypatch):
    import copy
    import shutil

    from conftest import make_model
    from crosstrain.dft import phonons as phonons_mod
    from crosstrain.errors import ConfigError
    from crosstrain.study.jobs import property_numbers
    from crosstrain.study.spec import spec_from_dict
    from test_study import TINY

    doc = copy.deepcopy(TINY)
    doc.setdefault("report", {})["properties"] = True
    monkeypatch.setattr(phonons_mod, "SHIPPED", tmp_path)  # no reference shipped for the target
    with pytest.raises(ConfigError, match="report.properties: crosstrain ships no DFT phonon reference for Ge"):
        spec_from_dict(doc)
    shutil.copy(coarse_si / "phonon_reference.json", tmp_path / "Si.json")
    numbers = property_numbers("Si", make_model(("Si",)).double())
    assert {"phonon_gamma_error_pct", "phonon_worst_error_pct", "phonon_dos_overlap"} <= set(numbers)
    assert {"elastic_a0_error_pct", "elastic_C11_error_pct", "elastic_C44_clamped_error_pct"} <= set(numbers)
    assert abs(numbers["phonon_worst_error_pct"]) >= abs(numbers["phonon_gamma_error_pct"])
    assert 0 <= numbers["phonon_dos_overlap"] <= 1


def test_the_dft_demo_draws_the_pbe_dos_only_in_its_own_cell():
    from crosstrain.analysis.pdos import _trapezoid
    from crosstrain.workflows.demo import _pbe_dos
    from crosstrain.workflows.properties import dft_reference

    a0 = dft_reference("Ge").a0
    (name, (freqs, dos)), *rest = _pbe_dos(a0).items()
    assert not rest and name.startswith("PBE") and _trapezoid(dos, freqs) == pytest.approx(1.0, abs=1e-6)
    assert _pbe_dos(a0 + 0.05) == {}  # another cell: no curve rather than a wrong one
