"""MACE (Batatia et al. 2022) through mace-torch: the ``mace`` architecture.

:mod:`~crosstrain.model.mace.config` (hyperparameters and presets, importable without mace-torch),
:mod:`~crosstrain.model.mace.network` (the model behind the contract),
:mod:`~crosstrain.model.mace.elements` (the per-element tensors and their copy),
:mod:`~crosstrain.model.mace.files` (mace-torch model files in and out). mace-torch is imported only
when a MACE model is built. Outside :mod:`crosstrain.model`, use the contract and the registry.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # the config without importing mace-torch
    if name == "MACEModel":
        from crosstrain.model.mace.network import MACEModel

        return MACEModel
    if name in ("MaceConfig", "PRESETS", "preset"):
        from crosstrain.model.mace import config

        return getattr(config, name)
    raise AttributeError(name)
