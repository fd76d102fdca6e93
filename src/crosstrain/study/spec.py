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
settings plus ``steps``, ``patience`` (in validations) and ``l2sp_alpha`` (the l2sp strategy only).
Sizes are integers or ``all`` (every training structure left after the validation draw).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from crosstrain.config import STRATEGIES, TrainConfig, config_from_dict, load_yaml
from crosstrain.errors import ConfigError

DATA_KINDS = ("sw", "mlearn")
METRICS = ("force_mae", "energy_mae")
#: search-space names that are not ``train`` settings
STUDY_PARAMS = ("steps", "patience", "l2sp_alpha")
_TRAIN_PARAMS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("seed", "device", "threads", "dtype"))


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
        try:
            low, high = float(d["low"]), float(d["high"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"search.space.{name}: low and high must be numbers") from None
        if not low < high or (d.get("log") and low <= 0):
            raise ConfigError(f"search.space.{name}: need low < high (and low > 0 for log)")
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


def _keys(d: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")


def _mapping(d: Any, where: str) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping")
    return dict(d)


def spec_from_dict(doc: dict[str, Any]) -> StudySpec:
    """Validate plain data (as read from YAML) into a :class:`StudySpec`."""
    doc = _mapping(doc, "study spec")
    _keys(doc, "study spec", {"name", "data", "source", "model", "train", "grid", "search", "report"})
    data = _mapping(doc.get("data"), "data")
    _keys(data, "data", {"kind", "source", "target", "protocol", "root", "n_test", "split_seed"})
    if data.get("kind") not in DATA_KINDS:
        raise ConfigError(f"data.kind must be one of {DATA_KINDS}, got {data.get('kind')!r}")
    data.setdefault("source", "Si")
    data.setdefault("target", "Ge")
    source = _mapping(doc.get("source"), "source")
    _keys(source, "source", {"checkpoint", "train", "valid_size"})
    grid = _mapping(doc.get("grid"), "grid")
    _keys(grid, "grid", {"strategies", "sizes", "seeds", "valid_size", "test_size", "steps", "validations"})
    search = _mapping(doc.get("search"), "search")
    _keys(search, "search", {"trials", "metric", "seed", "space"})
    report = _mapping(doc.get("report"), "report")
    _keys(report, "report", {"chemical_accuracy_mev"})
    strategies = tuple(grid.get("strategies") or ("scratch", "full"))
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or len(set(strategies)) != len(strategies):
        raise ConfigError(f"grid.strategies: each once, from {STRATEGIES}; got {list(strategies)}")
    sizes = tuple(grid.get("sizes") or ())
    if not sizes or any(not (s == "all" or (isinstance(s, int) and s >= 1)) for s in sizes):
        raise ConfigError(f"grid.sizes must be positive integers or 'all', got {list(sizes)}")
    space = tuple(SearchParam.from_dict(k, v) for k, v in _mapping(search.get("space"), "search.space").items())
    spec = StudySpec(
        name=str(doc.get("name") or "study"),
        data=data,
        source=source,
        model=_mapping(doc.get("model"), "model") or {"preset": "cpu"},
        train=_mapping(doc.get("train"), "train"),
        strategies=strategies,
        sizes=sizes,
        seeds=int(grid.get("seeds", 5)),
        valid_size=int(grid.get("valid_size", 1)),
        test_size=None if grid.get("test_size") is None else int(grid["test_size"]),
        steps=int(grid.get("steps", 1000)),
        validations=int(grid.get("validations", 10)),
        trials=int(search.get("trials", 10)),
        metric=str(search.get("metric", "force_mae")),
        space=space,
        search_seed=int(search.get("seed", 0)),
        chemical_accuracy_mev=report.get("chemical_accuracy_mev"),
    )
    _check(spec)
    return spec


def _check(spec: StudySpec) -> None:
    if "/" in spec.name or not spec.name.strip():
        raise ConfigError(f"study name must be non-empty and without '/', got {spec.name!r}")
    if min(spec.seeds, spec.valid_size, spec.steps, spec.validations) < 1:
        raise ConfigError("grid.seeds, grid.valid_size, grid.steps and grid.validations must be >= 1")
    if spec.trials < 0:
        raise ConfigError("search.trials must be >= 0 (0: no search, the base settings are used)")
    if spec.metric not in METRICS:
        raise ConfigError(f"search.metric must be one of {METRICS}, got {spec.metric!r}")
    if spec.test_size is not None and spec.test_size < 1:
        raise ConfigError("grid.test_size must be >= 1 or null (the whole test set)")
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
