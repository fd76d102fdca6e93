"""What a study runs: a validated, YAML-serialisable spec, and the built-in specs of the paper.

A study is a grid ``strategies x sizes x seeds`` of target-element models, each
(strategy, size) cell with its own hyperparameter search on the validation set::

    name: sw-quick
    data: {kind: sw, source: Si, target: Ge, protocol: {per_temperature: 20, n_test: 5}}
    source: {checkpoint: null, train: {epochs: 10, lr: 0.002, batch_size: 4}, valid_size: 34}
    model: {preset: cpu}
    train: {loss: forces, lr: 0.002, batch_size: 2}       # base settings of every grid model
    grid: {strategies: [scratch, full], sizes: [1, 4, 16, 64], seeds: 3,
           valid_size: 34, test_size: 170, steps: 150, validations: 8}
    search: {trials: 4, metric: force_mae, space: {lr: {low: 5.0e-4, high: 5.0e-3, log: true}}}
    report: {chemical_accuracy_mev: null}

``grid.steps`` is the training budget in gradient steps (epochs follow from the size and batch
size), ``grid.validations`` how often a run is validated. Search-space names are ``train``
settings plus ``steps``, ``patience`` (in validations) and a strategy's own transfer settings
(``l2sp_alpha``, ``replay_ratio``, ...: searched for that strategy only).
Sizes are integers or ``all`` (every training structure left after the validation draw).

Beyond one strategy per arm (``grid.strategies``), ``grid.arms`` names arms with their own settings::

    recipe: dft-cpu5                          # base settings of every arm (a shipped recipe or a YAML file)
    grid:
      arms:
        scratch: {strategy: scratch}
        rescaled: {strategy: rescaled, recipe: dft-cpu5-finetune}
        rescaled+energy: {strategy: full, after: rescaled, set: {train.energy_weight: 30}}
      valid: split                            # the data's validation set for every seed (else drawn per seed)
    report: {by: [group], source_retention: true, baseline: scratch, properties: true}
    md: {temperatures: [600, 1200], ps: 50, runs: 1}   # long-MD stability of every retrained model

A run's settings, later wins: the recipe (the arm's, else the spec's), the spec's ``model`` and
``train``, the arm's ``set``, the searched values, and what the grid sets (seed, epochs from the
step budget, validation cadence). An arm with ``after`` is a further stage: it starts from that
arm's retrained model of the same size and seed (same draw), so stages stay paired by seed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crosstrain.config import (
    STRATEGIES,
    STRATEGY_SETTING_NAMES,
    Strategy,
    TrainConfig,
    TransferConfig,
    config_from_dict,
    load_yaml,
    read_config_file,
)
from crosstrain.errors import ConfigError
from crosstrain.study.kinds import DATA_KINDS, DataSpec
from crosstrain.validation import one_line

#: search-space names that are not ``train`` settings: the budget and every strategy's own settings
STUDY_PARAMS = ("steps", "patience", *sorted(STRATEGY_SETTING_NAMES))
_TRAIN_PARAMS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("seed", "device", "threads", "dtype"))
_CHOICE_PARAMS = {  # settings with named values (Literal types): searched over choices only
    name
    for cls in (TrainConfig, TransferConfig)
    for name, t in get_type_hints(cls).items()
    if get_origin(t) is Literal or any(get_origin(a) is Literal for a in get_args(t))
}
_INTEGER_PARAMS = {"steps", "patience"} | {
    name for name, t in get_type_hints(TrainConfig).items() if t is int or int in get_args(t)
}


@dataclass(frozen=True)
class SearchParam:
    """One search dimension: a float or int range (optionally log-uniform) or a list of choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a range dimension."""
        if self.low is None or self.high is None:
            raise ValueError(f"search dimension {self.name} is a choice, not a range")
        return float(self.low), float(self.high)

    @classmethod
    def from_dict(cls, name: str, d: Any) -> SearchParam:
        if name not in _TRAIN_PARAMS + STUDY_PARAMS:
            raise ConfigError(
                f"search.space.{name}: not a searchable setting (known: {', '.join(_TRAIN_PARAMS + STUDY_PARAMS)})"
            )
        if isinstance(d, list):
            d = {"choices": d}
        if not isinstance(d, dict):
            raise ConfigError(f"search.space.{name}: give {{low, high[, log, int]}} or {{choices: [...]}}")
        unknown = sorted(set(d) - {"low", "high", "log", "int", "choices"})
        if unknown:
            raise ConfigError(f"search.space.{name}: unknown key(s) {', '.join(unknown)}")
        if "choices" in d:
            if not isinstance(d["choices"], list) or not d["choices"]:
                raise ConfigError(f"search.space.{name}.choices must be a non-empty list")
            return cls(name, choices=tuple(d["choices"]))
        if name in _CHOICE_PARAMS:
            raise ConfigError(f"search.space.{name}: a setting with named values; give {{choices: [...]}}")
        try:
            low, high = float(d["low"]), float(d["high"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"search.space.{name}: low and high must be numbers") from None
        if not low < high or (d.get("log") and low <= 0):
            raise ConfigError(f"search.space.{name}: need low < high (and low > 0 for log)")
        if name in _INTEGER_PARAMS and not d.get("int"):
            raise ConfigError(f"search.space.{name}: a whole-number setting; add int: true")
        return cls(name, low, high, bool(d.get("log", False)), bool(d.get("int", False)))

    def to_dict(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, "int": self.integer}


@dataclass(frozen=True)
class Arm:
    """One arm of the grid: a strategy with its own settings (``recipe``, ``set``) and, for a
    further training stage, the arm whose retrained models it continues (``after``)."""

    name: str
    strategy: str
    recipe: str | None = None
    set: tuple[tuple[str, Any], ...] = ()  # ("section.key", value) on top of the base settings
    after: str | None = None
    active: tuple[tuple[str, Any], ...] | None = None  # an active-learning run per cell (its settings)

    @property
    def plain(self) -> bool:
        """A strategy with the spec's own settings (written as ``grid.strategies``)."""
        plain = self.recipe is None and not self.set and self.after is None and self.active is None
        return self.name == self.strategy and plain

    @property
    def needs_source(self) -> bool:
        """Starts from the source-element model (a stage ``after`` another arm starts from that arm)."""
        return self.after is None and Strategy(self.strategy).needs_parent

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy}
        if self.recipe is not None:
            out["recipe"] = self.recipe
        if self.set:
            out["set"] = dict(self.set)
        if self.after is not None:
            out["after"] = self.after
        if self.active is not None:
            out["active"] = dict(self.active)
        return out


