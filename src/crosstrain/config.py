"""One typed configuration for training and transfer, loaded from YAML and overridable.

    cfg = load_config("train.yaml", overrides=["train.lr=5e-4", "model.preset=paper"])

Sections: ``model`` (a preset name plus any field of the model configuration), ``train`` (loss,
optimiser, schedule, batching, stopping) and ``transfer`` (strategy and its settings). Every
value is validated once, here; unknown keys are errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.model import DEFAULT_ARCHITECTURE, ModelConfig, architecture_of, preset
from crosstrain.species import symbol, to_atomic_number
from crosstrain.validation import Count, Number, Positive, PositiveNumber, settings

RECIPES = Path(__file__).resolve().parent / "recipes"
Weight = Annotated[Number, Field(ge=0)]  # a loss or penalty weight


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

    @property
    def settings(self) -> tuple[str, ...]:
        """The ``TransferConfig`` fields that belong to this strategy alone (a study searches them
        only for it)."""
        return STRATEGY_SETTINGS.get(self, ())


STRATEGIES = tuple(s.value for s in Strategy)
# What a strategy does lives in crosstrain.train.transfer (its RULES); its own settings are here,
# beside the fields they name. A new strategy: its name above, its settings here, its rule there.
STRATEGY_SETTINGS: dict[Strategy, tuple[str, ...]] = {
    Strategy.RESCALED: ("length_scale", "energy_scale", "scale_fit"),
    Strategy.L2SP: ("l2sp_alpha",),
    Strategy.REPLAY: ("replay_ratio",),
}
#: every strategy's own settings together (each applies to its strategy alone)
STRATEGY_SETTING_NAMES = frozenset(name for names in STRATEGY_SETTINGS.values() for name in names)


@settings("train")
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

    loss: Literal["forces", "energy_forces", "energy_forces_stress"] = "forces"
    energy_weight: Weight = 1.0
    forces_weight: Weight = 1.0
    stress_weight: Weight = 0.1
    lr: PositiveNumber = 1e-3
    lr_decay: Annotated[Number, Field(gt=0, le=1)] = 0.01
    schedule: Literal["exponential", "cosine"] = "exponential"
    warmup_steps: Annotated[Count, Field(ge=0)] = 0
    epochs: Positive = 100
    batch_size: Positive = 4
    grad_clip: PositiveNumber | None = 10.0
    ema_decay: Annotated[Number, Field(gt=0, lt=1)] | None = None
    patience: Positive | None = None  # epochs without validation improvement before stopping
    valid_every: Positive = 1  # epochs between validations (the last epoch is always validated)
    seed: Count = 0
    dtype: Literal["float32", "float64"] = "float32"
    device: str = "cpu"
    threads: Annotated[Count, Field(ge=0)] | None = None  # None or 0: leave torch's thread count alone
    stage_two: Annotated[Number, Field(ge=0, lt=1)] | None = None  # fraction of the steps after which stage two applies
    stage_two_energy_weight: Weight | None = None
    stage_two_forces_weight: Weight | None = None
    stage_two_stress_weight: Weight | None = None
    select_on: Literal["forces", "loss"] = "forces"
    compile: bool = False  # torch.compile the training step (faster steps after a compile of minutes)

    @model_validator(mode="after")
    def _selection_needs_energies(self) -> TrainConfig:
        if self.select_on == "loss" and self.loss == "forces":
            raise ValueError("select_on=loss needs a loss with energies (energy_forces or energy_forces_stress)")
        return self


@settings("transfer")
class TransferConfig:
    """One transfer request: the strategy, the parent (a checkpoint path or the name of a shipped
    model) and the element map (target -> parent element, e.g. ``{"Ge": "Si"}``), with the
    strategy's settings (see :mod:`crosstrain.train.transfer`). ``scratch`` ignores the parent, so
    callers set only the strategy to compare arms."""

    strategy: Strategy = Strategy.SCRATCH
    parent: str | None = None
    element_map: dict[str, str] = field(default_factory=dict)
    l2sp_alpha: Weight = 1e-3
    length_scale: PositiveNumber | None = None  # rescaled: target lengths x scale = source lengths
    energy_scale: PositiveNumber | None = None  # rescaled: target energies = scale x source energies
    # rescaled: fit the scales on the forces (default) or on the training loss (energies and stress
    # too); "loss" gave worse energies at n = 22 on mlearn Ge (benchmarks/dft-transfer/dft_transfer5_loss_scales.json)
    scale_fit: Literal["forces", "loss"] = "forces"
    # replay: parent-data structures per target structure; 2 kept both elements closer to `full` and the
    # parent than 1 at n = 22 on mlearn Ge (benchmarks/dft-transfer/dft_transfer5_replay2_vs_full.json)
    replay_ratio: PositiveNumber = 2.0

    @field_validator("parent", mode="before")
    @classmethod
    def _path_as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @field_validator("element_map", mode="before")
    @classmethod
    def _element_symbols(cls, value: Any) -> Any:
        """Symbols or atomic numbers, e.g. ``{"Ge": "Si"}`` or ``{32: 14}``, stored as symbols."""
        if not isinstance(value, dict):
            raise ValueError("must map target to parent elements, e.g. {Ge: Si}")
        try:
            return {symbol(to_atomic_number(t)): symbol(to_atomic_number(s)) for t, s in value.items()}
        except SpeciesError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Config:
    model_preset: str = "cpu"
    model: ModelConfig = field(default_factory=lambda: preset("cpu"))
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def to_dict(self) -> dict[str, Any]:
        model = self.model.to_dict()
        architecture = architecture_of(self.model)
        # the default architecture is not named, so that runs recorded before there were two resume
        named = {} if architecture == DEFAULT_ARCHITECTURE else {"architecture": architecture}
        return {
            "model": {"preset": self.model_preset, **named, **model},
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


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from nested plain data."""
    data = dict(data or {})
    unknown = sorted(set(data) - {"model", "train", "transfer"})
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(unknown)} (use model, train, transfer)")
    model_data = dict(data.get("model") or {})
    preset_name = str(model_data.pop("preset", "cpu"))
    base = preset(preset_name, str(model_data.pop("architecture", DEFAULT_ARCHITECTURE)))
    return Config(
        model_preset=preset_name,
        model=replace(base, **model_data) if model_data else base,
        train=TrainConfig(**dict(data.get("train") or {})),
        transfer=TransferConfig(**dict(data.get("transfer") or {})),
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


def read_config_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """The plain data of a YAML config (a path or the name of a shipped recipe) and its path."""
    p = resolve_recipe(path)
    try:
        data = load_yaml(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config is a mapping with sections model, train, transfer")
    return data, p


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (a path or the name of a shipped recipe, e.g. ``dft-cpu``; or the defaults)
    and apply ``overrides``."""
    data = read_config_file(path)[0] if path is not None else {}
    return config_from_dict(apply_overrides(data, overrides or []))
