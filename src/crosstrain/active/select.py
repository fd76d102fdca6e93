"""Choosing the next structures to label: the most uncertain that are also unlike each other.

Each structure gets a fingerprint: its radial distribution up to ``cutoff`` (pairs per atom in
bins of 0.2 Å, smoothed) and its volume per atom. ``uncertain`` picks greedily: the candidate
with the largest committee force deviation, then each next one by deviation × a diversity factor
``1 − exp(−d² / d₀²)``, with ``d`` its fingerprint distance to the nearest structure already
labelled or picked and ``d₀`` the median distance between two candidates of the pool (a near
twin of a pick scores almost nothing). Without a committee (the first batch) the deviation is
left out: farthest-point sampling on the fingerprints. ``random`` is the baseline a fair
comparison needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

MODES = ("uncertain", "random")


@dataclass(frozen=True)
class Pick:
    index: int
    uncertainty: float | None
    why: str


def fingerprint(s: Structure, cutoff: float = 5.0, width: float = 0.2) -> np.ndarray:
    from ase.neighborlist import neighbor_list

    edges = np.arange(1.0, cutoff + width, width)
    d = neighbor_list("d", s.to_atoms(with_labels=False), cutoff)
    hist = np.histogram(d, bins=edges)[0] / len(s)
    smooth = np.convolve(hist, [0.25, 0.5, 0.25], mode="same")
    return np.concatenate([smooth, [s.volume / len(s) / 10.0 if s.periodic else 0.0]])


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(b) == 0:
        return np.full(len(a), np.inf)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)).min(axis=1)


def select(
    pool: list[Structure],
    k: int,
    mode: str,
    rng: np.random.Generator,
    labelled: Sequence[Structure] = (),
    uncertainty: np.ndarray | None = None,
) -> list[Pick]:
    """Indices of ``k`` candidates of ``pool`` to label next, each with the reason."""
    if mode not in MODES:
        raise ConfigError(f"unknown selection {mode!r} (choose from {', '.join(MODES)})")
    k = min(k, len(pool))
    if mode == "random":
        return [Pick(int(i), None, "random") for i in rng.choice(len(pool), size=k, replace=False)]
    fp = np.array([fingerprint(s) for s in pool])
    known = np.array([fingerprint(s) for s in labelled]) if len(labelled) else np.zeros((0, fp.shape[1]))
    pair = np.sqrt(((fp[:, None, :] - fp[None, :, :]) ** 2).sum(axis=2)) + np.diag(np.full(len(fp), np.inf))
    d0 = float(np.median(pair[np.isfinite(pair)])) if len(fp) > 1 else 1.0
    picks: list[Pick] = []
    chosen = known
    for _ in range(k):
        d = _distances(fp, chosen)
        if uncertainty is None:
            # nothing labelled yet: start from the candidate farthest from the pool's mean
            score = d.copy() if np.isfinite(d).any() else np.linalg.norm(fp - fp.mean(axis=0), axis=1)
            why = "farthest from what is labelled (no committee yet)"
        else:
            score = uncertainty * (1 - np.exp(-(d**2) / max(d0, 1e-12) ** 2))
            why = "largest force deviation x diversity"
        score[[p.index for p in picks]] = -np.inf
        i = int(np.argmax(score))
        u = None if uncertainty is None else float(uncertainty[i])
        picks.append(Pick(i, u, why))
        chosen = np.vstack([chosen, fp[i : i + 1]])
    return picks
