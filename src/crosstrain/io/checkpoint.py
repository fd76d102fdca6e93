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
from crosstrain.model import build_model, model_config, read_model_file, write_model_file
from crosstrain.model.base import AtomisticModel
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


_CORE = (
    "format",
    "format_version",
    "crosstrain_version",
    "torch_version",
    "created",
    "architecture",
    "model",
    "species",
    "cutoff",
    "units",
    "dtype",
    "energy_shift",
    "energy_scale",
    "length_scale",
    "parent",
    "training",
    "data_fingerprint",
)


@dataclass(frozen=True)
class CheckpointMeta:
    """A checkpoint's metadata as one typed record: what the model is (architecture, species,
    dtype, per-element tables), where it came from (parent, training settings, data fingerprint)
    and, in ``run``, what its training recorded (``history``, ``best_epoch``, ``stopped``,
    ``transfer``, ``data_stats``, ...). The JSON layout is flat, as in format 1."""

    model: dict[str, Any]
    species: list[str]
    dtype: str
    cutoff: float
    energy_shift: dict[str, float] = field(default_factory=dict)
    energy_scale: dict[str, float] = field(default_factory=dict)
    length_scale: dict[str, float] = field(default_factory=dict)
    parent: Parent = field(default_factory=Parent)
    training: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    format_version: int = FORMAT_VERSION
    crosstrain_version: str = ""
    torch_version: str = ""
    created: str = ""
    architecture: str = "dimenet++"
    units: dict[str, str] = field(default_factory=lambda: dict(UNITS))
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped(self) -> str | None:
        """Why training stopped; set only on the final checkpoint of a completed run."""
        value = self.run.get("stopped")
        return None if value is None else str(value)

    @property
    def best_epoch(self) -> int | None:
        return self.run.get("best_epoch")

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.run.get("history") or [])

    @property
    def data_stats(self) -> dict[str, dict[str, float]]:
        return dict(self.run.get("data_stats") or {})

    def to_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in _CORE if name != "format"}
        out["parent"] = vars(self.parent)
        return {"format": FORMAT_NAME, **out, **self.run}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "checkpoint") -> CheckpointMeta:
        """Validate and upgrade older formats (:data:`UPGRADES`) to this one."""
        if data.get("format") != FORMAT_NAME:
            raise CheckpointError(f"{source}: not a crosstrain checkpoint (format {data.get('format')!r})")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise CheckpointError(f"{source}: checkpoint has no valid format_version")
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"{source}: checkpoint format {version} is newer than this crosstrain "
                f"{crosstrain.__version__} reads (<= {FORMAT_VERSION}); upgrade crosstrain"
            )
        while version < FORMAT_VERSION:
            data = UPGRADES[version](dict(data))
            version = data["format_version"]
        for key in ("model", "species", "dtype"):
            if key not in data:
                raise CheckpointError(f"{source}: checkpoint metadata lacks {key!r}")
        core = {k: data[k] for k in _CORE if k in data and k != "format"}
        core["parent"] = Parent(**data.get("parent", {}))
        core.setdefault("cutoff", data["model"].get("cutoff"))
        run = {k: v for k, v in data.items() if k not in _CORE}
        try:
            return cls(**core, run=run)
        except TypeError as exc:
            raise CheckpointError(f"{source}: invalid checkpoint metadata ({exc})") from None


# format n -> n + 1 converters of the metadata JSON; none yet (format 1 is the first)
UPGRADES: dict[int, Any] = {}


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model and its metadata."""

    model: AtomisticModel
    meta: CheckpointMeta
    path: Path | None = None

    @property
    def parent(self) -> Parent:
        return self.meta.parent


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, the identity used for parent links."""
    return sha256_file(path)


def _dtype_name(dtype: torch.dtype) -> str:
    for name, dt in _DTYPES.items():
        if dt == dtype:
            return name
    raise CheckpointError(f"unsupported model dtype {dtype}")


def build_metadata(
    model: AtomisticModel,
    *,
    parent: Parent | None = None,
    training: dict[str, Any] | None = None,
    data_fingerprint: str = "",
    extra: dict[str, Any] | None = None,
) -> CheckpointMeta:
    """The metadata describing ``model``; ``extra`` are the run's records."""
    symbols = model.species.symbols
    numbers = list(model.species.numbers)
    clash = sorted(set(extra or {}) & set(_CORE))
    if clash:
        raise ValueError(f"run records may not overwrite checkpoint metadata: {clash}")
    return CheckpointMeta(
        model=model.config.to_dict(),
        architecture=model.architecture,
        species=symbols,
        dtype=_dtype_name(model.dtype),
        cutoff=model.config.cutoff,
        energy_shift={s: float(model.energy_shift[z]) for s, z in zip(symbols, numbers)},
        energy_scale={s: float(model.energy_scale[z]) for s, z in zip(symbols, numbers)},
        length_scale={s: float(model.length_scale[z]) for s, z in zip(symbols, numbers)},
        parent=parent or Parent(),
        training=training or {},
        data_fingerprint=data_fingerprint,
        crosstrain_version=crosstrain.__version__,
        torch_version=torch.__version__,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        run=dict(extra or {}),
    )


