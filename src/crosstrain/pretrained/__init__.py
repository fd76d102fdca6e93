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
from pathlib import Path
from typing import Any

from crosstrain.config import recipes, resolve_recipe  # noqa: F401  (recipes are addressed by name here too)
from crosstrain.errors import CheckpointError

HERE = Path(__file__).resolve().parent


def entries() -> dict[str, dict[str, Any]]:
    """Every entry of ``index.json``, whether or not its checkpoint is present."""
    path = HERE / "index.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def index() -> dict[str, dict[str, Any]]:
    """The shipped models by name (only those whose file is present)."""
    return {name: e for name, e in entries().items() if (HERE / e["file"]).is_file()}


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
    return HERE / entry["file"]


def shipped_entry(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]] | None:
    """The name and index entry of a shipped model given its path (matched by checksum), else ``None``."""
    from crosstrain.io.hashing import sha256_file

    digest = sha256_file(path)
    for name, entry in index().items():
        if sha256_file(HERE / entry["file"]) == digest:
            return name, entry
    return None


def entry_for(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The index entry of a shipped model given its path (matched by checksum), else ``None``."""
    found = shipped_entry(path)
    return found[1] if found else None


def mlearn_split(spec: dict[str, Any]) -> dict[str, list]:
    """The shipped mlearn structures of ``spec["element"]`` split as ``spec`` says (valid, test, seed)."""
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn
    from crosstrain.data.splits import stratified_split

    element = spec["element"]
    structures = read_mlearn(mlearn_file(find_mlearn_root(), element), element=element)
    split = stratified_split(structures, spec["valid"], spec["test"], seed=spec["seed"])
    return {part: [structures[i] for i in idx] for part, idx in split.items()}


def parent_training_data(path: str | os.PathLike[str]) -> list | None:
    """The training structures of a shipped parent, rebuilt from the data that ship with crosstrain
    (``None`` for other checkpoints: then ``replay`` needs ``--replay-data``)."""
    spec = (entry_for(path) or {}).get("data") or {}
    return mlearn_split(spec)["train"] if spec.get("kind") == "mlearn" else None
