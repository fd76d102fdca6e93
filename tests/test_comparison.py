import math

import pytest

from crosstrain.analysis.comparison import cell, paired


def test_cell_counts_diverged_runs_and_ranks_them_last():
    c = cell([0.05, None, 0.07, float("nan")])
    assert (c.n, c.diverged) == (4, 2)
    assert c.mean == pytest.approx(0.06) and c.std == pytest.approx(math.sqrt(2) * 0.01)
    assert c.median is None  # two of four diverged: the middle is a diverged run
    assert cell([0.05, None, 0.07]).median == pytest.approx(0.07)
    assert "2 diverged" in c.text() and "n=4" in c.text()


def test_paired_comparison_counts_a_diverged_baseline_as_a_win():
    a = [0.050, 0.052, 0.049]
    b = [0.060, None, 0.070]
    p = paired(a, b)
    assert p.a_better == 3 and p.n_pairs == 3
    assert p.relative_mean == pytest.approx(1 - (0.050 + 0.049) / (0.060 + 0.070))
    worse = paired([0.08, 0.09], [0.06, 0.07])
    assert worse.a_better == 0 and worse.relative_mean < 0 and "higher" in worse.text()
    with pytest.raises(ValueError, match="same seeds"):
        paired([0.1], [0.1, 0.2])
