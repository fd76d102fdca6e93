"""The run request: what a ``train`` or ``transfer`` run will do, and where each choice came from.

Every default is decided here, once, for the command line, a study and Python alike:

- **The parent decides the architecture.** A transfer takes the parent's model settings. Only a
  model setting the user gave (in ``--config`` or ``--set``) that differs from the parent's is an
  error, naming that key.
- **A shipped parent names its fine-tuning recipe and strategy** (``finetune`` in the shipped-model
  index, each with the record that chose it). A parent given as a file starts from the training
  settings it was trained with, at :data:`FINETUNE_LR_FACTOR` times its learning rate (the factor
  the learning-rate search chose for fine-tuning), with the ``rescaled`` strategy.
- **The data decide the loss.** Energies and stress are trained on when every structure has them;
  forces alone when not. A loss the user asked for that needs labels the data lack is an error
  naming the file and record. ``train`` without ``--config`` uses :data:`DFT_RECIPE`.
- **The data are named once.** Files (``DATA`` on the command line), or the ``data`` section of the
  config (:mod:`crosstrain.data.source`: extxyz files, or an mlearn selection with its split); the
  files given replace the section.
- **Unambiguous things are inferred.** A one-element parent and one-element data map onto each
  other; a missing validation set is a seeded, family-aware share of the data
  (:data:`VALID_SHARE`).

:func:`resolve` returns a frozen :class:`RunRequest`; :meth:`RunRequest.describe` is the one line
every run prints before its first step, and :meth:`RunRequest.to_json` what its record carries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crosstrain.config import Config, Strategy, apply_overrides, config_from_dict, read_config_file
from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

#: ``train`` on data with energies and no ``--config``: the DFT recipe the evidence chose
DFT_RECIPE = "dft-cpu5"
#: a parent given as a file fine-tunes at this factor times its own peak learning rate: the
#: search at n = 22 chose 5e-4 over the parent recipe's 2e-3 for rescaled transfer
#: (benchmarks/dft-transfer/dft_lr_search.json)
FINETUNE_LR_FACTOR = 0.25
FINETUNE_EVIDENCE = "benchmarks/dft-transfer/dft_lr_search.json"
#: a parent given as a file and no --strategy: the strategy with the lowest test forces at n = 22
#: for both shipped DFT parents (benchmarks/dft-transfer/dft_transfer.json, dft_transfer5_5seeds.json)
DEFAULT_STRATEGY = Strategy.RESCALED
#: share of the data held out for validation when none is given (at least one structure from
#: ``MIN_FOR_VALID`` structures on; below that, models are selected on the training data)
VALID_SHARE = 0.1
MIN_FOR_VALID = 5
#: environment switch for checking a command chain end to end (never for results)
SMOKE_ENV = "CROSSTRAIN_SMOKE"
SMOKE_EPOCHS = 2
SMOKE_STRUCTURES = 4

Paths = Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class Choice:
    """One decision of a run request: its value and where it came from."""

    name: str
    value: str
    source: str

    def __str__(self) -> str:
        return f"{self.name} {self.value} ({self.source})"


@dataclass(frozen=True)
class RunRequest:
    """Everything a run needs, validated, with the provenance of each choice."""

    config: Config
    data: tuple[Structure, ...]
    valid: tuple[Structure, ...] | None
    choices: tuple[Choice, ...]

    @property
    def parent(self) -> str | None:
        return self.config.transfer.parent

    @property
    def element_map(self) -> dict[str, str]:
        return dict(self.config.transfer.element_map)

    def choice(self, name: str) -> Choice:
        return next(c for c in self.choices if c.name == name)

    def describe(self) -> str:
        """The one line a run prints before its first step."""
        return "; ".join(str(c) for c in self.choices)

    def to_json(self) -> dict[str, Any]:
        return {
            "choices": {c.name: {"value": c.value, "source": c.source} for c in self.choices},
            "n_train": len(self.data),
            "n_valid": len(self.valid or ()),
            "config": self.config.to_dict(),
        }


def smoke_mode() -> bool:
    """Whether ``CROSSTRAIN_SMOKE`` asks for the quick end-to-end check."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _recipe_name(path: Path) -> str:
    from crosstrain.config import RECIPES

    return path.stem if path.parent == RECIPES else str(path)


def _labels(structures: Sequence[Structure]) -> tuple[bool, bool]:
    """Whether every structure has an energy, and whether every one has a stress."""
    return all(s.energy is not None for s in structures), all(s.stress is not None for s in structures)


