"""The data section: a run's structures named once, as configuration (files or an mlearn selection)."""

from __future__ import annotations

import pytest

from crosstrain.data.extxyz import write_structures
from crosstrain.data.source import FilesSource, MlearnSource, data_source, select
from crosstrain.errors import ConfigError


@pytest.fixture(scope="module")
def si_structures():
    from crosstrain.pretrained import mlearn_split

    return mlearn_split("Si", valid=0, test=0, seed=0)["train"][:8]


def test_an_mlearn_selection_is_the_benchmarks_draw_of_the_leak_free_split():
    from crosstrain.data.splits import draw
    from crosstrain.pretrained import mlearn_split

    source = data_source({"kind": "mlearn", "element": "Ge", "train": 5, "train_seed": 3})
    assert isinstance(source, MlearnSource) and source.valid == 22 and source.test == 25
    chosen = select(source)
    split = mlearn_split("Ge", valid=22, test=25, seed=0)
    assert [s.source for s in chosen.train] == [s.source for s in draw(split["train"], 5, 3)]
    assert [s.source for s in chosen.valid or []] == [s.source for s in split["valid"]]
    test = {s.source for s in split["test"]}
    assert not test & {s.source for s in chosen.train + (chosen.valid or [])}  # the test part is never given


def test_files_are_read_with_their_validation_files(tmp_path, si_structures):
    write_structures(tmp_path / "a.extxyz", si_structures[:3])
    write_structures(tmp_path / "v.extxyz", si_structures[3:5])
    source = data_source(
        {"kind": "files", "train": [str(tmp_path / "a.extxyz")], "valid": [str(tmp_path / "v.extxyz")]}
    )
    assert isinstance(source, FilesSource)
    chosen = select(source)
    assert len(chosen.train) == 3 and chosen.valid is not None and len(chosen.valid) == 2


@pytest.mark.parametrize(
    "section, message",
    [
        ({"kind": "vasp"}, "data.kind: must be files or mlearn"),
        ({"kind": "mlearn", "element": "Ge", "trian": 3}, "data: trian"),
        ({"kind": "mlearn", "element": "Ge", "train": 0}, "data: train"),
        ({"kind": "files", "train": []}, "data: train"),
        ([1, 2], "data: a mapping"),
    ],
)
def test_a_bad_data_section_is_one_line_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        data_source(section)


def test_the_request_reads_the_config_data_section_and_files_replace_it(tmp_path, si_structures):
    from crosstrain.request import resolve

    config = tmp_path / "run.yaml"
    config.write_text("data: {kind: mlearn, element: Ge, train: 6}\ntrain: {epochs: 1}\n")
    r = resolve(None, config=config)
    assert len(r.data) == 6 and r.valid is not None and len(r.valid) >= 22
    assert r.choice("data").value.startswith("mlearn Ge: 6") and "data source" in r.choice("validation").value
    write_structures(tmp_path / "a.extxyz", si_structures[:7])
    given = resolve([tmp_path / "a.extxyz"], config=config)
    assert given.choice("data").source == "user" and len(given.data) + len(given.valid or ()) == 7
    only_data = tmp_path / "only.yaml"
    only_data.write_text("data: {kind: mlearn, element: Ge, train: 6}\n")
    assert resolve(None, config=only_data).choice("recipe").value == "dft-cpu5"  # settings chosen as without a config
    with pytest.raises(ConfigError, match="no training data"):
        resolve(None)
