"""Phonon densities of states: from MD (velocity autocorrelation) and harmonic (phonopy).

MD route: the mass-weighted velocity autocorrelation function C(t) = Σ_i m_i <v_i(0)·v_i(t)>,
averaged over time origins (computed by FFT with zero padding, i.e. without circular wrap), is
multiplied by a Hann window over its first ``max_lag_ps`` and Fourier transformed. The frequency
resolution is 1 / max_lag (e.g. 0.5 THz for 2 ps); the highest frequency is 1 / (2 Δt). Spectra
are normalised to unit area in THz.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def vacf(velocities: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Mass-weighted VACF per lag, from frames ``(T, N, 3)``; averaged over time origins."""
    v = np.asarray(velocities, dtype=np.float64) * np.sqrt(masses)[None, :, None]
    n = v.shape[0]
    spectrum = np.fft.rfft(v, n=2 * n, axis=0)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)[:n].sum(axis=(1, 2))
    return acf / (n - np.arange(n))


def pdos_from_velocities(
    velocities: np.ndarray, masses: np.ndarray, dt_fs: float, *, max_lag_ps: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies in THz, density)`` from sampled velocities spaced ``dt_fs`` apart."""
    c = vacf(velocities, masses)
    lags = min(len(c), int(round(max_lag_ps * 1000 / dt_fs)) + 1)
    c = c[:lags] * np.hanning(2 * lags)[lags:]  # half-Hann: 1 at zero lag, 0 at the last
    window = np.concatenate([c, c[-1:0:-1]])  # even extension: a real, symmetric spectrum
    dos = np.fft.rfft(window).real  # the window is even, so its transform is real (up to rounding)
    freqs = np.fft.rfftfreq(len(window), d=dt_fs * 1e-15) / 1e12
    return freqs, _normalise(freqs, dos)


def harmonic_dos(phonon: Any, freqs: np.ndarray, *, sigma: float = 0.3, mesh: int = 16) -> np.ndarray:
    """Phonopy's total DOS on ``freqs`` (THz), Gaussian smearing ``sigma``."""
    phonon.run_mesh([mesh, mesh, mesh], is_gamma_center=True)
    phonon.run_total_dos(
        sigma=sigma, freq_min=float(freqs[0]), freq_max=float(freqs[-1]), freq_pitch=float(freqs[1] - freqs[0])
    )
    if hasattr(type(phonon), "total_dos"):  # phonopy >= 2.40: the TotalDos object
        points, values = phonon.total_dos.frequency_points, phonon.total_dos.dos
    else:
        d = phonon.get_total_dos_dict()
        points, values = d["frequency_points"], d["total_dos"]
    return _normalise(freqs, np.interp(freqs, points, values))


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """∫ y dx (NumPy 2 renamed ``trapz`` to ``trapezoid``; crosstrain supports both)."""
    rule = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009
    return float(rule(y, x))


def _normalise(freqs: np.ndarray, dos: np.ndarray) -> np.ndarray:
    area = _trapezoid(dos, freqs)
    return dos / area if area > 0 else dos


def overlap(freqs: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Spectral overlap ∫ min(a, b) dν of two unit-area spectra: 1 identical, 0 disjoint."""
    m = np.minimum(a, b)
    return float(_trapezoid(m, freqs))


__all__ = ["harmonic_dos", "overlap", "pdos_from_velocities", "vacf"]