def _first_without(structures: Sequence[Structure], label: str) -> Structure:
    return next(s for s in structures if getattr(s, label) is None)


def _loss_for_data(wanted: str, structures: Sequence[Structure], fixed_by: str | None) -> tuple[str, str]:
    """The loss of a run: the user's (an error if the data lack its labels), a named recipe's
    (lowered to the labels the data have), or, with neither, the richest the data support."""
    has_energy, has_stress = _labels(structures)
    needs_energy = wanted != "forces"
    needs_stress = wanted == "energy_forces_stress"
    if fixed_by == "user":
        if needs_energy and not has_energy:
            s = _first_without(structures, "energy")
            raise ConfigError(
                f"{s.source}: no energy, but train.loss={wanted} trains on energies (set train.loss=forces)"
            )
        if needs_stress and not has_stress:
            s = _first_without(structures, "stress")
            raise ConfigError(f"{s.source}: no stress, but train.loss={wanted} trains on stress (set energy_forces)")
        return wanted, "user"
    if fixed_by == "recipe" and not needs_energy:
        return "forces", "recipe"
    if has_energy and has_stress and (needs_stress or fixed_by is None):
        return "energy_forces_stress", "data: energies, forces and stress"
    if has_energy:
        return "energy_forces", "data: energies and forces" + ("" if has_stress else ", no stress")
    return "forces", "data: forces only"


def _explicit_model_conflicts(
    user_model: dict[str, Any], parent_model: dict[str, Any], where: str, architecture: str
) -> None:
    """Refuse a model setting the user gave that differs from the parent's architecture."""
    from crosstrain.model import preset

    explicit = dict(user_model)
    wanted = explicit.pop("architecture", architecture)
    if wanted != architecture:
        raise ConfigError(
            f"model.architecture = {wanted} ({where}) but the parent is a {architecture} model; "
            "a transfer keeps the parent's architecture (no transfer between architectures)"
        )
    name = explicit.pop("preset", None)
    if name is not None:  # a preset stands for all of its settings, the user's keys on top
        explicit = {**preset(str(name), architecture).to_dict(), **explicit}
    for key, value in explicit.items():
        if key == "output_init":
            continue
        if key not in parent_model:
            raise ConfigError(f"model.{key} ({where}): not a setting of the parent's architecture")
        if value != parent_model[key]:
            origin = f" (from preset {name})" if key not in user_model else ""
            raise ConfigError(
                f"model.{key}{origin} = {value} ({where}) differs from the parent's {parent_model[key]}; "
                "a transfer keeps the parent's architecture: drop the setting"
            )


def _split_valid(structures: list[Structure], seed: int) -> tuple[list[Structure], list[Structure] | None, str]:
    from crosstrain.data.splits import stratified_split

    n = len(structures)
    if n < MIN_FOR_VALID:
        return structures, None, f"none: fewer than {MIN_FOR_VALID} structures, models selected on the training data"
    k = max(1, round(VALID_SHARE * n))
    split = stratified_split(structures, k, 0, seed=seed)
    train = [structures[i] for i in split["train"]]
    valid = [structures[i] for i in split["valid"]]
    return train, valid, f"{len(valid)} of {n} structures held out (seeded {seed}, whole families)"


def infer_map(parent_species: Sequence[str], data_elements: set[str]) -> tuple[dict[str, str], str] | None:
    """The element map a one-element parent and one-element data imply, with where it came from
    (``None`` when it is ambiguous)."""
    if len(parent_species) == 1 and len(data_elements) == 1:
        (target,) = data_elements
        source = parent_species[0]
        if target == source:
            return {}, "same element as the parent"
        return {target: source}, "inferred: one-element parent and data"
    return None


@dataclass(frozen=True)
class _Base:
    """The recipe a run starts from before the user's own settings."""

    data: dict[str, Any]
    name: str
    source: str
    named: bool  # a named recipe (its loss is a choice), not settings taken over from elsewhere
    strategy: Strategy | None = None
    strategy_source: str = ""


