"""Converting the mlearn DFT data to extxyz with seeded, group-stratified splits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from crosstrain.data.extxyz import write_structures
from crosstrain.data.manifest import FileEntry, write_json
from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn, stratified_split
from crosstrain.data.splits import draw
from crosstrain.io.hashing import sha256_file
from crosstrain.provenance import Provenance, provenance
from crosstrain.schema import FLAT, JSONRecord


@dataclass(frozen=True)
class SourceFile(JSONRecord):
    """An mlearn JSON file a data set was converted from."""

    path: str
    sha256: str
    records: int


@dataclass(frozen=True)
class MLearnManifest(JSONRecord):
    """An mlearn data set's ``manifest.json``: the source files, each written file's checksum and
    size, the stress convention, and where it was made."""

    SCHEMA_VERSION: ClassVar[int] = 1

    dataset: str  # "mlearn"
    sources: dict[str, SourceFile]  # by element
    files: dict[str, FileEntry]
    stress_convention: str
    provenance: Provenance = field(metadata=FLAT)


def build_mlearn_dataset(
    out_dir: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    elements: tuple[str, ...] = ("Si", "Ge"),
    n_valid: int = 22,
    n_test: int | dict[str, int] = 25,
    seed: int = 0,
    n_train: int | None = None,
    train_seed: int = 0,
) -> MLearnManifest:
    """Write ``<El>.extxyz`` and its ``train``/``valid``/``test`` files, ``splits.json`` and a manifest.
    ``n_test`` may differ per element (``{"Si": 0, "Ge": 25}``: the shipped Si parent's split).
    ``n_train`` keeps a seeded draw (:func:`~crosstrain.data.splits.draw`, ``train_seed``) of the
    training split: the few-structure regime of the benchmarks, drawn as they draw it."""
    root_path = find_mlearn_root(root)
    out = Path(out_dir)
    files: dict[str, FileEntry] = {}
    splits_doc: dict[str, Any] = {}
    sources: dict[str, SourceFile] = {}
    for element in elements:
        src = mlearn_file(root_path, element)
        structures = read_mlearn(src, element=element)
        sources[element] = SourceFile(str(src), sha256_file(src), len(structures))
        path = write_structures(out / f"{element}.extxyz", structures)
        files[path.name] = FileEntry(sha256_file(path), len(structures))
        tests = n_test.get(element, 25) if isinstance(n_test, dict) else n_test
        splits = stratified_split(structures, n_valid, tests, seed=seed)
        if n_train is not None:
            splits["train"] = draw(splits["train"], n_train, train_seed)
        splits_doc[element] = splits
        for name, idx in splits.items():
            if not idx:  # --test 0: train on everything, test on an external set
                continue
            sp = write_structures(out / f"{element}.{name}.extxyz", [structures[i] for i in idx])
            files[sp.name] = FileEntry(sha256_file(sp), len(idx))
    write_json(
        out / "splits.json",
        {
            "rule": "seeded, stratified by group; whole families (symmetry twins, Elastic strain levels, "
            "blocks of consecutive MD snapshots) on one side only",
            "seed": seed,
            "n_valid": n_valid,
            "n_test": n_test,
            "n_train": n_train,
            "train_seed": train_seed if n_train is not None else None,
            "indices": splits_doc,
        },
    )
    manifest = MLearnManifest(
        dataset="mlearn",
        sources=sources,
        files=files,
        stress_convention="ASE: stress = -virial_stress[kbar] * 0.1 / 160.21766208 eV/Å^3",
        provenance=provenance(),
    )
    write_json(out / "manifest.json", manifest.to_json())
    return manifest
