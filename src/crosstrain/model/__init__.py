"""Interatomic potentials behind one contract, registered by architecture name.

:class:`~crosstrain.model.base.AtomisticModel` is the contract every architecture fulfils (and the
per-element energy and length-scale wrapper they share); :mod:`crosstrain.model.derivatives` gives
forces and stress of any of them. Code outside this package builds models through
:func:`build_model` and reads configurations through :func:`model_config`, so that it never names a
concrete architecture. Registered: ``dimenet++`` (:mod:`crosstrain.model.dimenet`, the default)
and ``mace`` (:mod:`crosstrain.model.mace`, through mace-torch, imported only when used).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosstrain.errors import ConfigError
from crosstrain.model.dimenet.config import DimeNetConfig
from crosstrain.model.mace.config import MaceConfig

if TYPE_CHECKING:
    from crosstrain.model.base import AtomisticModel
    from crosstrain.species import SpeciesMap

#: the configuration of a model section, one type per architecture
ModelConfig = DimeNetConfig | MaceConfig
#: the architecture a model section means when it names none
DEFAULT_ARCHITECTURE = "dimenet++"

#: architecture name -> (package, model class, configuration class); the package gives the
#: configuration class and ``preset`` without importing the architecture's library
ARCHITECTURES: dict[str, tuple[str, str, str]] = {
    "dimenet++": ("crosstrain.model.dimenet", "DimeNetPP", "DimeNetConfig"),
    "mace": ("crosstrain.model.mace", "MACEModel", "MaceConfig"),
}

#: model files of other codes: format name -> (module, architecture, reader, writer)
FORMATS: dict[str, tuple[str, str, str, str]] = {
    "mace-torch": ("crosstrain.model.mace.files", "mace", "read_mace_file", "write_mace_file"),
}

__all__ = [
    "ARCHITECTURES",
    "FORMATS",
    "DEFAULT_ARCHITECTURE",
    "ModelConfig",
    "architecture_of",
    "build_model",
    "model_config",
    "preset",
    "read_model_file",
    "write_model_file",
]


def _registered(name: str) -> tuple[str, str, str]:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ConfigError(f"unknown model architecture {name!r} (known: {known})") from None


def _config_module(architecture: str) -> Any:
    """The architecture's package: its configuration class and ``preset`` load without its library."""
    return importlib.import_module(_registered(architecture)[0])


def architecture_of(config: Any) -> str:
    """The registered name of the architecture a configuration belongs to."""
    for name, (_, _, config_class) in ARCHITECTURES.items():
        if type(config) is getattr(_config_module(name), config_class):
            return name
    raise ConfigError(f"not a registered model configuration: {type(config).__name__}")


def preset(name: str, architecture: str = DEFAULT_ARCHITECTURE) -> Any:
    """The named preset of ``architecture`` (``"cpu"`` or ``"paper"``)."""
    found: Any = _config_module(architecture).preset(name)
    return found


def model_config(data: dict[str, Any], architecture: str = DEFAULT_ARCHITECTURE) -> Any:
    """A configuration of ``architecture`` from its dictionary (as checkpoints store it)."""
    cls = getattr(_config_module(architecture), _registered(architecture)[2])
    return cls.from_dict(data)


def build_model(config: Any, species: SpeciesMap) -> AtomisticModel:
    """A freshly initialised model of ``config``'s architecture knowing the elements of ``species``."""
    module, model_class, _ = _registered(architecture_of(config))
    cls = getattr(importlib.import_module(module), model_class)
    model: AtomisticModel = cls(config, species)
    return model


def _format(name: str) -> tuple[str, str, str, str]:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown model file format {name!r} (known: {', '.join(sorted(FORMATS))})") from None


def read_model_file(path: str | os.PathLike[str], file_format: str = "mace-torch") -> AtomisticModel:
    """A model file of another code (a ``torch.save`` archive: mace-torch) as a crosstrain model."""
    module, _, reader, _ = _format(file_format)
    model: AtomisticModel = getattr(importlib.import_module(module), reader)(path)
    return model


def write_model_file(
    model: AtomisticModel,
    path: str | os.PathLike[str],
    file_format: str = "mace-torch",
    *,
    elements: list[str] | None = None,
) -> Path:
    """Write ``model`` (its ``elements`` only, if given) in another code's format (``mace-torch``
    for MACE models); returns the path."""
    module, architecture, _, writer = _format(file_format)
    if model.architecture != architecture:
        raise ConfigError(
            f"a {model.architecture} model cannot be written as a {file_format} file (only {architecture})"
        )
    written: Path = getattr(importlib.import_module(module), writer)(model, path, elements)
    return written
