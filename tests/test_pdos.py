"""Phonon DOS from the velocity autocorrelation, against an exact oscillator and phonopy."""

import numpy as np
import pytest
from ase.build import bulk

from crosstrain.analysis.pdos import harmonic_dos, overlap, pdos_from_velocities

pytest.importorskip("matscipy")
pytest.importorskip("phonopy")


def test_single_oscillator_peaks_at_its_frequency():
    dt_fs, nu_thz = 2.0, 10.0
    t = np.arange(3000) * dt_fs * 1e-15
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, size=(4, 3))
    v = np.cos(2 * np.pi * nu_thz * 1e12 * t[:, None, None] + phases[None])
    freqs, dos = pdos_from_velocities(v, np.ones(4), dt_fs, max_lag_ps=2.0)
    assert freqs[np.argmax(dos)] == pytest.approx(nu_thz, abs=0.5)  # resolution 1/(2 ps) = 0.5 THz
    assert np.trapezoid(dos, freqs) == pytest.approx(1.0)


def test_sw_md_pdos_matches_harmonic_phonopy_dos():
    from crosstrain.analysis.crystal import phonopy_model
    from crosstrain.analysis.references import sw_calculator
    from crosstrain.md.run import MDSettings, run_md

    atoms = bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2)
    r = run_md(atoms, sw_calculator("Si"), MDSettings(temperature=300, steps=1000, ensemble="nve", velocities_every=2))
    freqs, md = pdos_from_velocities(r.velocities, r.masses, 2.0, max_lag_ps=1.0)
    harmonic = harmonic_dos(phonopy_model("Si", sw_calculator("Si"), 5.431), freqs, sigma=0.5)
    assert freqs[np.argmax(md)] == pytest.approx(freqs[np.argmax(harmonic)], abs=1.0)  # optical peak ~16.5 THz
    assert overlap(freqs, md, harmonic) > 0.4