def save_checkpoint(
    model: AtomisticModel,
    path: str | os.PathLike[str],
    *,
    parent: Parent | None = None,
    training: dict[str, Any] | None = None,
    data_fingerprint: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its metadata atomically to ``path`` (safetensors); returns the path."""
    from safetensors.torch import save_file

    meta = build_metadata(
        model, parent=parent, training=training, data_fingerprint=data_fingerprint, extra=extra
    ).to_json()
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"crosstrain": json.dumps(meta, ensure_ascii=False)})
    return Path(path)


def _is_model_file(path: Path) -> bool:
    """Whether ``path`` is a ``torch.save`` archive, as another code's model file (mace-torch) is;
    crosstrain's own checkpoints are safetensors."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _read_model_file(path: Path) -> Checkpoint:
    """Another code's model file (mace-torch) as a checkpoint with the metadata crosstrain writes.
    Reading one unpickles it (runs code from it), so only a file named ``*.model`` (mace-torch's
    convention: the user says what it is) is read."""
    if path.suffix != ".model":
        raise CheckpointError(
            f"{path}: a torch archive, not a crosstrain checkpoint; a mace-torch model file is read only "
            "when named *.model (reading one runs code from it: give only files you trust)"
        )
    try:
        model = read_model_file(path)
    except ConfigError as exc:
        message = str(exc)
        raise CheckpointError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    meta = build_metadata(model, training={"source": f"mace-torch model file {path.name}"})
    return Checkpoint(model=model, meta=meta, path=path)


def read_meta(path: str | os.PathLike[str]) -> CheckpointMeta:
    """The metadata of the checkpoint at ``path``, validated but without loading weights (a
    mace-torch model file is read whole: its settings are in the model)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    if _is_model_file(p):
        return _read_model_file(p).meta
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
    if not isinstance(meta, dict):
        raise CheckpointError(f"{p}: checkpoint metadata is not a JSON object")
    return CheckpointMeta.from_json(meta, str(p))


def is_finished(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds the final checkpoint of a completed training run (its metadata says
    why training stopped); a missing, partial or unreadable file is not finished."""
    try:
        return read_meta(path).stopped is not None
    except CheckpointError:
        return False


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`, or a mace-torch model file; every
    failure is a CheckpointError."""
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_file() and _is_model_file(p):
        found = _read_model_file(p)
        found.model.to(device).eval()
        return found
    meta = read_meta(p)
    try:
        config = model_config(meta.model, meta.architecture)
        species = SpeciesMap.from_json(meta.species)
    except (ConfigError, SpeciesError, TypeError) as exc:
        raise CheckpointError(f"{p}: invalid model metadata ({exc})") from None
    if meta.cutoff != config.cutoff:
        raise CheckpointError(f"{p}: metadata cutoff {meta.cutoff} differs from the model's {config.cutoff}")
    dtype = _DTYPES.get(meta.dtype)
    if dtype is None:
        raise CheckpointError(f"{p}: unsupported dtype {meta.dtype!r}")
    try:
        tensors = load_file(str(p), device=str(device))
    except Exception as exc:
        raise CheckpointError(f"{p}: weights could not be read (corrupted or truncated: {exc})") from None
    model = build_model(config, species).to(dtype=dtype)
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
    return Checkpoint(model=model, meta=meta, path=p)


def _check_shifts(path: Path, meta: CheckpointMeta, model: AtomisticModel) -> None:
    tables = (
        ("energy_shift", meta.energy_shift, model.energy_shift),
        ("energy_scale", meta.energy_scale, model.energy_scale),
        ("length_scale", meta.length_scale, model.length_scale),
    )
    for key, recorded, table in tables:
        for sym, value in recorded.items():
            z = SpeciesMap.from_elements([sym]).numbers[0]
            if abs(float(table[z]) - float(value)) > 1e-6 * max(1.0, abs(float(value))):
                raise CheckpointError(f"{path}: metadata {key} of {sym} ({value}) differs from the weights")


def export_model(
    model: AtomisticModel,
    path: str | os.PathLike[str],
    file_format: str = "mace-torch",
    *,
    elements: list[str] | None = None,
) -> Path:
    """Write ``model`` as another code's model file (MACE: a mace-torch model), atomically: a refused
    export or a killed run leaves nothing at ``path``."""
    with atomic_path(path) as tmp:
        write_model_file(model, tmp, file_format, elements=elements)
    return Path(path)
