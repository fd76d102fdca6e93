"""The parent chooser: periodic-table groups, element maps, and a ranking on real mlearn Ge data."""

from __future__ import annotations

import pytest

from crosstrain.cli import main
from crosstrain.errors import SpeciesError
from crosstrain.suggest import element_map_for, group, suggest


def test_groups_of_the_periodic_table() -> None:
    assert [group(e) for e in ("H", "He", "Li", "Na", "K", "Cs")] == [1, 18, 1, 1, 1, 1]
    assert [group(e) for e in ("C", "Si", "Ge", "Sn", "Pb")] == [14] * 5
    assert [group(e) for e in ("Cr", "Mo", "W", "Sg")] == [6] * 4
    assert (group("B"), group("Zn"), group("La"), group("Hf"), group("Og")) == (13, 12, 3, 4, 18)
    assert group("Ce") is None and group("Th") is None  # f block


def test_element_map_copies_from_the_same_group_or_as_told() -> None:
    assert element_map_for({"Ge"}, ("Si",)) == ({"Ge": "Si"}, "")
    assert element_map_for({"Si", "Ge"}, ("Si",)) == ({"Ge": "Si"}, "")  # Si maps to itself
    mapping, why = element_map_for({"W"}, ("Si",))
    assert mapping is None and "no element of W's group 6" in why
    assert element_map_for({"W"}, ("Si",), {"W": "Si"}) == ({"W": "Si"}, "")  # the user's map wins
    assert element_map_for({"Ge"}, ("Si",), {"Ge": "C"})[0] is None  # a source the parent lacks
    # a one-element parent offered by name maps across groups; a two-element one stays ambiguous
    assert element_map_for({"Na"}, ("Si",), across_groups=True) == ({"Na": "Si"}, "")
    assert element_map_for({"Na"}, ("C", "Si"), across_groups=True)[0] is None
    assert element_map_for({"Na", "Ge"}, ("Si",), across_groups=True) == ({"Ge": "Si", "Na": "Si"}, "")


@pytest.fixture(scope="module")
def ge_md():
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn

    structures = read_mlearn(mlearn_file(find_mlearn_root(None), "Ge"))
    return [s for s in structures if s.info["group"] == "AIMD-NVT"][::45]  # two hot 64-atom snapshots


def test_suggest_ranks_parents_by_their_rescaled_zero_shot_error(ge_md) -> None:
    s = suggest(ge_md, ["si-dft5", "si-sw"])
    assert (s.n_structures, s.n_used) == (2, 2)
    errors = [c.force_mae_rescaled for c in s.candidates]
    assert all(e is not None and e > 0 for e in errors) and errors == sorted(errors)
    for c in s.candidates:
        assert c.element_map == {"Ge": "Si"} and 0.8 < c.length_scale["Ge"] < 1.2 and c.energy_scale["Ge"] > 0
        assert c.force_mae_rescaled <= c.force_mae_full + 1e-9  # the fitted scales never do worse on these data
    best = s.candidates[0]
    assert s.parent == best.parent and s.strategy == best.strategy  # a shipped parent's own fine-tuning strategy
    assert best.force_mae_rescaled < s.zero_force_mae


def test_suggest_refuses_data_no_candidate_can_map(tmp_path, capsys) -> None:
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.io import write

    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    cu.rattle(0.05, seed=0)
    cu.calc = EMT()
    cu.get_forces()
    write(tmp_path / "cu.extxyz", cu)
    # a two-element parent has no element of group 11 (and a one-element one named would be mapped across groups)
    two = tmp_path / "si-ge.ckpt"
    assert main(["init", "--elements", "Si", "Ge", "--preset", "cpu", "--out", str(two)]) == 0
    capsys.readouterr()
    with pytest.raises(SpeciesError, match="no candidate parent can be mapped onto Cu: .*has no element of Cu"):
        from crosstrain.data.extxyz import read_structures

        suggest(read_structures(tmp_path / "cu.extxyz"), [str(two)])
    assert main(["suggest", "--data", str(tmp_path / "cu.extxyz"), "--from", str(two)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "group 11" in err[0]
    unlabelled = bulk("Ge", "diamond", a=5.78)
    write(tmp_path / "nolabels.extxyz", unlabelled)
    assert main(["suggest", "--data", str(tmp_path / "nolabels.extxyz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nolabels.extxyz" in err[0]


def test_the_reverse_direction_stretches_silicon_onto_the_germanium_parent() -> None:
    """ge-dft5 offered for Si: Si is copied from Ge, and Si bonds (2.35 Å) must be stretched to look
    like Ge's (2.45 Å), so the fitted length scale is above 1, where Si -> Ge's is below."""
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn

    si = [s for s in read_mlearn(mlearn_file(find_mlearn_root(None), "Si")) if s.info["group"] == "AIMD-NVT"][::45]
    (c,) = suggest(si, ["ge-dft5"]).candidates
    assert c.element_map == {"Si": "Ge"} and 1.0 < c.length_scale["Si"] < 1.15
    assert c.force_mae_rescaled is not None and c.force_mae_full is not None
    assert c.force_mae_rescaled < c.force_mae_full
