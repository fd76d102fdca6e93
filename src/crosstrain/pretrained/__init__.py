"""Parent models and training recipes that ship with crosstrain, addressed by name.

``crosstrain transfer --from si-dft`` loads ``si-dft.ckpt`` from this folder;
``crosstrain train --config dft-cpu`` reads ``crosstrain/recipes/dft-cpu.yaml``. A path always
works as well. ``index.json`` describes each shipped model: what it was trained on, the one
command that regenerates it, the test errors it reached (see ``crosstrain models``) and
``finetune``: the recipe and strategy ``crosstrain transfer --from NAME`` uses when the user names
none, each with the record that chose it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from crosstrain.config import recipes, resolve_recipe  # noqa: F401  (recipes are addressed by name here too)
from crosstrain.data.mlearn import mlearn_split as mlearn_split  # re-exported: the shipped parents' splits
from crosstrain.errors import CheckpointError, SchemaError
from crosstrain.schema import OMIT_NONE, Fields, JSONRecord
from crosstrain.structure import Structure

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TrainingData(JSONRecord):
    """The data a shipped model was trained on: the shipped mlearn set of ``element`` split with
    ``valid``, ``test`` and ``seed`` (:func:`~crosstrain.data.splits.stratified_split`), or
    ``kind: sw``, the Stillinger-Weber data of the default protocol (``protocol``: overrides)."""

    kind: str  # "mlearn" or "sw"
    element: str
    valid: int | None = field(default=None, metadata=OMIT_NONE)
    test: int | None = field(default=None, metadata=OMIT_NONE)
    seed: int | None = field(default=None, metadata=OMIT_NONE)
    protocol: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)  # SWProtocol fields

    def split(self) -> dict[str, list[Structure]]:
        """The shipped mlearn structures split as this block says (:func:`mlearn_split`)."""
        from crosstrain.errors import ConfigError

        if self.kind != "mlearn" or self.valid is None or self.test is None or self.seed is None:
            raise ConfigError(f"not an mlearn split with valid, test and seed: {self.to_json()}")
        return mlearn_split(self.element, valid=self.valid, test=self.test, seed=self.seed)


@dataclass(frozen=True)
class Finetune(JSONRecord):
    """What ``crosstrain transfer --from NAME`` uses when the user names none, and why."""

    recipe: str
    strategy: str
    evidence: str


@dataclass(frozen=True)
class ModelEntry(JSONRecord):
    """One shipped model in ``index.json``: its file, what it was trained on with which recipe
    (and ``overrides``), the command that regenerates it, its recorded errors and on what, and
    its fine-tuning defaults."""

    SCHEMA_VERSION: ClassVar[int] = 1

    file: str
    description: str
    data: TrainingData
    recipe: str
    command: str
    errors: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)  # on ``errors_on``
    errors_on: str | None = field(default=None, metadata=OMIT_NONE)
    finetune: Finetune | None = field(default=None, metadata=OMIT_NONE)
    overrides: tuple[str, ...] | None = field(default=None, metadata=OMIT_NONE)  # on top of the recipe

    @property
    def path(self) -> Path:
        return HERE / self.file


def entries() -> dict[str, ModelEntry]:
    """Every entry of ``index.json``, whether or not its checkpoint is present."""
    path = HERE / "index.json"
    if not path.is_file():
        return {}
    f = Fields(json.loads(path.read_text(encoding="utf-8")), str(path))
    try:
        return {name: f.record(name, ModelEntry.from_json) for name in f.names()}
    except SchemaError as exc:
        raise CheckpointError(f"the model index is invalid: {exc}") from None


def index() -> dict[str, ModelEntry]:
    """The shipped models by name (only those whose file is present)."""
    return {name: e for name, e in entries().items() if e.path.is_file()}


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """A checkpoint path: ``name_or_path`` if it is a file, else the shipped model of that name."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    models = index()
    entry = models.get(str(name_or_path))
    if entry is None:
        names = ", ".join(sorted(models)) or "none"
        raise CheckpointError(
            f"{name_or_path}: no such checkpoint file and no shipped model of that name (shipped: {names})"
        )
    return entry.path


def shipped_entry(path: str | os.PathLike[str]) -> tuple[str, ModelEntry] | None:
    """The name and index entry of a shipped model given its path (matched by checksum), else ``None``."""
    from crosstrain.io.hashing import sha256_file

    digest = sha256_file(path)
    for name, entry in index().items():
        if sha256_file(entry.path) == digest:
            return name, entry
    return None


def entry_for(path: str | os.PathLike[str]) -> ModelEntry | None:
    """The index entry of a shipped model given its path (matched by checksum), else ``None``."""
    found = shipped_entry(path)
    return found[1] if found else None


def parent_training_data(path: str | os.PathLike[str]) -> list[Structure] | None:
    """The training structures of a shipped parent, rebuilt from the data that ship with crosstrain
    (``None`` for other checkpoints: then ``replay`` needs ``--replay-data``)."""
    entry = entry_for(path)
    return entry.data.split()["train"] if entry is not None and entry.data.kind == "mlearn" else None
