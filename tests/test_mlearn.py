import contextlib
import json
import re

import numpy as np
import pytest

from crosstrain.cli import main
from crosstrain.data.extxyz import read_structures
from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn, stratified_split
from crosstrain.errors import CrosstrainError, DataFileError

ROOT = None
with contextlib.suppress(DataFileError):
    ROOT = find_mlearn_root()
needs_data = pytest.mark.skipif(ROOT is None, reason="mlearn data (../shared/data/mlearn) not present")


@needs_data
@pytest.mark.parametrize("element, n, groups", [("Si", 214, (90, 57, 55, 12)), ("Ge", 228, (90, 72, 55, 11))])
def test_reads_real_files(element, n, groups):
    structures = read_mlearn(mlearn_file(ROOT, element), element=element)
    assert len(structures) == n
    counts = [sum(s.info["group"] == g for s in structures) for g in ("AIMD-NVT", "Vacancy", "Elastic", "Surface")]
    assert tuple(counts) == groups
    aimd = [s for s in structures if s.info["group"] == "AIMD-NVT"]
    assert all(len(s) == 64 and "temperature" in s.info for s in aimd)
    assert all(s.stress is not None and s.forces.shape == (len(s), 3) for s in structures)


@needs_data
@pytest.mark.parametrize("element", ["Si", "Ge"])
def test_stress_sign_and_units_match_energy_derivative(element):
    """σ_xx = (1/V) dE/dε_xx from the Elastic group's uniaxial strains (mode 0)."""
    structures = read_mlearn(mlearn_file(ROOT, element))
    by_strain = {}
    for s in structures:
        m = re.search(r"mode 0, strain (-?[0-9.]+)", s.info["description"])
        if m:
            by_strain[float(m.group(1))] = s
    for lo, hi in [(0.02, 0.04), (-0.04, -0.02)]:
        a, b = by_strain[lo], by_strain[hi]
        dE = (b.energy - a.energy) / (hi - lo)
        volume = 0.5 * (a.volume + b.volume)
        predicted = dE / volume
        measured = 0.5 * (a.stress[0, 0] + b.stress[0, 0])
        assert np.sign(measured) == np.sign(0.5 * (lo + hi))  # tension positive in ASE convention
        assert measured == pytest.approx(predicted, rel=0.1)


@needs_data
def test_split_is_seeded_and_stratified():
    structures = read_mlearn(mlearn_file(ROOT, "Ge"))
    a = stratified_split(structures, 22, 25, seed=1)
    assert a == stratified_split(structures, 22, 25, seed=1)
    assert a != stratified_split(structures, 22, 25, seed=2)
    assert abs(len(a["valid"]) - 22) <= 2 and len(a["test"]) == 25
    assert len(a["train"]) + len(a["valid"]) + len(a["test"]) == 228
    assert set(a["train"]).isdisjoint(a["valid"]) and set(a["valid"]).isdisjoint(a["test"])
    groups = {structures[i].info["group"] for i in a["valid"]}
    assert groups == {"AIMD-NVT", "Vacancy", "Elastic", "Surface"}


@needs_data
def test_cli_writes_extxyz_and_manifest(tmp_path):
    assert main(["data", "mlearn", "--out", str(tmp_path), "--elements", "Si", "--root", str(ROOT)]) == 0
    train = read_structures(tmp_path / "Si.train.extxyz", require=("energy", "forces", "stress"), element="Si")
    assert len(train) == 214 - 47
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["files"]["Si.extxyz"]["structures"] == 214
    from crosstrain.data.mlearn_dataset import MLearnManifest

    read = MLearnManifest.from_json(manifest)
    assert read.sources["Si"].records == 214 and read.to_json() == manifest
    assert "group" in train[0].info


def record(n=2):
    return {
        "structure": {
            "lattice": {"matrix": [[5, 0, 0], [0, 5, 0], [0, 0, 5]]},
            "sites": [
                {"xyz": [0, 0, 0], "species": [{"element": "Si"}]},
                {"xyz": [1.2, 1.2, 1.2], "species": [{"element": "Si"}]},
            ][:n],
        },
        "outputs": {"energy": -10.0, "forces": [[0, 0, 0.1], [0, 0, -0.1]][:n], "virial_stress": [1, 2, 3, 0, 0, 0]},
        "group": "Elastic",
        "description": "test",
        "num_atoms": n,
    }