def _parent_base(parent: str, ckpt: Any) -> _Base:
    """A shipped parent's fine-tuning recipe and strategy, else the checkpoint's own settings."""
    from crosstrain.config import TrainConfig
    from crosstrain.pretrained import shipped_entry

    shipped = shipped_entry(ckpt.path) if ckpt.path else None
    finetune = shipped[1].finetune if shipped is not None else None
    if shipped is not None and finetune is not None:
        data, path = read_config_file(finetune.recipe)
        label = f"parent {shipped[0]}"
        return _Base(data, _recipe_name(path), label, True, Strategy(finetune.strategy), label)
    known = set(TrainConfig.__dataclass_fields__) - {"loss", "select_on", "seed", "device"}
    train = {k: v for k, v in (ckpt.meta.training or {}).items() if k in known}
    if "lr" in train:
        train["lr"] = float(train["lr"]) * FINETUNE_LR_FACTOR
    return _Base(
        {"train": train},
        "the parent's training settings",
        f"parent file, lr x {FINETUNE_LR_FACTOR}: {FINETUNE_EVIDENCE}",
        False,
        DEFAULT_STRATEGY,
        "default for a parent file: benchmarks/dft-transfer/dft_transfer.json",
    )


def _choose_base(parent: Any, ckpt: Any, structures: Sequence[Structure]) -> _Base:
    if ckpt is not None:
        return _parent_base(str(parent), ckpt)
    if _labels(structures)[0]:
        data, _ = read_config_file(DFT_RECIPE)
        return _Base(data, DFT_RECIPE, "data: labelled with energies", True)
    return _Base({}, "built-in defaults", "data: forces only", False)


def _merge(base: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v or {}) for k, v in base.items()}
    for section, values in user.items():
        out.setdefault(section, {}).update(dict(values or {}))
    return out


def _user_settings(
    config: str | os.PathLike[str] | None, overrides: Sequence[str]
) -> tuple[dict[str, Any], str | None]:
    """The settings the user gave (``--config`` file, then ``--set``), and the recipe's name."""
    user: dict[str, Any] = {}
    name = None
    if config is not None:
        user, path = read_config_file(config)
        name = _recipe_name(path)
    user = apply_overrides(user, list(overrides))
    unknown = sorted(set(user) - {"model", "train", "transfer", "data"})
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(unknown)} (use data, model, train, transfer)")
    return user, name


def _data(
    data: Paths | Sequence[Structure] | None, section: Any, where: str
) -> tuple[list[Structure], list[Structure] | None, Choice]:
    """The training structures (and the source's validation structures) and the choice that says
    where they came from: the files or structures given, else the config's ``data`` section."""
    from crosstrain.train.pipeline import as_structures

    if data is not None and len(data) > 0:
        structures = as_structures(_listed(data), ("forces",))
        return structures, None, Choice("data", f"{len(structures)} structures", "user")
    if section is None:
        raise ConfigError("no training data: give data files, or a data section in the config (kind: files or mlearn)")
    from crosstrain.data.source import data_source, select

    source = data_source(section, f"{where}: data")
    chosen = select(source)
    return chosen.train, chosen.valid, Choice("data", source.describe(), where)


def _strategy(text: Any, where: str) -> Strategy:
    try:
        return Strategy(str(text))
    except ValueError:
        raise ConfigError(
            f"{where}: unknown strategy {text!r} (choose from {', '.join(s.value for s in Strategy)})"
        ) from None


def _train_settings(
    base: _Base, user: dict[str, Any], config_name: str | None, structures: Sequence[Structure]
) -> tuple[dict[str, Any], Choice]:
    """The train section: the base recipe under the user's settings, the loss the data allow."""
    merged = _merge(base.data if config_name is None else {}, user)
    train = dict(merged.get("train") or {})
    user_train = user.get("train") or {}
    fixed_by = "user" if "loss" in user_train else ("recipe" if base.named and config_name is None else None)
    if config_name is not None and "loss" not in user_train:
        fixed_by = None
    train["loss"], loss_source = _loss_for_data(str(train.get("loss", "forces")), structures, fixed_by)
    if train["loss"] == "forces" and train.get("select_on") == "loss":
        train["select_on"] = "forces"
    if smoke_mode():
        train.update(epochs=min(int(train.get("epochs", 100)), SMOKE_EPOCHS), compile=False, patience=None)
    return train, Choice("loss", str(train["loss"]), loss_source)


