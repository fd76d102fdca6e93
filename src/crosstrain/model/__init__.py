"""Interatomic potentials behind one contract, registered by architecture name.

:class:`~crosstrain.model.base.AtomisticModel` is the contract every architecture fulfils (and the
per-element energy and length-scale wrapper they share); :mod:`crosstrain.model.derivatives` gives
forces and stress of any of them. Code outside this package builds models through
:func:`build_model` and reads configurations through :func:`model_config`, so that it never names a
concrete architecture. Registered: ``dimenet++`` (:mod:`crosstrain.model.dimenet`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crosstrain.errors import ConfigError
from crosstrain.model.dimenet.config import DimeNetConfig, preset

if TYPE_CHECKING:
    from crosstrain.model.base import AtomisticModel
    from crosstrain.species import SpeciesMap

#: the configuration type of a model section (one architecture so far)
ModelConfig = DimeNetConfig

#: architecture name -> (module, model class, configuration class)
ARCHITECTURES: dict[str, tuple[str, str, str]] = {
    "dimenet++": ("crosstrain.model.dimenet", "DimeNetPP", "DimeNetConfig"),
}

__all__ = ["ARCHITECTURES", "ModelConfig", "architecture_of", "build_model", "model_config", "preset"]


def _registered(name: str) -> tuple[str, str, str]:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ConfigError(f"unknown model architecture {name!r} (known: {known})") from None


def architecture_of(config: Any) -> str:
    """The registered name of the architecture a configuration belongs to."""
    for name, (module, _, config_class) in ARCHITECTURES.items():
        if type(config) is getattr(importlib.import_module(module), config_class):
            return name
    raise ConfigError(f"not a registered model configuration: {type(config).__name__}")


def model_config(data: dict[str, Any], architecture: str = "dimenet++") -> Any:
    """A configuration of ``architecture`` from its dictionary (as checkpoints store it)."""
    module, _, config_class = _registered(architecture)
    cls = getattr(importlib.import_module(module), config_class)
    return cls.from_dict(data)


def build_model(config: Any, species: SpeciesMap) -> AtomisticModel:
    """A freshly initialised model of ``config``'s architecture knowing the elements of ``species``."""
    module, model_class, _ = _registered(architecture_of(config))
    cls = getattr(importlib.import_module(module), model_class)
    model: AtomisticModel = cls(config, species)
    return model