def bad(change):
    rec = record()
    change(rec)
    return [record(), rec]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[]", "no records"),
        ('{"a": 1}', "JSON list"),
        (bad(lambda r: r["outputs"].pop("forces")), "record 1: missing or malformed field"),
        (bad(lambda r: r["outputs"].update(energy=None)), "record 1: missing label"),
        (bad(lambda r: r["outputs"].update(forces=[[0, 0, float("nan")], [0, 0, 0]])), "record 1: forces contains NaN"),
        (bad(lambda r: r["outputs"].update(forces=[[0, 0, 0]])), r"record 1: forces has shape \(1, 3\)"),
        (bad(lambda r: r["structure"]["sites"][0]["species"][0].update(element="Xx")), "record 1: unknown chemical"),
        (bad(lambda r: r["structure"]["sites"][0]["species"][0].update(element="Ge")), "record 1: contains elements"),
    ],
)
def test_bad_input_names_file_and_record(tmp_path, content, message):
    p = tmp_path / "training.json"
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(CrosstrainError, match=message) as info:
        read_mlearn(p, element="Si")
    assert "training.json" in str(info.value)


def test_cli_bad_file_exit_code_and_no_output(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "Si").mkdir(parents=True)
    (root / "Si" / "training.json").write_text(json.dumps(bad(lambda r: r["outputs"].update(energy=None))))
    out = tmp_path / "out"
    assert main(["data", "mlearn", "--out", str(out), "--elements", "Si", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "record 1: missing label" in err and err.count("\n") == 1
    assert not (out / "Si.extxyz").exists()


@needs_data
@pytest.mark.parametrize("element", ["Si", "Ge"])
def test_split_never_puts_symmetry_twins_or_one_family_on_both_sides(element):
    """The Elastic group stores each strain state with its axes permuted (same energy, rotated
    forces): a random split leaks them; the family split keeps twins, strain levels and blocks of
    consecutive MD snapshots together, and holds out a whole strain level for test."""
    from crosstrain.data.splits import families, leaks, twin_key

    structures = read_mlearn(mlearn_file(ROOT, element))
    twins = {}
    for s in structures:
        twins.setdefault(twin_key(s), []).append(s)
    assert sum(len(v) > 1 for v in twins.values()) >= 10  # the data do hold twins
    rng = np.random.default_rng(0)
    random_split = {"train": list(range(40, 228 if element == "Ge" else 214)), "test": list(range(40))}
    random_split["test"] = rng.permutation(len(structures))[:25].tolist()
    random_split["train"] = sorted(set(range(len(structures))) - set(random_split["test"]))
    assert leaks(structures, random_split)  # what the old split did
    for seed in range(5):
        split = stratified_split(structures, 22, 25, seed=seed)
        assert leaks(structures, split) == []
        fam = families(structures)
        for part in ("valid", "test"):
            inside = {fam[i] for i in split[part]}
            assert all(fam[i] not in inside for i in split["train"])
        elastic = {structures[i].info["family"] for i in split["test"] if structures[i].info["group"] == "Elastic"}
        members = [s for s in structures if s.info.get("family") in elastic]
        assert elastic and all(structures.index(s) in split["test"] for s in members)
    assert stratified_split(structures, 22, 0, seed=0)["test"] == []


def test_mlearn_data_ship_with_the_package():
    from crosstrain.data.mlearn import PACKAGED_ROOT

    assert find_mlearn_root(None) == PACKAGED_ROOT or "CROSSTRAIN_MLEARN" in __import__("os").environ
    assert (PACKAGED_ROOT / "LICENSE").read_text().startswith("BSD 3-Clause")
    assert len(read_mlearn(mlearn_file(PACKAGED_ROOT, "Ge"), element="Ge")) == 228


def test_data_mlearn_test_zero_and_evaluate_reads_json(tmp_path, capsys):
    from crosstrain.data.mlearn import PACKAGED_ROOT

    out = tmp_path / "d"
    args = ["data", "mlearn", "--out", str(out), "--elements", "Ge", "--test", "0", "--root", str(PACKAGED_ROOT)]
    assert main(args) == 0
    assert not (out / "Ge.test.extxyz").exists()
    assert len(read_structures(out / "Ge.train.extxyz")) + len(read_structures(out / "Ge.valid.extxyz")) == 228
    ck = tmp_path / "m.ckpt"
    assert main(["init", "--elements", "Ge", "--out", str(ck)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(ck), str(mlearn_file(PACKAGED_ROOT, "Ge"))]) == 0
    assert "228 structures" in capsys.readouterr().out


def test_a_split_that_cannot_be_leak_free_is_refused():
    from crosstrain.structure import Structure

    # 12 structures in 2 families of 6 twins: 3 test structures would split a family
    s = [
        Structure(
            np.eye(3) * (k + 1), [14, 14, 14], np.eye(3) * 10, True, energy=-3.0 * (1 + k // 6), forces=np.zeros((3, 3))
        )
        for k in range(12)
    ]
    with pytest.raises(DataFileError, match="without splitting a family"):
        stratified_split(s, 0, 3, seed=0)
    assert len(stratified_split(s, 0, 6, seed=0)["test"]) == 6


def test_the_vendored_na_set_reads_and_splits_leak_free_offline():
    """crosstrain's own Na labels ship beside the mlearn sets: every structure labelled (energy,
    finite forces with no net force, stress) from one DFT setting, the four groups, and the split
    of the metal-pair studies (40 test, 22 validation) keeps every family on one side."""
    from crosstrain.data.mlearn import PACKAGED_ROOT
    from crosstrain.data.splits import families, leaks

    structures = read_mlearn(mlearn_file(PACKAGED_ROOT, "Na"), element="Na")
    assert len(structures) >= 120
    assert {s.info["group"] for s in structures} == {"MD-NVT", "Vacancy", "Elastic", "Surface"}
    assert len({s.info["dft_settings_sha256"] for s in structures}) == 1
    for s in structures:
        assert s.energy is not None and s.stress is not None and np.isfinite(s.forces).all()
        assert np.abs(s.forces.sum(axis=0)).max() < 0.05  # a DFT force set: no net force
    split = stratified_split(structures, 22, 40, seed=0)
    assert len(split["test"]) >= 40 and leaks(structures, split) == []
    fam = families(structures)
    held = {fam[i] for part in ("valid", "test") for i in split[part]}
    assert not any(fam[i] in held for i in split["train"])


def test_data_split_writes_leak_free_files_of_a_users_labels(tmp_path, capsys):
    """``crosstrain data split``: a labelled extxyz (here the vendored Na set) into train/valid/test
    files that share no family, stratified by group; a file without forces is one line, exit 2."""
    import gzip

    from crosstrain.data.mlearn import PACKAGED_ROOT
    from crosstrain.data.splits import families

    src = tmp_path / "na.extxyz"
    src.write_bytes(gzip.decompress((PACKAGED_ROOT / "Na" / "training.extxyz.gz").read_bytes()))
    assert main(["data", "split", str(src), "--out", str(tmp_path / "s"), "--test", "40", "--valid", "22"]) == 0
    parts = {p: read_structures(tmp_path / "s" / f"{p}.extxyz") for p in ("train", "valid", "test")}
    assert len(parts["test"]) >= 38 and len(parts["valid"]) >= 20
    labelled = [(part, s) for part, structures in parts.items() for s in structures]
    side: dict[int, str] = {}
    for family, (part, _) in zip(families([s for _, s in labelled]), labelled):
        assert side.setdefault(family, part) == part  # no family on two sides
    assert all({s.info["group"] for s in parts[p]} == {"MD-NVT", "Vacancy", "Elastic", "Surface"} for p in parts)
    plain = tmp_path / "plain.extxyz"
    from ase.build import bulk
    from ase.io import write

    write(plain, bulk("Na", "bcc", a=4.2))
    assert main(["data", "split", str(plain), "--out", str(tmp_path / "bad")]) == 2
    assert "record 0" in capsys.readouterr().err and not (tmp_path / "bad").exists()
