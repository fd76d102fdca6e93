"""Choosing the next structures to label: the most uncertain that are also unlike each other.

Each structure gets a fingerprint: its radial distribution up to ``cutoff`` (pairs per atom in
bins of 0.2 Å, smoothed) and its volume per atom. ``uncertain`` picks greedily: the candidate
with the largest committee force deviation, then each next one by deviation × a diversity factor
``1 − exp(−d² / d₀²)``, with ``d`` its fingerprint distance to the nearest structure already
labelled or picked and ``d₀`` the median distance between two candidates of the pool (a near
twin of a pick scores almost nothing). Without a committee (the first batch) the deviation is
left out: farthest-point sampling on the fingerprints. ``stratified`` scores the same way but
takes the batch in turns from each kind of cell (``info["kind"]``: bulk, strained, vacancy,
surface), the kind with the most uncertain candidate first: pure uncertainty sampling drifts to
the rarest, most uncertain kind (measured: surfaces took 6–8 of 16 picks and the bulk error grew),
while a test set, like a user's MD, covers all kinds. ``random`` is the baseline a fair
comparison needs.

``coverage`` reads the committee as a weight over the pool instead of a ranking: it picks, one at a
time, the candidate that covers the most still-uncovered uncertainty of the pool, where candidate
``j`` covers candidate ``i`` by ``K(i, j) = exp(−d²/h²)`` (``h = d₀/2``, assumed), a candidate's
coverage is its best ``K`` to anything labelled or picked, and the gain of ``j`` is
``Σᵢ uᵢ · max(0, K(i, j) − coveredᵢ)`` (greedy facility location, weights ``uᵢ`` the committee
deviations; without a committee ``uᵢ = 1``: the most representative candidates). An outlier that
is uncertain but unlike the rest of the pool covers only itself; a typical uncertain structure
covers its neighbours too. Where a test set (or a user's MD) is drawn like the pool, that is the
structure whose label is expected to help most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

MODES = ("uncertain", "stratified", "coverage", "random")
COVERAGE_WIDTH = 0.5  # kernel width h in units of the median candidate distance d0 (assumed)


@dataclass(frozen=True)
class Pick:
    index: int
    uncertainty: float | None
    why: str


def finite_deviation(deviation: np.ndarray) -> np.ndarray:
    """Deviations with a non-finite one (a frame the committee cannot even evaluate) set to the
    largest finite one: it ranks with the most uncertain, not above all and not nowhere."""
    deviation = np.asarray(deviation, dtype=np.float64)
    finite = deviation[np.isfinite(deviation)]
    return np.where(np.isfinite(deviation), deviation, finite.max() if finite.size else 1.0)


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
    *,
    mode: str,
    rng: np.random.Generator,
    labelled: Sequence[Structure] = (),
    uncertainty: np.ndarray | None = None,
) -> list[Pick]:
    """Indices of ``k`` candidates of ``pool`` to label next, each with the reason."""
    if mode not in MODES:
        raise ConfigError(f"unknown selection {mode!r} (choose from {', '.join(MODES)})")
    k = min(k, len(pool))
    if uncertainty is not None:
        uncertainty = finite_deviation(uncertainty)
    if mode == "random":
        return [Pick(int(i), None, "random") for i in rng.choice(len(pool), size=k, replace=False)]
    fp = np.array([fingerprint(s) for s in pool])
    known = np.array([fingerprint(s) for s in labelled]) if len(labelled) else np.zeros((0, fp.shape[1]))
    squared = ((fp[:, None, :] - fp[None, :, :]) ** 2).sum(axis=2)
    pair = np.sqrt(squared) + np.diag(np.full(len(fp), np.inf))
    d0 = float(np.median(pair[np.isfinite(pair)])) if len(fp) > 1 else 1.0
    if mode == "coverage":
        return _coverage(fp, squared, known, k, uncertainty, d0)
    kinds = np.array([_kind(s) for s in pool])
    turns: list[str | None] = list(_turns(kinds, k, uncertainty)) if mode == "stratified" else [None] * k
    picks: list[Pick] = []
    chosen = known
    for turn in turns:
        d = _distances(fp, chosen)
        if uncertainty is None:
            # nothing labelled yet: start from the candidate farthest from the pool's mean
            score = d.copy() if np.isfinite(d).any() else np.linalg.norm(fp - fp.mean(axis=0), axis=1)
            why = "farthest from what is labelled (no committee yet)"
        else:
            score = uncertainty * (1 - np.exp(-(d**2) / max(d0, 1e-12) ** 2))
            why = "largest force deviation x diversity"
        score[[p.index for p in picks]] = -np.inf
        if turn is not None:
            score[kinds != turn] = -np.inf
            why = f"{why}, {turn} cells' turn"
        i = int(np.argmax(score))
        u = None if uncertainty is None else float(uncertainty[i])
        picks.append(Pick(i, u, why))
        chosen = np.vstack([chosen, fp[i : i + 1]])
    return picks


def _coverage(
    fp: np.ndarray, squared: np.ndarray, known: np.ndarray, k: int, uncertainty: np.ndarray | None, d0: float
) -> list[Pick]:
    """Greedy uncertainty-weighted facility location over the pool (see the module docstring);
    ``squared`` holds the pool's squared fingerprint distances."""
    h2 = (COVERAGE_WIDTH * max(d0, 1e-12)) ** 2
    kernel = np.exp(-squared / h2)  # kernel[i, j]: j covers i
    covered = np.exp(-(_distances(fp, known) ** 2) / h2) if len(known) else np.zeros(len(fp))
    weight = np.ones(len(fp)) if uncertainty is None else uncertainty
    total = float(weight.sum())
    picks: list[Pick] = []
    for _ in range(k):
        gain = (weight[:, None] * np.maximum(kernel - covered[:, None], 0.0)).sum(axis=0)
        gain[[p.index for p in picks]] = -np.inf
        j = int(np.argmax(gain))
        share = 100 * gain[j] / total if total > 0 else 0.0
        what = "committee force deviation" if uncertainty is not None else "of the pool (no committee yet)"
        picks.append(
            Pick(
                j,
                None if uncertainty is None else float(uncertainty[j]),
                f"covers the most uncovered {what}: {share:.0f} % of the pool's total",
            )
        )
        covered = np.maximum(covered, kernel[:, j])
    return picks


def _kind(s: Structure) -> str:
    return str(s.info.get("kind") or "unlabelled")


def _turns(kinds: np.ndarray, k: int, uncertainty: np.ndarray | None) -> list[str]:
    """Whose turn each of ``k`` picks is: the kinds in rounds, most uncertain kind first (without a
    committee: the most plentiful); a kind leaves the rounds when its candidates run out."""
    left = {str(kind): int((kinds == kind).sum()) for kind in dict.fromkeys(kinds.tolist())}
    if uncertainty is None:
        order = sorted(left, key=lambda kind: -left[kind])
    else:
        order = sorted(left, key=lambda kind: -float(uncertainty[kinds == kind].max()))
    turns: list[str] = []
    while len(turns) < k:
        for kind in order:
            if left[kind] > 0 and len(turns) < k:
                turns.append(kind)
                left[kind] -= 1
    return turns
