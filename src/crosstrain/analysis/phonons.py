"""Harmonic phonons through phonopy: band structure along Γ-X-K-Γ-L and the density of states,
for any ASE calculator (a crosstrain model, the SW reference, ...), with overlay plots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from crosstrain.analysis.crystal import CalculatorFactory, phonopy_model
from crosstrain.analysis.pdos import harmonic_dos
from crosstrain.schema import OMIT_NONE, JSONRecord

#: the usual fcc path, reduced coordinates of the primitive reciprocal cell
BAND_PATH = [
    [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.625, 0.25, 0.625]],  # Γ - X - U
    [[0.375, 0.375, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]],  # K - Γ - L
]
BAND_LABELS = ["Γ", "X", "U|K", "Γ", "L"]


#: diamond's distinct modes at Γ, X and L: (point, index in the ascending frequencies, name);
#: X has three doubly degenerate pairs (TA, LA = LO, TO), L two pairs and two singles
MODES = (
    ("Gamma", 5, "Γ optical"),
    ("X", 0, "X TA"),
    ("X", 2, "X LA/LO"),
    ("X", 4, "X TO"),
    ("L", 0, "L TA"),
    ("L", 2, "L LA"),
    ("L", 3, "L LO"),
    ("L", 4, "L TO"),
)


def named_modes(frequencies: dict[str, Any]) -> dict[str, float]:
    """Diamond's distinct frequencies (THz) by name, from the six frequencies at Γ, X and L."""
    return {name: float(sorted(frequencies[point])[i]) for point, i, name in MODES}


def _floats(values: Any) -> Any:
    """Nested tuples of floats from an array (any number of dimensions)."""
    a = np.asarray(values, dtype=float)
    return tuple(float(v) for v in a) if a.ndim == 1 else tuple(_floats(row) for row in a)


@dataclass(frozen=True)
class PhononBands(JSONRecord):
    """Harmonic phonons of one model at lattice constant ``a0`` (Å): per path segment the
    distances along the path and the frequencies (THz, q-points x bands), the unit-area DOS on a
    frequency grid and the highest frequency; ``crosstrain validate`` adds the comparison with
    the reference (DOS overlap, band RMS difference)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    a0: float
    distances: tuple[tuple[float, ...], ...]
    frequencies: tuple[tuple[tuple[float, ...], ...], ...]
    dos_frequencies: tuple[float, ...]
    dos: tuple[float, ...]
    max_frequency: float
    dos_overlap_with_reference: float | None = field(default=None, metadata=OMIT_NONE)
    band_rms_to_reference_THz: float | None = field(default=None, metadata=OMIT_NONE)


def phonons(element: str, calc: CalculatorFactory, a0: float, *, npoints: int = 41, fmax: float = 20.0) -> PhononBands:
    """Band structure (``distances``, ``frequencies`` per segment, THz) and unit-area DOS on a grid."""
    return bands_of(phonopy_model(element, calc, a0), a0, npoints=npoints, fmax=fmax)


def bands_of(ph: Any, a0: float, *, npoints: int = 41, fmax: float = 20.0) -> PhononBands:
    """The bands along :data:`BAND_PATH` and the unit-area DOS of a phonopy object with force constants."""
    from phonopy.phonon.band_structure import get_band_qpoints_and_path_connections

    qpoints, connections = get_band_qpoints_and_path_connections(BAND_PATH, npoints=npoints)
    band = ph.run_band_structure(qpoints, path_connections=connections, labels=BAND_LABELS)
    freqs = np.linspace(0.0, fmax, 401)
    return PhononBands(
        a0=float(a0),
        distances=tuple(_floats(d) for d in band.distances),
        frequencies=tuple(_floats(f) for f in band.frequencies),
        dos_frequencies=_floats(freqs),
        dos=_floats(harmonic_dos(ph, freqs)),
        max_frequency=float(max(np.max(f) for f in band.frequencies)),
    )


def band_rms_difference(a: PhononBands, b: PhononBands) -> float:
    """RMS difference (THz) of two band structures on the same path (bands sorted per q-point)."""
    fa = np.concatenate([np.sort(np.asarray(f), axis=1) for f in a.frequencies])
    fb = np.concatenate([np.sort(np.asarray(f), axis=1) for f in b.frequencies])
    return float(np.sqrt(np.mean((fa - fb) ** 2)))


def plot_phonons(results: dict[str, PhononBands], path: str | os.PathLike[str], title: str = "") -> Any:
    """Band structures (left) and DOS (right) of several models on one figure."""
    from crosstrain.report import pyplot

    plt = pyplot()

    from crosstrain.report import save_figure

    fig, (ax, ax_dos) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    ticks: list[float] = []
    first = next(iter(results.values())).distances  # other lattices are mapped onto its path
    for k, (name, r) in enumerate(results.items()):
        style = {"color": f"C{k}", "lw": 1.0, "ls": "-" if k == 0 else "--"}
        for ref_d, seg_d, seg_f in zip(first, r.distances, r.frequencies):
            d = np.asarray(seg_d)
            x = ref_d[0] + (d - d[0]) / (d[-1] - d[0]) * (ref_d[-1] - ref_d[0])
            ax.plot(x, seg_f, **style)
            if k == 0:
                ticks += [ref_d[0], ref_d[-1]]
        ax.plot([], [], label=name, **style)
        ax_dos.plot(r.dos, r.dos_frequencies, **style)
    edges = sorted(set(np.round(ticks, 8)))
    ax.set_xticks(edges)
    ax.set_xticklabels(BAND_LABELS[: len(edges)])
    for x in edges:
        ax.axvline(x, color="grey", lw=0.5)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(-0.5, 1.1 * max(r.max_frequency for r in results.values()))
    ax.set_ylabel("frequency (THz)")
    ax.legend(fontsize=8)
    ax_dos.set_xlabel("DOS")
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
    plt.close(fig)
    return path
