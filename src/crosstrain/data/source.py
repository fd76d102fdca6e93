"""Where a run's structures come from: the ``data`` section of a config file.

A run names its data once, as configuration, instead of building a data set at each call site::

    data: {kind: files, train: [ge.extxyz], valid: [ge-valid.extxyz]}   # extxyz files (valid optional)
    data: {kind: mlearn, element: Ge, train: 22, train_seed: 0}          # an mlearn selection

An mlearn selection is the leak-free split of :func:`crosstrain.data.splits.stratified_split`
(``valid``, ``test`` and ``split_seed``; whole families on one side) of the shipped mlearn data
(or ``root``), with ``train`` structures drawn from its training part by
:func:`crosstrain.data.splits.draw` (``train_seed``): exactly what ``crosstrain data mlearn
--train N`` writes and what the DFT benchmarks train on. ``crosstrain train --config run.yaml``
reads it when no data files are given (files on the command line replace it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from crosstrain.errors import ConfigError
from crosstrain.structure import Structure
from crosstrain.validation import one_line


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSource(_Strict):
    """Structures read from extxyz files (forces required)."""

    kind: Literal["files"]
    train: tuple[str, ...] = Field(min_length=1)
    valid: tuple[str, ...] | None = None

    def describe(self) -> str:
        return ", ".join(self.train) + (f"; validation {', '.join(self.valid)}" if self.valid else "")


class MlearnSource(_Strict):
    """A seeded draw from the leak-free split of an element's mlearn data."""

    kind: Literal["mlearn"]
    element: str
    root: str | None = None  # default: $CROSSTRAIN_MLEARN, else the copy shipped with crosstrain
    train: int | None = Field(None, ge=1)  # None: the whole training part
    train_seed: int = 0
    valid: int = Field(22, ge=0)
    test: int = Field(25, ge=0)
    split_seed: int = 0

    def describe(self) -> str:
        n = "all" if self.train is None else f"{self.train} (seed {self.train_seed}) of the"
        return (
            f"mlearn {self.element}: {n} training structures of the split (seed {self.split_seed}; "
            f"{self.valid} validation, {self.test} test held out)"
        )


DataSource = Annotated[FilesSource | MlearnSource, Field(discriminator="kind")]


@dataclass(frozen=True)
class Selection:
    """The structures a data source gives: training, and validation when it names some."""

    train: list[Structure]
    valid: list[Structure] | None


def data_source(section: Any, where: str = "data") -> FilesSource | MlearnSource:
    """Validate a ``data`` section; one line naming ``where`` and the key otherwise."""
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: a mapping with kind: files or kind: mlearn")
    try:
        return TypeAdapter(DataSource).validate_python(section)
    except ValidationError as exc:
        if exc.errors()[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise ConfigError(f"{where}.kind: must be files or mlearn") from None
        raise ConfigError(f"{where}: {one_line(exc, skip=('files', 'mlearn'))}") from None


def select(source: FilesSource | MlearnSource) -> Selection:
    """Read the structures of a data source (files must exist and carry forces)."""
    from crosstrain.data.extxyz import read_structures

    if isinstance(source, FilesSource):
        train = [s for path in source.train for s in read_structures(path, require=("forces",))]
        held = [s for path in source.valid or () for s in read_structures(path, require=("forces",))]
        return Selection(train, held or None)
    from crosstrain.data.mlearn import mlearn_split
    from crosstrain.data.splits import draw

    split = mlearn_split(source.element, valid=source.valid, test=source.test, seed=source.split_seed, root=source.root)
    train = split["train"] if source.train is None else draw(split["train"], source.train, source.train_seed)
    return Selection(train, split["valid"] or None)
