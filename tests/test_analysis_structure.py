import numpy as np
import pytest
from ase.build import bulk

from crosstrain.analysis.structure import adf, rdf


def test_rdf_and_adf_of_diamond():
    atoms = bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2)
    r, g = rdf([atoms], rmax=5.0, nbins=200)
    first = r[np.argmax(g > 0)]  # first neighbour shell (the second, 12 atoms at 3.84 Å, is taller)
    assert first == pytest.approx(5.431 * np.sqrt(3) / 4, abs=0.03)
    assert r[np.argmax(g)] == pytest.approx(5.431 / np.sqrt(2), abs=0.03)
    angle, h = adf([atoms], cutoff=2.9, nbins=180)
    assert angle[np.argmax(h)] == pytest.approx(109.47, abs=1.0)
    assert h[np.abs(angle - 109.47) > 2].sum() == 0  # every bond angle is tetrahedral


def test_transferability_boxplot(tmp_path):
    from crosstrain.analysis.transferability import boxplot

    rng = np.random.default_rng(0)
    result = {m: {t: list(rng.random(5)) for t in ("300", "2000")} for m in ("full", "scratch")}
    path = boxplot(result, tmp_path / "box.png", title="test")
    assert path.stat().st_size > 1000
