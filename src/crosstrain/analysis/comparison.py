"""Numbers that say how sure they are: per-cell statistics and paired comparisons over seeds.

A cell is the list of one metric over seeds, with ``None`` (or a non-finite value) for a run that
diverged. Diverged runs are counted, never dropped silently: the mean and std are over the
finished runs, the median counts a diverged run as worse than any finished one, and a paired
comparison counts a seed where only one arm diverged as a loss for that arm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


@dataclass(frozen=True)
class Cell:
    """One metric over seeds."""

    n: int  # runs (seeds), diverged included
    diverged: int
    mean: float | None  # over finished runs
    std: float | None  # sample std (ddof=1) over finished runs; None with fewer than two
    median: float | None  # over all runs, a diverged run counted as +inf
    values: tuple[float | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, digits: int = 3) -> str:
        """``0.052 ± 0.004 (n=5)`` or with ``, 1 diverged``."""
        if self.mean is None:
            return f"diverged (n={self.n})"
        spread = f" ± {self.std:.{digits}f}" if self.std is not None else ""
        div = f", {self.diverged} diverged" if self.diverged else ""
        return f"{self.mean:.{digits}f}{spread} (n={self.n}{div})"


def cell(values: Sequence[float | None]) -> Cell:
    finished = _finite(values)
    ranked = sorted(finished) + [math.inf] * (len(values) - len(finished))
    median = float(np.median(ranked)) if ranked else None
    return Cell(
        n=len(values),
        diverged=len(values) - len(finished),
        mean=float(np.mean(finished)) if finished else None,
        std=float(np.std(finished, ddof=1)) if len(finished) > 1 else None,
        median=None if median is None or math.isinf(median) else median,
        values=tuple(None if v is None or not math.isfinite(float(v)) else float(v) for v in values),
    )


@dataclass(frozen=True)
class Paired:
    """Arm ``a`` against baseline ``b`` on the same seeds (lower is better)."""

    n_pairs: int
    a_better: int  # seeds where a < b (a diverged run loses)
    relative_mean: float | None  # 1 - mean(a)/mean(b) over seeds where both finished
    relative_per_seed_mean: float | None
    relative_per_seed_std: float | None
    p_value: float | None  # two-sided Wilcoxon signed-rank on the paired differences (>= 0.0625 at n = 5)
    p_value_t: float | None  # two-sided paired t-test on the differences
    spreads_overlap: bool | None  # mean ± std intervals overlap

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.relative_mean is None:
            return f"no comparison ({self.n_pairs} seeds)"
        per_seed = ""
        if self.relative_per_seed_std is not None and self.relative_per_seed_mean is not None:
            per_seed = f", per seed {100 * self.relative_per_seed_mean:.0f} ± {100 * self.relative_per_seed_std:.0f} %"
        p = f", Wilcoxon p = {self.p_value:.3g}" if self.p_value is not None else ""
        p += f", paired t p = {self.p_value_t:.3g}" if self.p_value_t is not None else ""
        overlap = "; spreads overlap" if self.spreads_overlap else ""
        word = "lower" if self.relative_mean >= 0 else "higher"
        return (
            f"{100 * abs(self.relative_mean):.0f} % {word} (better on {self.a_better} of {self.n_pairs} seeds"
            f"{per_seed}{p}){overlap}"
        )


def paired(a: Sequence[float | None], b: Sequence[float | None]) -> Paired:
    """Compare arm ``a`` with baseline ``b``, seed by seed (the sequences are aligned by seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs the same seeds in both arms ({len(a)} vs {len(b)})")
    ca, cb = cell(a), cell(b)

    def ok(v: float | None) -> bool:
        return v is not None and math.isfinite(v)

    fa = [float(x) if x is not None and ok(x) else None for x in a]
    fb = [float(y) if y is not None and ok(y) else None for y in b]
    better = sum(x is not None and (y is None or x < y) for x, y in zip(fa, fb))
    both = [(x, y) for x, y in zip(fa, fb) if x is not None and y is not None]
    rel_mean = rel_seed = rel_std = p = p_t = None
    if both:
        xa, xb = np.array(both).T
        rel_mean = float(1 - xa.mean() / xb.mean())
        per = 1 - xa / xb
        rel_seed = float(per.mean())
        rel_std = float(per.std(ddof=1)) if len(per) > 1 else None
        if len(both) >= 2 and np.any(xa != xb):
            from scipy.stats import ttest_rel, wilcoxon

            p = float(wilcoxon(xa, xb).pvalue)
            p_t = float(ttest_rel(xa, xb).pvalue)
    overlap = None
    if ca.mean is not None and cb.mean is not None and ca.std is not None and cb.std is not None:
        overlap = bool(ca.mean + ca.std >= cb.mean - cb.std and cb.mean + cb.std >= ca.mean - ca.std)
    return Paired(len(a), int(better), rel_mean, rel_seed, rel_std, p, p_t, overlap)
