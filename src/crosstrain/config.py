"""One typed configuration for training and transfer, loaded from YAML and overridable.

    cfg = load_config("train.yaml", overrides=["train.lr=5e-4", "model.preset=paper"])

Sections: ``model`` (a preset name plus any :class:`DimeNetConfig` field), ``train`` (loss,
optimiser, schedule, batching, stopping) and ``transfer`` (strategy and its settings). Every
value is validated once, here; unknown keys are errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.model.config import DimeNetConfig, preset
from crosstrain.species import symbol, to_atomic_number

RECIPES = Path(__file__).resolve().parent / "recipes"
LOSSES = ("forces", "energy_forces", "energy_forces_stress")
SCHEDULES = ("exponential", "cosine")
SELECTIONS = ("forces", "loss")


class Strategy(StrEnum):
    """How a target-element model starts (see :mod:`crosstrain.train.transfer`)."""

    SCRATCH = "scratch"
    FULL = "full"
    RESCALED = "rescaled"
    FREEZE = "freeze"
    L2SP = "l2sp"
    REPLAY = "replay"

    @property
    def needs_parent(self) -> bool:
        return self is not Strategy.SCRATCH


STRATEGIES = tuple(s.value for s in Strategy)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    The learning rate rises linearly from 0 over ``warmup_steps`` optimiser steps, then decays to
    ``lr × lr_decay`` at the last step: exponentially (the paper group's recipe) or along a
    half cosine (``schedule: cosine``). Loss weights are explained in :mod:`crosstrain.train.loss`.

    Stage two (MACE's recipe): from the fraction ``stage_two`` of the steps on, the loss uses the
    ``stage_two_*_weight`` values (unset ones keep their stage-one value), typically a larger energy
    weight once the forces are learned. ``select_on`` picks the validation figure that chooses the
    best model and drives early stopping: the force MAE (the paper's) or the validation loss with
    the final (stage-two) energy and force weights. ``compile`` runs the same loss through
    ``torch.func`` and ``torch.compile`` (:mod:`crosstrain.model.compiled`).
    """

    loss: str = "forces"
    energy_weight: float = 1.0
    forces_weight: float = 1.0
    stress_weight: float = 0.1
    lr: float = 1e-3
    lr_decay: float = 0.01
    schedule: str = "exponential"
    warmup_steps: int = 0
    epochs: int = 100
    batch_size: int = 4
    grad_clip: float | None = 10.0
    ema_decay: float | None = None
    patience: int | None = None  # epochs without validation improvement before stopping
    valid_every: int = 1  # epochs between validations (the last epoch is always validated)
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    threads: int | None = None
    stage_two: float | None = None  # fraction of the steps after which the stage-two weights apply
    stage_two_energy_weight: float | None = None
    stage_two_forces_weight: float | None = None
    stage_two_stress_weight: float | None = None
    select_on: str = "forces"
    compile: bool = False  # torch.compile the training step (~2x faster steps on a CPU after a 1-2 min compile)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"train.loss must be one of {LOSSES}, got {self.loss!r}")
        if not self.lr > 0:
            raise ConfigError(f"train.lr must be positive, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"train.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.warmup_steps < 0:
            raise ConfigError(f"train.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.epochs < 1 or self.batch_size < 1 or self.valid_every < 1:
            raise ConfigError("train.epochs, train.batch_size and train.valid_every must be >= 1")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError(f"train.ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"train.dtype must be float32 or float64, got {self.dtype!r}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError("train.grad_clip must be positive or null")
        if min(self.energy_weight, self.forces_weight, self.stress_weight) < 0:
            raise ConfigError("loss weights must be >= 0")
        if self.stage_two is not None and not 0 <= self.stage_two < 1:
            raise ConfigError(f"train.stage_two must be a fraction of the steps in [0, 1), got {self.stage_two}")
        stage_two = (self.stage_two_energy_weight, self.stage_two_forces_weight, self.stage_two_stress_weight)
        if any(w is not None and w < 0 for w in stage_two):
            raise ConfigError("stage-two loss weights must be >= 0")
        if self.select_on not in SELECTIONS:
            raise ConfigError(f"train.select_on must be one of {SELECTIONS}, got {self.select_on!r}")
        if self.select_on == "loss" and self.loss == "forces":
            raise ConfigError("train.select_on=loss needs a loss with energies (energy_forces or energy_forces_stress)")


@dataclass(frozen=True)
class TransferConfig:
    """One transfer request: the strategy, the parent (a checkpoint path or the name of a shipped
    model) and the element map (target -> parent element, e.g. ``{"Ge": "Si"}``), with the
    strategy's settings (see :mod:`crosstrain.train.transfer`). ``scratch`` ignores the parent, so
    callers set only the strategy to compare arms."""

    strategy: Strategy = Strategy.SCRATCH
    parent: str | None = None
    element_map: dict[str, str] = field(default_factory=dict)
    l2sp_alpha: float = 1e-3
    length_scale: float | None = None  # rescaled: target lengths x scale = source lengths
    energy_scale: float | None = None  # rescaled: target energies = scale x source energies
    # rescaled: fit the scales on the forces (default) or on the training loss (energies and stress
    # too); measured at n = 22 on mlearn Ge: "loss" 14.1 vs 9.4 meV/atom, forces alike (README)
    scale_fit: str = "forces"
    replay_ratio: float = 1.0  # replay: parent-data structures per target structure (at least one)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"transfer.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        object.__setattr__(self, "strategy", Strategy(self.strategy))
        if self.parent is not None:
            object.__setattr__(self, "parent", str(self.parent))
        if not isinstance(self.element_map, dict):
            raise ConfigError(f"transfer.element_map must map target to parent elements, got {self.element_map!r}")
        try:
            mapped = {symbol(to_atomic_number(t)): symbol(to_atomic_number(s)) for t, s in self.element_map.items()}
        except SpeciesError as exc:
            raise ConfigError(f"transfer.element_map: {exc}") from None
        object.__setattr__(self, "element_map", mapped)
        if self.scale_fit not in ("forces", "loss"):
            raise ConfigError(f"transfer.scale_fit must be forces or loss, got {self.scale_fit!r}")
        if not self.replay_ratio > 0:
            raise ConfigError(f"transfer.replay_ratio must be positive, got {self.replay_ratio}")
        if self.l2sp_alpha < 0:
            raise ConfigError("transfer.l2sp_alpha must be >= 0")
        for name in ("length_scale", "energy_scale"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"transfer.{name} must be positive, got {v}")


@dataclass(frozen=True)
class Config:
    model_preset: str = "cpu"
    model: DimeNetConfig = field(default_factory=lambda: preset("cpu"))
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def to_dict(self) -> dict[str, Any]:
        model = asdict(self.model)
        return {
            "model": {"preset": self.model_preset, **model},
            "train": asdict(self.train),
            "transfer": {**asdict(self.transfer), "strategy": self.transfer.strategy.value},
        }


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; users mean a number, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that also reads ``1e-3`` as a float."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def _parse_value(text: str) -> Any:
    return load_yaml(text)


def _section(cls: type, data: dict[str, Any], name: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {name} setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for f in fields(cls):
        value = data.get(f.name)
        numeric = any(t in str(f.type) for t in ("float", "int")) and "str" not in str(f.type)
        if numeric and isinstance(value, str | bool):
            raise ConfigError(f"{name}.{f.name} must be a number, got {value!r}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"invalid {name} settings: {exc}") from None


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from nested plain data."""
    data = dict(data or {})
    unknown = sorted(set(data) - {"model", "train", "transfer"})
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(unknown)} (use model, train, transfer)")
    model_data = dict(data.get("model") or {})
    preset_name = str(model_data.pop("preset", "cpu"))
    base = preset(preset_name)
    known = {f.name for f in fields(DimeNetConfig)}
    bad = sorted(set(model_data) - known)
    if bad:
        raise ConfigError(f"unknown model setting(s): {', '.join(bad)}")
    model = replace(base, **model_data) if model_data else base
    return Config(
        model_preset=preset_name,
        model=model,
        train=_section(TrainConfig, dict(data.get("train") or {}), "train"),
        transfer=_section(TransferConfig, dict(data.get("transfer") or {}), "transfer"),
    )


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to nested plain data."""
    out = {k: dict(v or {}) for k, v in (data or {}).items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. train.lr=1e-3)")
        key, text = item.split("=", 1)
        section, name = key.split(".", 1)
        out.setdefault(section.strip(), {})[name.strip()] = _parse_value(text)
    return out


def recipes() -> list[str]:
    """Names of the shipped training recipes (``crosstrain/recipes/*.yaml``)."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def resolve_recipe(name_or_path: str | os.PathLike[str]) -> Path:
    """A config path: ``name_or_path`` if it is a file, else the shipped recipe of that name."""
    p = Path(name_or_path)
    if p.is_file() or p.suffix in (".yaml", ".yml"):
        return p
    if (RECIPES / f"{p}.yaml").is_file():
        return RECIPES / f"{p}.yaml"
    names = ", ".join(recipes())
    raise ConfigError(f"{name_or_path}: no such config file and no shipped recipe of that name ({names})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (a path or the name of a shipped recipe, e.g. ``dft-cpu``; or the defaults)
    and apply ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        p = resolve_recipe(path)
        try:
            data = load_yaml(p.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: a config is a mapping with sections model, train, transfer")
    return config_from_dict(apply_overrides(data, overrides or []))