def resolve(
    data: Paths | Sequence[Structure] | None,
    *,
    valid: Paths | Sequence[Structure] | None = None,
    config: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    parent: str | os.PathLike[str] | None = None,
    strategy: str | None = None,
    element_map: dict[str, str] | None = None,
) -> RunRequest:
    """Validate a train (no ``parent``) or transfer request and make every default explicit.

    ``config`` is a YAML path or a shipped recipe's name; ``overrides`` are ``section.key=value``;
    ``strategy`` and ``element_map`` given here are the user's (``None``: decided here). Raises
    :class:`~crosstrain.errors.ConfigError` (one line naming the key or file) before any training.
    """
    from crosstrain.train.pipeline import as_structures

    user, config_name = _user_settings(config, overrides)  # settings and parent first: their errors are cheap
    data_section = user.pop("data", None)
    user_transfer = dict(user.get("transfer") or {})
    if strategy is not None:
        user_transfer["strategy"] = strategy
    where = "--strategy" if strategy is not None else (config_name or "--set")
    chosen = _strategy(user_transfer["strategy"], where) if "strategy" in user_transfer else None
    parent = parent if parent is not None else user_transfer.get("parent")
    if chosen is not None and chosen.needs_parent and parent is None:
        raise ConfigError(f"{where}: strategy {chosen.value!r} needs a parent model (--from or transfer.parent)")
    ckpt = None
    if parent is not None and (chosen is None or chosen.needs_parent):
        from crosstrain.io.checkpoint import load_checkpoint
        from crosstrain.pretrained import resolve_model

        ckpt = load_checkpoint(resolve_model(parent))
    structures, source_valid, data_choice = _data(data, data_section, config_name or "--set")
    if config_name is not None and not any(user.get(k) for k in ("model", "train", "transfer")):
        config_name = None  # a config that names only the data: the settings are chosen as without one
    base = (
        _choose_base(parent, ckpt, structures) if config_name is None or ckpt is not None else _Base({}, "", "", False)
    )
    train, loss_choice = _train_settings(base, user, config_name, structures)
    choices = [data_choice, Choice("recipe", config_name or base.name, "user" if config_name else base.source)]
    merged = {**_merge(base.data if config_name is None else {}, user), "train": train}
    if ckpt is not None:
        parent_model = ckpt.model.config.to_dict()
        architecture = ckpt.model.architecture
        _explicit_model_conflicts(dict(user.get("model") or {}), parent_model, config_name or "--set", architecture)
        merged["model"] = {"architecture": architecture, **parent_model}
        strat = chosen or base.strategy or DEFAULT_STRATEGY
        choices.append(Choice("strategy", strat.value, "user" if chosen is not None else base.strategy_source))
        mapping, map_source = _element_map(element_map, user_transfer, ckpt, structures)
        choices.append(Choice("map", ", ".join(f"{t}={s}" for t, s in mapping.items()) or "none", map_source))
        merged["transfer"] = {**user_transfer, "strategy": strat.value, "parent": str(parent), "element_map": mapping}
    else:
        merged["transfer"] = {**user_transfer, "strategy": "scratch", "parent": None, "element_map": {}}
        choices.append(Choice("strategy", "scratch", "user" if chosen is not None else "no parent"))
    choices.append(loss_choice)
    cfg = config_from_dict(merged)
    if ckpt is not None:
        cfg = replace(cfg, model_preset="parent", model=ckpt.model.config)
    valid_structures: list[Structure] | None
    if valid is not None:
        given = as_structures(_listed(valid), ("forces",))
        train_structures, valid_structures = structures, given
        choices.append(Choice("validation", f"{len(given)} structures", "user"))
    elif source_valid is not None:
        train_structures, valid_structures = structures, source_valid
        choices.append(Choice("validation", f"{len(source_valid)} structures of the data source", data_choice.source))
    else:
        train_structures, valid_structures, text = _split_valid(structures, cfg.train.seed)
        choices.append(Choice("validation", text, "default"))
    if smoke_mode():  # a quick check of the command chain: a few structures, a few epochs
        train_structures = train_structures[:SMOKE_STRUCTURES]
        valid_structures = None if valid_structures is None else valid_structures[:SMOKE_STRUCTURES]
        text = f"at most {SMOKE_EPOCHS} epochs on {SMOKE_STRUCTURES} structures, not compiled"
        choices.append(Choice("smoke", text, SMOKE_ENV))
    held = None if valid_structures is None else tuple(valid_structures)
    return RunRequest(cfg, tuple(train_structures), held, tuple(choices))


def _listed(x: Any) -> Any:
    return [x] if isinstance(x, (str, os.PathLike)) else list(x)


def _element_map(
    given: dict[str, str] | None, user_transfer: dict[str, Any], ckpt: Any, structures: Sequence[Structure]
) -> tuple[dict[str, str], str]:
    from crosstrain.species import symbol

    if given:
        return dict(given), "user"
    if user_transfer.get("element_map"):
        return dict(user_transfer["element_map"]), "user"
    elements = {symbol(int(z)) for s in structures for z in s.numbers}
    inferred = infer_map(ckpt.model.species.symbols, elements)
    if inferred is not None:
        return inferred
    return {}, "none given"
