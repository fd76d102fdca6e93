"""Checksums and manifests for generated data sets."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.io.atomic import write_text
from crosstrain.schema import OMIT_NONE, JSONRecord
from crosstrain.structure import Structure


@dataclass(frozen=True)
class FileEntry(JSONRecord):
    """A file of a data set in its manifest: its checksum and (structure files) how many it holds."""

    sha256: str
    structures: int | None = field(default=None, metadata=OMIT_NONE)


def fingerprint(structures: Iterable[Structure]) -> str:
    """A SHA-256 over the numbers, positions, cells and labels of ``structures`` (order matters)."""
    h = hashlib.sha256()
    for s in structures:
        for arr in (s.numbers, s.positions, s.cell, s.pbc):
            h.update(np.ascontiguousarray(arr).tobytes())
        for label in (s.energy, s.forces, s.stress):
            h.update(b"-" if label is None else np.ascontiguousarray(np.asarray(label, dtype=np.float64)).tobytes())
    return h.hexdigest()


def write_json(path: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(path)