@dataclass(frozen=True)
class MDCheck:
    """Long-MD stability of every retrained model (:func:`crosstrain.md.stability.stability`):
    ``runs`` seeded Langevin runs of ``ps`` per temperature on a diamond supercell of the target."""

    temperatures: tuple[float, ...]
    ps: float = 50.0
    runs: int = 1
    timestep_fs: float = 2.0
    supercell: int = 2
    lattice: float | None = None  # default: the element's tabulated diamond lattice constant
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperatures": list(self.temperatures),
            "ps": self.ps,
            "runs": self.runs,
            "timestep_fs": self.timestep_fs,
            "supercell": self.supercell,
            "lattice": self.lattice,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec; ``to_dict`` gives back the YAML form."""

    name: str
    data: dict[str, Any]
    source: dict[str, Any]
    model: dict[str, Any]
    train: dict[str, Any]
    arms: tuple[Arm, ...]
    sizes: tuple[int | str, ...]
    seeds: int
    valid_size: int
    test_size: int | None
    steps: int
    validations: int
    trials: int
    metric: str
    space: tuple[SearchParam, ...]
    search_seed: int = 0
    chemical_accuracy_mev: float | None = None
    recipe: str | None = None
    valid_from: str = "drawn"  # "drawn" per seed from the pool, or the data's "split" validation set
    by: tuple[str, ...] = ()  # info fields the test errors are also given per value of (e.g. group)
    source_retention: bool = False
    baseline: str = "scratch"
    md: MDCheck | None = None
    extra_tests: tuple[tuple[str, str], ...] = ()  # (name, extxyz path): more test sets, errors per group too
    properties: bool = False  # each retrained model's phonons and elastic constants against DFT

    @property
    def strategies(self) -> tuple[str, ...]:
        """The arms' names, in order (a plain arm is named after its strategy)."""
        return tuple(a.name for a in self.arms)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise ConfigError(f"study {self.name!r} has no arm {name!r} (arms: {', '.join(self.strategies)})")

    @property
    def needs_source(self) -> bool:
        return any(a.needs_source for a in self.arms)

    @property
    def source_element(self) -> str:
        return str(self.data["source"])

    @property
    def target_element(self) -> str:
        return str(self.data["target"])

    def to_dict(self) -> dict[str, Any]:
        arms: dict[str, Any]
        if all(a.plain for a in self.arms):
            arms = {"strategies": list(self.strategies)}
        else:
            arms = {"arms": {a.name: a.to_dict() for a in self.arms}}
        report: dict[str, Any] = {"chemical_accuracy_mev": self.chemical_accuracy_mev}
        if self.by or self.source_retention or self.baseline != "scratch" or self.extra_tests:
            report.update(by=list(self.by), source_retention=self.source_retention, baseline=self.baseline)
            report.update({"tests": dict(self.extra_tests)} if self.extra_tests else {})
        report.update({"properties": True} if self.properties else {})
        return {
            "name": self.name,
            "data": copy.deepcopy(self.data),
            "source": copy.deepcopy(self.source),
            **({"recipe": self.recipe} if self.recipe is not None else {}),
            "model": dict(self.model),
            "train": dict(self.train),
            "grid": {
                **arms,
                **({"valid": self.valid_from} if self.valid_from != "drawn" else {}),
                "sizes": list(self.sizes),
                "seeds": self.seeds,
                "valid_size": self.valid_size,
                "test_size": self.test_size,
                "steps": self.steps,
                "validations": self.validations,
            },
            "search": {
                "trials": self.trials,
                "metric": self.metric,
                "seed": self.search_seed,
                "space": {p.name: p.to_dict() for p in self.space},
            },
            "report": report,
            **({"md": self.md.to_dict()} if self.md is not None else {}),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Source(_Strict):
    checkpoint: str | None = None
    train: dict[str, Any] | None = None
    valid_size: int | None = None


class _ArmDoc(_Strict):
    strategy: str
    recipe: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    after: str | None = None
    active: dict[str, Any] | None = None


class _Grid(_Strict):
    strategies: tuple[str, ...] | None = None  # default (scratch, full) unless arms are named
    arms: dict[str, _ArmDoc] | None = None
    valid: Literal["drawn", "split"] = "drawn"
    sizes: tuple[int | Literal["all"], ...]
    seeds: int = Field(5, ge=1)
    valid_size: int = Field(1, ge=1)
    test_size: int | None = Field(None, ge=1)
    steps: int = Field(1000, ge=1)
    validations: int = Field(10, ge=1)

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and (any(x not in STRATEGIES for x in v) or len(set(v)) != len(v) or not v):
            raise ValueError(f"each once, from {STRATEGIES}; got {list(v)}")
        return v

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: tuple[int | str, ...]) -> tuple[int | str, ...]:
        if not v or any(not (x == "all" or (isinstance(x, int) and x >= 1)) for x in v):
            raise ValueError(f"must be positive integers or 'all', got {list(v)}")
        return v


