"""Radial and angular distribution functions averaged over frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from crosstrain.graph import topology, triplets
from crosstrain.structure import Structure


def rdf(frames: Sequence[Atoms], rmax: float = 5.0, nbins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``(r, g(r))`` averaged over ``frames`` (ASE's ``get_rdf``; the cell must hold a sphere of rmax)."""
    from ase.geometry.rdf import get_rdf

    curves = [get_rdf(a, rmax, nbins)[0] for a in frames]
    r = get_rdf(frames[0], rmax, nbins)[1]
    return r, np.mean(curves, axis=0)


def adf(frames: Sequence[Atoms], cutoff: float = 2.9, nbins: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """``(angle in degrees, normalised histogram)`` of bond angles i-j-k (at the shared atom j) with
    both bonds < ``cutoff``.

    Uses the model's neighbour list and DimeNet's triplets (:func:`crosstrain.graph.triplets`).
    """
    angles = []
    for atoms in frames:
        s = Structure.from_atoms(atoms, read_labels=False)
        t = topology(s, cutoff)
        vec = s.positions[t.neighbours] - s.positions[t.centers] + t.shifts @ s.cell
        unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
        kj, ji = triplets(t, n_atoms=len(s))
        cos = -(unit[ji] * unit[kj]).sum(axis=1)  # angle at the shared atom j
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    values = np.concatenate(angles) if angles else np.zeros(0)
    hist, edges = np.histogram(values, bins=nbins, range=(0.0, 180.0), density=True)
    return 0.5 * (edges[1:] + edges[:-1]), hist
