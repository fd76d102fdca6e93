"""Physics validation (phonon bands, RDF/ADF from MD) on the SW reference, and the
temperature-transferability experiment on tiny real SW data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_model
from crosstrain.analysis.phonons import band_rms_difference, phonons
from crosstrain.analysis.references import sw_calculator
from crosstrain.errors import SpeciesError

pytest.importorskip("phonopy")


@pytest.fixture(scope="module")
def sw_phonons():
    return {e: phonons(e, lambda e=e: sw_calculator(e), a, npoints=11) for e, a in (("Si", 5.431), ("Ge", 5.654))}


def test_sw_band_structure_has_known_frequencies(sw_phonons):
    si = sw_phonons["Si"]
    gamma = np.sort(si.frequencies[0][0])  # first point of Γ-X
    assert gamma[:3] == pytest.approx([0, 0, 0], abs=0.05)  # acoustic branches vanish at Γ
    assert gamma[3:] == pytest.approx([17.83] * 3, abs=0.05)  # SW Si optical mode (properties test value)
    x_point = np.sort(si.frequencies[0][-1])
    assert x_point[0] == pytest.approx(6.65, abs=0.05)  # TA(X)
    dos = np.array(si.dos)
    assert np.trapezoid(dos, si.dos_frequencies) == pytest.approx(1.0, abs=1e-3)
    assert type(si).from_json(json.loads(json.dumps(si.to_json()))) == si


def test_band_difference_measures_distance(sw_phonons):
    si, ge = sw_phonons["Si"], sw_phonons["Ge"]
    assert band_rms_difference(si, si) == 0.0
    assert band_rms_difference(si, ge) > 3.0  # Ge is much softer (optical 10.6 vs 17.8 THz)


def test_validation_of_the_reference_against_itself(tmp_path):
    from crosstrain.workflows.validation import ValidationSettings, validate_models

    settings = ValidationSettings(temperatures=(900.0,), md_steps=120, equilibration_steps=40, frame_every=20)
    result = validate_models({}, "Si", tmp_path, settings=settings, log=lambda m: None)
    run = result.md["SW"]["900"]
    assert run.stable and run.frames == 5
    assert run.rdf_l1_to_reference == 0.0 and run.adf_overlap_with_reference == pytest.approx(1.0)
    r, g = np.array(run.r), np.array(run.rdf)
    assert 2.25 < r[np.argmax(g)] < 2.50  # first shell of Si at 2.35 Å
    angle, adf = np.array(run.angle), np.array(run.adf)
    assert 95 < angle[np.argmax(adf)] < 125  # tetrahedral 109.5°
    assert result.phonons["SW"].a0 == pytest.approx(5.431, abs=2e-3)
    assert result.phonons["SW"].band_rms_to_reference_THz == 0.0
    saved = json.loads((tmp_path / "validation.json").read_text())
    assert saved["element"] == "Si" and {"date", "machine", "versions"} <= set(saved)  # provenance among them
    assert type(result).from_json(saved) == result
    for name in ("phonons.png", "rdf.png", "adf.png", "report.md", "report.html"):
        assert (tmp_path / name).stat().st_size > 0


def test_validation_refuses_a_model_without_the_element(tmp_path):
    from crosstrain.io.checkpoint import save_checkpoint
    from crosstrain.workflows.validation import calculator_factories

    path = save_checkpoint(make_model(("Si",)), tmp_path / "si.ckpt")
    with pytest.raises(SpeciesError, match="si.ckpt"):
        calculator_factories({"si": str(path)}, "Ge")


def test_temperature_transfer_experiment(tmp_path, tiny_sw_data):
    from crosstrain.io.checkpoint import save_checkpoint
    from crosstrain.workflows.temperature_transfer import temperature_transfer

    source = save_checkpoint(make_model(("Si",)).float(), tmp_path / "si.ckpt")
    kwargs = dict(train_temperature=1400.0, per_temperature=2, steps=3, log=lambda m: None, models=2)
    r = temperature_transfer(tiny_sw_data, source, tmp_path / "t", **kwargs)
    assert r.train_temperature == 1500.0  # the nearest temperature in the data
    assert set(r.median_force_mae) == {"full", "scratch"} and r.models_per_arm == 2
    assert set(r.median_force_mae["full"]) == {"600", "1500"}
    assert len(set(r.train_structures)) == 2  # each model on its own structure
    assert all(len(v) == 2 * 2 for v in r.per_structure_force_mae["scratch"].values())  # 2 models x 2 tests
    assert all(len(v) == 2 for v in r.per_model_median_force_mae["full"].values())
    assert set(r.full_better_on_picks.values()) <= {"0 of 2", "1 of 2", "2 of 2"}
    assert (tmp_path / "t" / "force_by_temperature.png").stat().st_size > 0
    saved = json.loads((tmp_path / "t" / "temperature_transfer.json").read_text())
    assert type(r).from_json(saved) == r and "versions" in saved
    ckpt = tmp_path / "t" / "Ge_full_1.ckpt"
    before = ckpt.stat().st_mtime_ns
    from crosstrain.parallel import available_cores

    workers = min(2, available_cores())  # two where the machine has them (more than its cores is refused)
    again = temperature_transfer(tiny_sw_data, source, tmp_path / "t", **kwargs, workers=workers)  # reuses models
    assert ckpt.stat().st_mtime_ns == before  # and evaluates them on two worker processes
    for arm, by_t in r.median_force_mae.items():  # equal up to the rounding of other thread counts
        assert again.median_force_mae[arm] == pytest.approx(by_t, rel=1e-6)
    from crosstrain.errors import ConfigError

    with pytest.raises(ConfigError, match="more than the"):  # from Python as from the CLI
        temperature_transfer(tiny_sw_data, source, tmp_path / "t", **kwargs, workers=999)