class _Search(_Strict):
    trials: int = Field(10, ge=0)  # 0: no search, the base settings are used
    metric: Literal["force_mae", "energy_mae"] = "force_mae"
    seed: int = 0
    space: dict[str, Any] = Field(default_factory=dict)


class _Report(_Strict):
    chemical_accuracy_mev: float | None = None
    by: tuple[str, ...] = ()
    source_retention: bool = False
    baseline: str = "scratch"
    tests: dict[str, str] = Field(default_factory=dict)  # more test sets by name: extxyz files
    properties: bool = False  # phonons (shipped DFT reference) and elastic constants (the mlearn data's)


class _MD(_Strict):
    temperatures: tuple[float, ...] = Field(min_length=1)
    ps: float = Field(50.0, gt=0)
    runs: int = Field(1, ge=1)
    timestep_fs: float = Field(2.0, gt=0)
    supercell: int = Field(2, ge=1)
    lattice: float | None = Field(None, gt=0)
    seed: int = 0


class _SpecDocument(_Strict):
    """The YAML document of a study spec, validated by pydantic (one class per data kind)."""

    name: str = "study"
    data: DataSpec
    source: _Source = Field(default_factory=_Source)
    recipe: str | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    grid: _Grid
    search: _Search = Field(default_factory=_Search)
    report: _Report = Field(default_factory=_Report)
    md: _MD | None = None


