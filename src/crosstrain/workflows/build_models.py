"""Regenerating a shipped model from its recorded recipe: ``crosstrain models build NAME``.

Each entry of ``index.json`` records its training data (the shipped mlearn set with its split, or
the default Stillinger-Weber protocol) and its recipe; building runs exactly that (resumable).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from crosstrain.errors import ConfigError
from crosstrain.pretrained import HERE, TrainingData, entries


def training_data(spec: TrainingData, work: Path) -> tuple[list, list]:
    """The (training, validation) structures an index entry's ``data`` block describes."""
    element = spec.element
    if spec.kind == "mlearn":
        split = spec.split()
        return split["train"], split["valid"]
    if spec.kind == "sw":
        from crosstrain.data.extxyz import read_structures
        from crosstrain.data.sw import SWProtocol
        from crosstrain.data.sw_dataset import build_sw_dataset

        folder = work / "sw-data"
        build_sw_dataset(folder, (element,), SWProtocol(**(spec.protocol or {})), progress=True)
        return read_structures(folder / f"{element}.train.extxyz"), read_structures(folder / f"{element}.valid.extxyz")
    raise ConfigError(f"unknown data kind {spec.kind!r} in the model index")


def build(name: str, out_dir: str | Path, install: bool = False) -> Path:
    """Train the shipped model ``name`` again into ``out_dir/<name>.ckpt`` (a finished checkpoint
    there is kept; a killed run resumes). ``install`` (for maintainers) copies it into the package
    and records its errors on the held-out structures in ``index.json``."""
    from crosstrain.config import load_config
    from crosstrain.train.reuse import fit_or_reuse

    known = entries()
    if name not in known:
        raise ConfigError(f"no shipped model named {name!r} (known: {', '.join(sorted(known)) or 'none'})")
    entry = known[name]
    out = Path(out_dir)
    train, valid = training_data(entry.data, out)
    config = load_config(entry.recipe, list(entry.overrides or []))
    ckpt = out / f"{name}.ckpt"
    fit_or_reuse(config, train, ckpt, valid=valid, log=print)  # a finished run of this request is kept
    if install:
        _install(name, ckpt, valid)
    return ckpt


def _install(name: str, ckpt: Path, valid: list) -> None:
    import shutil

    from crosstrain.io.atomic import write_text
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate

    model = load_checkpoint(ckpt).model
    m = evaluate(model, Dataset(valid, model.neighbour_cutoff, "held-out"), by=())
    known = entries()
    errors = {"force_mae": m.force_mae, "energy_mae": m.energy_mae, "stress_mae": m.stress_mae}
    known[name] = replace(
        known[name],
        errors={k: round(v, 5) for k, v in errors.items() if v},
        errors_on=f"the {len(valid)} held-out structures of its data (used for model selection)",
    )
    shutil.copyfile(ckpt, known[name].path)
    index = {n: e.to_json() for n, e in known.items()}
    write_text(HERE / "index.json", json.dumps(index, indent=2, ensure_ascii=False) + "\n")
