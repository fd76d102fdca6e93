"""Checkpoints: safetensors weights plus JSON metadata in the same file, never a pickled module.

The safetensors header carries one metadata entry, ``crosstrain``, a JSON document with the
format version, package version, species, cutoff, units, dtype, architecture hyperparameters,
per-element energy shifts and scales, the parent checkpoint (hash and strategy) and a training
data fingerprint. Files are written atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import crosstrain
from crosstrain.errors import CheckpointError, ConfigError, SpeciesError
from crosstrain.io.atomic import atomic_path
from crosstrain.io.hashing import sha256_file
from crosstrain.model.config import DimeNetConfig
from crosstrain.model.dimenet import DimeNetPP
from crosstrain.species import SpeciesMap

FORMAT_NAME = "crosstrain-checkpoint"
FORMAT_VERSION = 1
UNITS = {"energy": "eV", "length": "Å", "forces": "eV/Å", "stress": "eV/Å^3"}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Parent:
    """Where a transferred model came from; ``sha256`` empty for a model trained from scratch."""

    sha256: str = ""
    strategy: str = "scratch"
    path: str = ""
    element_map: dict[str, str] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model and its metadata."""

    model: DimeNetPP
    metadata: dict[str, Any]
    path: Path | None = None

    @property
    def parent(self) -> Parent:
        return Parent(**self.metadata.get("parent", {}))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, the identity used for parent links."""
    return sha256_file(path)


def _dtype_name(dtype: torch.dtype) -> str:
    for name, dt in _DTYPES.items():
        if dt == dtype:
            return name
    raise CheckpointError(f"unsupported model dtype {dtype}")


def build_metadata(
    model: DimeNetPP,
    parent: Parent | None = None,
    training: dict[str, Any] | None = None,
    data_fingerprint: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON metadata describing ``model``."""
    symbols = model.species.symbols
    numbers = list(model.species.numbers)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "crosstrain_version": crosstrain.__version__,
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "architecture": "dimenet++",
        "model": model.config.to_dict(),
        "species": symbols,
        "cutoff": model.config.cutoff,
        "units": UNITS,
        "dtype": _dtype_name(model.dtype),
        "energy_shift": {s: float(model.energy_shift[z]) for s, z in zip(symbols, numbers)},
        "energy_scale": {s: float(model.energy_scale[z]) for s, z in zip(symbols, numbers)},
        "length_scale": {s: float(model.length_scale[z]) for s, z in zip(symbols, numbers)},
        "parent": vars(parent or Parent()),
        "training": training or {},
        "data_fingerprint": data_fingerprint,
        **(extra or {}),
    }


def save_checkpoint(
    model: DimeNetPP,
    path: str | os.PathLike[str],
    parent: Parent | None = None,
    training: dict[str, Any] | None = None,
    data_fingerprint: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its metadata atomically to ``path`` (safetensors); returns the path."""
    from safetensors.torch import save_file

    meta = build_metadata(model, parent, training, data_fingerprint, extra)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"crosstrain": json.dumps(meta, ensure_ascii=False)})
    return Path(path)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of the checkpoint at ``path``, validated but without loading weights."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    try:
        with safe_open(str(p), framework="pt") as fh:
            header = fh.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{p}: not a readable crosstrain checkpoint (corrupted or truncated: {exc})") from None
    raw = header.get("crosstrain")
    if raw is None:
        raise CheckpointError(f"{p}: safetensors file without crosstrain metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{p}: checkpoint metadata is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{p}: not a crosstrain checkpoint (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{p}: checkpoint has no valid format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: checkpoint format {version} is newer than this crosstrain "
            f"{crosstrain.__version__} reads (<= {FORMAT_VERSION}); upgrade crosstrain"
        )
    for key in ("model", "species", "dtype"):
        if key not in meta:
            raise CheckpointError(f"{p}: checkpoint metadata lacks {key!r}")
    return meta


def is_finished(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds the final checkpoint of a completed training run (its metadata says
    why training stopped); a missing, partial or unreadable file is not finished."""
    try:
        return "stopped" in read_metadata(path)
    except CheckpointError:
        return False


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`; every failure is a CheckpointError."""
    from safetensors.torch import load_file

    p = Path(path)
    meta = read_metadata(p)
    try:
        config = DimeNetConfig.from_dict(meta["model"])
        species = SpeciesMap.from_json(meta["species"])
    except (ConfigError, SpeciesError, TypeError) as exc:
        raise CheckpointError(f"{p}: invalid model metadata ({exc})") from None
    if meta.get("cutoff", config.cutoff) != config.cutoff:
        raise CheckpointError(f"{p}: metadata cutoff {meta['cutoff']} differs from the model's {config.cutoff}")
    dtype = _DTYPES.get(meta["dtype"])
    if dtype is None:
        raise CheckpointError(f"{p}: unsupported dtype {meta['dtype']!r}")
    try:
        tensors = load_file(str(p), device=str(device))
    except Exception as exc:
        raise CheckpointError(f"{p}: weights could not be read (corrupted or truncated: {exc})") from None
    model = DimeNetPP(config, species).to(dtype=dtype)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{p}: weights do not match the metadata's architecture ({' '.join(first[:2])[:300]})"
        ) from None
    _check_shifts(p, meta, model)
    model.to(device)
    model.eval()
    return Checkpoint(model=model, metadata=meta, path=p)


def _check_shifts(path: Path, meta: dict[str, Any], model: DimeNetPP) -> None:
    tables = (
        ("energy_shift", model.energy_shift),
        ("energy_scale", model.energy_scale),
        ("length_scale", model.length_scale),
    )
    for key, table in tables:
        for sym, value in meta.get(key, {}).items():
            z = SpeciesMap.from_elements([sym]).numbers[0]
            if abs(float(table[z]) - float(value)) > 1e-6 * max(1.0, abs(float(value))):
                raise CheckpointError(f"{path}: metadata {key} of {sym} ({value}) differs from the weights")