def _one_line(exc: ValidationError) -> str:
    """A pydantic error as one line naming the setting, e.g. ``grid.sizes: ...``."""
    if exc.errors()[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return f"data.kind: must be one of {DATA_KINDS}"
    return one_line(exc, skip=DATA_KINDS)


def spec_from_dict(doc: dict[str, Any]) -> StudySpec:
    """Validate plain data (as read from YAML) into a :class:`StudySpec`."""
    if not isinstance(doc, dict):
        raise ConfigError("study spec must be a mapping")
    try:
        d = _SpecDocument.model_validate({k: v for k, v in doc.items() if v is not None or k == "data"})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    space = tuple(SearchParam.from_dict(k, v) for k, v in d.search.space.items())
    spec = StudySpec(
        name=d.name,
        data=d.data.model_dump(),
        source=d.source.model_dump(exclude_none=True) | {"checkpoint": d.source.checkpoint},
        model=dict(d.model) or ({} if d.recipe else {"preset": "cpu"}),
        train=dict(d.train),
        arms=_arms(d.grid),
        sizes=d.grid.sizes,
        seeds=d.grid.seeds,
        valid_size=d.grid.valid_size,
        test_size=d.grid.test_size,
        steps=d.grid.steps,
        validations=d.grid.validations,
        trials=d.search.trials,
        metric=d.search.metric,
        space=space,
        search_seed=d.search.seed,
        chemical_accuracy_mev=d.report.chemical_accuracy_mev,
        recipe=d.recipe,
        valid_from=d.grid.valid,
        by=d.report.by,
        source_retention=d.report.source_retention,
        baseline=d.report.baseline,
        md=MDCheck(**d.md.model_dump()) if d.md is not None else None,
        extra_tests=tuple(d.report.tests.items()),
        properties=d.report.properties,
    )
    _check(spec)
    return spec


def _arms(grid: _Grid) -> tuple[Arm, ...]:
    if grid.arms is not None and grid.strategies is not None:
        raise ConfigError("grid: give strategies or arms, not both")
    if grid.arms is None:
        return tuple(Arm(s, s) for s in grid.strategies or ("scratch", "full"))
    if not grid.arms:
        raise ConfigError("grid.arms: name at least one arm")
    return tuple(
        Arm(
            name,
            a.strategy,
            a.recipe,
            tuple(sorted(a.set.items())),
            a.after,
            None if a.active is None else tuple(sorted(a.active.items())),
        )
        for name, a in grid.arms.items()
    )


def _check(spec: StudySpec) -> None:
    """What the schema cannot say: the name, keys the study sets itself, the arms, valid settings,
    a parent for the arms that need one, and data that exist."""
    if "/" in spec.name or not spec.name.strip():
        raise ConfigError(f"study name must be non-empty and without '/', got {spec.name!r}")
    for key in ("seed", "epochs"):
        if key in spec.train:
            raise ConfigError(f"train.{key} is set by the study (seeds and grid.steps); remove it")
    if spec.recipe is not None:
        _recipe("recipe", spec.recipe)
    for arm in spec.arms:
        _check_arm(spec, arm)
    if spec.baseline not in spec.strategies and spec.baseline != "scratch":
        raise ConfigError(f"report.baseline: no arm {spec.baseline!r} (arms: {', '.join(spec.strategies)})")
    if spec.needs_source and not spec.source.get("checkpoint") and spec.source.get("train") is None:
        arm = next(a for a in spec.arms if a.needs_source)
        raise ConfigError(
            f"grid.arms.{arm.name}: strategy {arm.strategy!r} starts from a parent; "
            "give source.checkpoint (a file or a shipped model) or source.train (train one here)"
        )
    if spec.source.get("checkpoint"):
        from crosstrain.errors import CheckpointError
        from crosstrain.pretrained import resolve_model

        try:
            resolve_model(Path(str(spec.source["checkpoint"])).expanduser())
        except CheckpointError as exc:
            raise ConfigError(f"source.checkpoint: {exc}") from None
    if spec.data["kind"] == "explored":
        _check_explored(spec.data)
    if spec.properties:
        from crosstrain.dft.phonons import require_shipped

        require_shipped(spec.target_element, "report.properties")
    for name, path in spec.extra_tests:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"report.tests.{name}: a test set's name is letters, digits, - and _")
        if not Path(path).expanduser().is_file():
            raise ConfigError(f"report.tests.{name}: {path} is not a file")
    root = spec.data.get("root")
    if spec.data["kind"] == "mlearn" and root is not None and not Path(str(root)).expanduser().is_dir():
        raise ConfigError(f"data.root: {root} is not a folder of mlearn data")
    if spec.source.get("train") is not None:
        config_from_dict({"model": spec.model, "train": spec.source["train"]})


def _check_explored(data: dict[str, Any]) -> None:
    """The DFT and exploration settings of explored data, each error naming its key."""
    from crosstrain.study.kinds import data_spec

    kind = data_spec(data)
    for key, make in (("dft", "dft_settings"), ("explore", "explore_settings")):
        try:
            getattr(kind, make)()
        except TypeError as exc:
            raise ConfigError(f"data.{key}: {str(exc).split('(', 1)[-1].rstrip(')')}") from None
        except ConfigError as exc:
            raise ConfigError(f"data.{key}: {exc}") from None


