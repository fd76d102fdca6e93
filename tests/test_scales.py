"""The ``rescaled`` scale search on large data: a deterministic stratified subsample, whole small data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from crosstrain.config import load_config
from crosstrain.data.mlearn import mlearn_split
from crosstrain.io.checkpoint import load_checkpoint
from crosstrain.model.derivatives import predict
from crosstrain.pretrained import resolve_model
from crosstrain.structure import Structure
from crosstrain.train import scales
from crosstrain.train.batches import Dataset


def fake(n_atoms: int, group: str, family: str | None = None) -> Structure:
    info = {"group": group} if family is None else {"group": group, "family": family}
    rng = np.random.default_rng(n_atoms)
    return Structure(rng.random((n_atoms, 3)) * 10, np.full(n_atoms, 32), np.eye(3) * 10, True, info=info)


def test_small_data_are_used_whole():
    data = [fake(64, "a"), fake(64, "b"), fake(12, "c")]
    assert scales.scale_sample(data, budget=3 * 140) == [0, 1, 2]
    assert scales.scale_sample(data, budget=3 * 140 - 1) != [0, 1, 2]
    # the published few-structure runs (up to 50 mlearn structures of 64 atoms) keep their scales
    assert scales.scale_sample([fake(64, "a")] * 50) == list(range(50))


def test_all_mlearn_ge_training_structures_give_a_subsample_of_every_group():
    structures = mlearn_split("Ge", valid=22, test=0, seed=0)["train"]
    picked = scales.scale_sample(structures)
    assert picked == scales.scale_sample(list(structures))
    assert 40 <= len(picked) < len(structures) and sum(3 * len(structures[i]) for i in picked) <= 10_000
    assert {structures[i].info["group"] for i in picked} == {s.info["group"] for s in structures}


def test_the_subsample_is_deterministic_stratified_and_within_the_budget():
    data = [fake(64, "md", family=f"run {k // 3}") for k in range(60)]
    data += [fake(64, "elastic", family=f"strain {k % 4}") for k in range(30)]
    data += [fake(20, "surface") for _ in range(10)]
    budget = 3 * 64 * 20
    picked = scales.scale_sample(data, budget=budget)
    assert picked == scales.scale_sample(data, budget=budget) == sorted(set(picked))
    assert sum(3 * len(data[i]) for i in picked) <= budget
    groups = Counter(data[i].info["group"] for i in picked)
    assert set(groups) == {"md", "elastic", "surface"}
    share = {g: n / len(picked) for g, n in groups.items()}
    assert share["md"] == pytest.approx(0.6, abs=0.1) and share["elastic"] == pytest.approx(0.3, abs=0.1)
    # every family once before any twice: one structure per MD run, the four strains evenly
    runs = Counter(data[i].info["family"] for i in picked if data[i].info["group"] == "md")
    strains = Counter(data[i].info["family"] for i in picked if data[i].info["group"] == "elastic")
    assert max(runs.values()) == 1 and len(strains) == 4 and max(strains.values()) - min(strains.values()) <= 1
    assert scales.scale_sample(data[:1], budget=1) == [0]  # at least one structure


@pytest.fixture(scope="module")
def ge():
    """Two mlearn Ge training structures (AIMD, vacancy)."""
    structures = mlearn_split("Ge", valid=22, test=0, seed=0)["train"]
    by_group: dict[str, list[Structure]] = {}
    for s in structures:
        by_group.setdefault(s.info["group"], []).append(s)
    return [by_group[g][10] for g in ("AIMD-NVT", "Vacancy")]


def fitted(structures):
    """The scales of Ge mapped onto Si in the shipped ``si-dft5``, as the ``rescaled`` start fits them."""
    config = load_config("dft-cpu5-finetune", ["transfer.strategy=rescaled"])
    parent = load_checkpoint(resolve_model("si-dft5"))
    model = parent.model
    model.copy_element("Ge", "Si")
    data = Dataset(structures, model.cutoff)
    length, energy, how = scales.estimate_scales(model, parent, target="Ge", source="Si", data=data, config=config)
    return length, energy, how, (model, parent, data, config)


@pytest.fixture(scope="module")
def whole(ge):
    return fitted(ge)


def old_search(model, parent, data, config):
    """The search as it was before the subsample: every candidate on the wide list, grid then fine grid."""
    ratio = parent.meta.data_stats["Si"]["nn_distance"] / scales.nearest_neighbour_distance(data)
    base = float(model.length_scale[14])
    wide = Dataset(data.structures, model.cutoff / min(1.0, base * min(0.83, ratio)))

    def score(length):
        with torch.no_grad():
            model.length_scale[32] = base * length
        x, loss = scales.loss_equations(model, wide, config).solve()
        return loss, length, float(x[0])

    coarse = sorted({1.0, round(ratio, 6), *np.round(np.arange(0.85, 1.1501, 0.02), 6).tolist()})
    best = min(score(x) for x in coarse)
    best = min([best, *(score(x) for x in np.round(best[1] + np.arange(-0.02, 0.0201, 0.005), 6).tolist())])
    return best[1], best[2]


def test_small_data_keep_their_scales_bit_for_bit(whole):
    """Below the budget the search is the old one: the same candidates on the same data, the same floats."""
    length, energy, how, setup = whole
    assert "subsample" not in how and "flat" not in how
    assert (length, energy) == old_search(*setup)


def test_a_subsample_fits_the_length_of_the_whole_data_within_the_grid_step(ge, whole, monkeypatch):
    monkeypatch.setattr(scales, "_SAMPLE_COMPONENTS", 3 * 64)
    sub = fitted(ge)
    assert "fitted on a subsample of 1 of the 2 training structures (stratified by group)" in sub[2]
    assert "refined to 0.005 by halving steps" in sub[2]
    assert sub[0] == pytest.approx(whole[0], abs=0.005 + 1e-9)
    assert sub[1] == pytest.approx(whole[1], rel=0.05)


def test_candidates_cut_to_their_cutoff_predict_what_the_wide_list_does(ge):
    parent = load_checkpoint(resolve_model("si-dft5"))
    model = parent.model
    model.copy_element("Ge", "Si")
    with torch.no_grad():
        model.length_scale[32] = model.length_scale[14] * 1.1
    wide = Dataset(ge[:1], model.cutoff / 0.83)
    cut = scales._within_cutoff(wide, model)
    assert cut.topologies[0].n_edges < wide.topologies[0].n_edges / 1.5
    a, b = (predict(model, d.batch([0], dtype=model.dtype).graph) for d in (wide, cut))
    assert torch.allclose(a.forces, b.forces, atol=1e-5) and torch.allclose(a.energy, b.energy, atol=1e-5)


@pytest.mark.parametrize("step", [scales._GRID_STEP, scales._SAMPLE_GRID_STEP])
def test_the_search_reaches_a_length_below_the_grid_and_never_below_its_floor(step):
    """A pair whose bond lengths differ more than the grid's 0.85 (Li -> Na: nearest-neighbour ratio
    about 0.81): the refinement reaches the best length near the ratio, and never evaluates a
    candidate below the floor the shared neighbour list serves (it would miss edges)."""
    seen: list[float] = []

    def score(length: float, whole: bool) -> scales.Score:
        seen.append(length)
        loss = (length - 0.80) ** 2 + 1e-3
        return (loss, length, 1.0, loss)

    floor = 0.81 - 0.02
    best, *_ = scales._search_length(score, 0.81, False, "forces", step=step, floor=floor)
    assert min(seen) >= floor and best[1] == pytest.approx(0.80, abs=0.0051)
