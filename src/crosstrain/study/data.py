"""A study's data: built once in the study folder, then drawn per seed.

``<dir>/data`` holds the SW (LAMMPS) or mlearn (DFT) data set in the usual layout. The target
element's training and validation files form one *pool*; each seed draws ``valid_size``
validation structures from it (stratified by temperature for SW, by group for mlearn) and orders
the rest randomly; a model of size ``n`` trains on the first ``n`` of that order, so a seed's
training sets are nested across sizes. The test set is fixed (optionally a stratified subsample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crosstrain.data import splits
from crosstrain.data.extxyz import read_structures
from crosstrain.data.splits import stratified_split
from crosstrain.errors import ConfigError, DataFileError
from crosstrain.io.hashing import sha256_file
from crosstrain.structure import Structure
from crosstrain.study.kinds import data_spec
from crosstrain.study.spec import StudySpec


@dataclass(frozen=True)
class StudyData:
    source_train: list[Structure]
    source_valid: list[Structure]
    pool: list[Structure]  # target element: training (and, drawn per seed, validation) structures
    test: list[Structure]
    valid: list[Structure]  # the data's validation file (used as is with grid.valid: split)
    key: str  # the info field draws are stratified by
    folder: Path
    extra: dict[str, list[Structure]] = field(default_factory=dict)  # report.tests, by name


@dataclass(frozen=True)
class Draw:
    train: list[Structure]
    valid: list[Structure]


def data_dir(study_dir: str | Path) -> Path:
    return Path(study_dir) / "data"


def build_data(spec: StudySpec, study_dir: str | Path, progress: bool = True) -> Path:
    """Generate (or finish) the data set of ``spec`` in ``<study_dir>/data``; resumable."""
    out = data_dir(study_dir)
    data_spec(spec.data).build(out, spec.valid_size, progress)
    return out


def data_fingerprint(spec: StudySpec, study_dir: str | Path) -> str:
    """Checksums of the files a study reads, so workers can check they see the same data."""
    d = data_dir(study_dir)
    names = [
        f"{e}.{split}.extxyz"
        for e in (spec.source_element, spec.target_element)
        for split in ("train", "valid", "test")
    ]
    return ";".join(f"{n}:{sha256_file(d / n)[:16]}" for n in names if (d / n).is_file())  # no empty split


def _stratified(structures: list[Structure], k: int, key: str, seed: int) -> list[Structure]:
    """``k`` of ``structures``, stratified by ``key``; all of them when ``k`` leaves too few to
    keep out whole families (a family-respecting split of 23 into 22 and 1 may not exist: the
    mlearn Ge split's validation set has 23 structures for 22 asked)."""
    if k >= len(structures):
        return list(structures)
    try:
        idx = stratified_split(structures, k, 0, seed=seed, key=key)["valid"]
    except DataFileError:
        return list(structures)
    return [structures[i] for i in idx]


def _read(path: Path) -> list[Structure]:
    """A data file's structures; none for a split the data do not have (an empty test split, or
    ``explored`` data, which hold a test set only)."""
    return read_structures(path) if path.is_file() else []


def load_data(spec: StudySpec, study_dir: str | Path) -> StudyData:
    d = data_dir(study_dir)
    src, tgt = spec.source_element, spec.target_element
    key = data_spec(spec.data).stratify_key
    source_valid = _read(d / f"{src}.valid.extxyz")
    source_valid = _stratified(source_valid, int(spec.source.get("valid_size", len(source_valid))), key, 0)
    train, valid = _read(d / f"{tgt}.train.extxyz"), _read(d / f"{tgt}.valid.extxyz")
    pool = train if spec.valid_from == "split" else train + valid
    test = read_structures(d / f"{tgt}.test.extxyz")
    if spec.test_size is not None:
        test = _stratified(test, spec.test_size, key, 0)
    if spec.data["kind"] != "explored" and spec.valid_from == "drawn" and spec.valid_size >= len(pool):
        raise ConfigError(f"grid.valid_size {spec.valid_size} leaves no training data in a pool of {len(pool)}")
    extra = {name: read_structures(Path(path).expanduser(), require=("forces",)) for name, path in spec.extra_tests}
    return StudyData(_read(d / f"{src}.train.extxyz"), source_valid, pool, test, valid, key, d, extra)


def resolve_sizes(spec: StudySpec, pool_size: int) -> list[int]:
    """The grid's sizes as integers (``all`` = every structure left after the validation draw;
    for ``explored`` data, whose arms label their own structures, the sizes are DFT budgets)."""
    if spec.data["kind"] == "explored":
        if "all" in spec.sizes:
            raise ConfigError("grid.sizes: explored data have no pool; give DFT budgets as integers")
        return sorted({int(s) for s in spec.sizes})
    available = pool_size - (spec.valid_size if spec.valid_from == "drawn" else 0)
    sizes = sorted({available if s == "all" else int(s) for s in spec.sizes})
    too_big = [s for s in sizes if s > available]
    if too_big:
        raise ConfigError(
            f"grid.sizes {too_big} exceed the {available} training structures left after drawing "
            f"{spec.valid_size} for validation from the {pool_size} of the pool"
        )
    return sizes


def draw(data: StudyData, n_train: int, *, n_valid: int, seed: int, valid_from: str = "drawn") -> Draw:
    """Seed ``seed``'s validation set and its first ``n_train`` training structures."""
    if valid_from == "split":
        return Draw(splits.draw(data.pool, n_train, seed), list(data.valid))
    split = stratified_split(data.pool, n_valid, 0, seed=seed, key=data.key)
    rest = np.random.default_rng(10_000 + seed).permutation(split["train"])
    return Draw([data.pool[i] for i in rest[:n_train]], [data.pool[i] for i in split["valid"]])