def _recipe(key: str, name: str) -> dict[str, Any]:
    """The plain settings of a recipe named at ``key`` (one line naming the key if it is unknown)."""
    try:
        return read_config_file(name)[0]
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _check_arm(spec: StudySpec, arm: Arm) -> None:
    key = f"grid.arms.{arm.name}"
    if "/" in arm.name or not arm.name.strip():
        raise ConfigError(f"{key}: an arm's name must be non-empty and without '/'")
    if arm.strategy not in STRATEGIES:
        raise ConfigError(f"{key}.strategy: {arm.strategy!r} is not one of {', '.join(STRATEGIES)}")
    seen, after = {arm.name}, arm.after
    while after is not None:  # a chain of stages ends at an arm that starts on its own
        if after not in spec.strategies:
            raise ConfigError(f"{key}.after: no arm {after!r} (arms: {', '.join(spec.strategies)})")
        if after in seen:
            raise ConfigError(f"{key}.after: the stages form a loop through {after!r}")
        seen.add(after)
        after = spec.arm(after).after
    for name in dict(arm.set):
        if name.count(".") != 1 or name.split(".")[0] not in ("model", "train", "transfer"):
            raise ConfigError(f"{key}.set: {name!r} must look like section.key (model, train or transfer)")
        if name in ("train.seed", "train.epochs", "transfer.strategy"):
            raise ConfigError(f"{key}.set: {name} is set by the study (seeds, grid.steps, the arm's strategy)")
    if arm.recipe is not None:
        _recipe(f"{key}.recipe", arm.recipe)
    _check_active(spec, arm, key)
    try:
        config_from_dict(arm_settings(spec, arm))  # each arm's settings must be valid on their own
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


#: what the study sets in an active-learning run itself: the budget is the cell's size, the seed the seed's
_ACTIVE_SET_BY_STUDY = ("budget", "seed")


def _check_active(spec: StudySpec, arm: Arm, key: str) -> None:
    """Active-learning arms: only with ``explored`` data (and it only with them), no search, no
    further stage, settings that :class:`crosstrain.active.loop.ActiveSettings` accepts."""
    explored = spec.data["kind"] == "explored"
    if arm.active is None:
        if explored:
            raise ConfigError(f"{key}: explored data have no training pool; give the arm active: {{selection: ...}}")
        return
    if not explored:
        raise ConfigError(f"{key}.active: active-learning arms need data of kind explored (a DFT-labelled test set)")
    if spec.trials or arm.after is not None:
        raise ConfigError(f"{key}.active: an active-learning arm takes no search (search.trials: 0) and no after")
    settings = dict(arm.active)
    taken = sorted(set(settings) & set(_ACTIVE_SET_BY_STUDY))
    if taken:
        raise ConfigError(f"{key}.active.{taken[0]} is set by the study (the cell's size, the seed)")
    from crosstrain.active.loop import ActiveSettings

    try:
        ActiveSettings(**settings)
    except TypeError:
        known = sorted(f.name for f in fields(ActiveSettings) if f.name not in _ACTIVE_SET_BY_STUDY)
        raise ConfigError(f"{key}.active: unknown setting (known: {', '.join(known)})") from None
    except ConfigError as exc:
        raise ConfigError(f"{key}.active: {exc}") from None


def arm_settings(spec: StudySpec, arm: Arm) -> dict[str, Any]:
    """An arm's base settings as config data (the module docstring's order): its recipe (or the
    spec's), the spec's ``model`` and ``train``, then the arm's ``set``; the strategy last."""
    name = arm.recipe or spec.recipe
    data = {k: dict(v or {}) for k, v in (read_config_file(name)[0] if name else {}).items()}
    data.setdefault("model", {}).update(spec.model)
    data.setdefault("train", {}).update(spec.train)
    for dotted, value in arm.set:
        section, key = dotted.split(".")
        data.setdefault(section, {})[key] = value
    data.setdefault("transfer", {})["strategy"] = arm.strategy
    return data


SPECS = Path(__file__).resolve().parent / "specs"
BUILTIN = tuple(sorted(p.stem for p in SPECS.glob("*.yaml")))  # the built-in specs, YAML package data


def load_spec(path_or_name: str | Path) -> StudySpec:
    """A built-in spec by name (``sw-quick``, ``sw-paper``, ``dft-quick``, ``dft-paper``; the YAML
    files in ``crosstrain/study/specs``) or a YAML file."""
    text = str(path_or_name)
    p = SPECS / f"{text}.yaml" if text in BUILTIN else Path(text)
    try:
        doc = load_yaml(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such spec file (built-in specs: {', '.join(BUILTIN)})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return spec_from_dict(doc)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
