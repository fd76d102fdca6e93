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
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from crosstrain.config import (
    STRATEGIES,
    STRATEGY_SETTING_NAMES,
    TrainConfig,
    TransferConfig,
    config_from_dict,
    load_yaml,
)
from crosstrain.errors import ConfigError
from crosstrain.validation import one_line

DATA_KINDS = ("sw", "mlearn")
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
class StudySpec:
    """A validated study spec; ``to_dict`` gives back the YAML form."""

    name: str
    data: dict[str, Any]
    source: dict[str, Any]
    model: dict[str, Any]
    train: dict[str, Any]
    strategies: tuple[str, ...]
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

    @property
    def source_element(self) -> str:
        return str(self.data["source"])

    @property
    def target_element(self) -> str:
        return str(self.data["target"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "data": copy.deepcopy(self.data),
            "source": copy.deepcopy(self.source),
            "model": dict(self.model),
            "train": dict(self.train),
            "grid": {
                "strategies": list(self.strategies),
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
            "report": {"chemical_accuracy_mev": self.chemical_accuracy_mev},
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SWData(_Strict):
    """Stillinger–Weber data made with LAMMPS (``protocol``: :class:`crosstrain.data.sw.SWProtocol`)."""

    kind: Literal["sw"]
    source: str = "Si"
    target: str = "Ge"
    protocol: dict[str, Any] = Field(default_factory=dict)
    split_seed: int = 0

    stratify_key: ClassVar[str] = "temperature"  # the info field seeds draw validation sets by

    def build(self, out: Path, valid_size: int, progress: bool) -> None:
        """Generate (or finish) the data in ``out``; resumable."""
        from crosstrain.data.sw import SWProtocol
        from crosstrain.data.sw_dataset import build_sw_dataset

        build_sw_dataset(out, (self.source, self.target), SWProtocol(**self.protocol), progress=progress)


class MlearnData(_Strict):
    """The mlearn DFT sets (shipped, or under ``root``)."""

    kind: Literal["mlearn"]
    source: str = "Si"
    target: str = "Ge"
    root: str | None = None
    n_test: int = 25
    split_seed: int = 0

    stratify_key: ClassVar[str] = "group"

    def build(self, out: Path, valid_size: int, progress: bool) -> None:
        """Write the leak-free split to ``out`` once (the shipped files are read, not generated)."""
        from crosstrain.data.mlearn_dataset import build_mlearn_dataset

        if not (out / "manifest.json").exists():
            elements = (self.source, self.target)
            build_mlearn_dataset(out, self.root, elements, n_valid=valid_size, n_test=self.n_test, seed=self.split_seed)


DataSpec = Annotated[SWData | MlearnData, Field(discriminator="kind")]


def data_spec(data: dict[str, Any]) -> SWData | MlearnData:
    """The typed data block of a validated spec (``StudySpec.data`` keeps the plain dict for JSON)."""
    try:
        return TypeAdapter(DataSpec).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


class _Source(_Strict):
    checkpoint: str | None = None
    train: dict[str, Any] | None = None
    valid_size: int | None = None


class _Grid(_Strict):
    strategies: tuple[str, ...] = ("scratch", "full")
    sizes: tuple[int | Literal["all"], ...]
    seeds: int = Field(5, ge=1)
    valid_size: int = Field(1, ge=1)
    test_size: int | None = Field(None, ge=1)
    steps: int = Field(1000, ge=1)
    validations: int = Field(10, ge=1)

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(x not in STRATEGIES for x in v) or len(set(v)) != len(v) or not v:
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


class _SpecDocument(_Strict):
    """The YAML document of a study spec, validated by pydantic (one class per data kind)."""

    name: str = "study"
    data: DataSpec
    source: _Source = Field(default_factory=_Source)
    model: dict[str, Any] = Field(default_factory=lambda: {"preset": "cpu"})
    train: dict[str, Any] = Field(default_factory=dict)
    grid: _Grid
    search: _Search = Field(default_factory=_Search)
    report: _Report = Field(default_factory=_Report)


def _one_line(exc: ValidationError) -> str:
    """A pydantic error as one line naming the setting, e.g. ``grid.sizes: ...``."""
    if exc.errors()[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return f"data.kind: must be one of {DATA_KINDS}"
    return one_line(exc, skip=("sw", "mlearn"))


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
        model=dict(d.model) or {"preset": "cpu"},
        train=dict(d.train),
        strategies=d.grid.strategies,
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
    )
    _check(spec)
    return spec


def _check(spec: StudySpec) -> None:
    """What the schema cannot say: the name, keys the study sets itself, valid base settings."""
    if "/" in spec.name or not spec.name.strip():
        raise ConfigError(f"study name must be non-empty and without '/', got {spec.name!r}")
    for key in ("seed", "epochs"):
        if key in spec.train:
            raise ConfigError(f"train.{key} is set by the study (seeds and grid.steps); remove it")
    # the base model and training settings must be valid on their own
    config_from_dict({"model": spec.model, "train": spec.train})
    if spec.source.get("train") is not None:
        config_from_dict({"model": spec.model, "train": spec.source["train"]})


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
