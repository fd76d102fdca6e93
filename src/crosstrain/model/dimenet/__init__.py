"""DimeNet++ (Gasteiger et al. 2020) for periodic systems: the ``dimenet++`` architecture.

:mod:`~crosstrain.model.dimenet.network` (the model), :mod:`~crosstrain.model.dimenet.config`
(hyperparameters and presets), :mod:`~crosstrain.model.dimenet.layers` (radial and spherical
bases), :mod:`~crosstrain.model.dimenet.harmonics` (the sum over triplets through spherical
harmonics). Outside
:mod:`crosstrain.model`, use the contract (:class:`~crosstrain.model.base.AtomisticModel`) and the
registry (:func:`crosstrain.model.build_model`), never this package.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # ``DimeNetPP`` without importing torch for the config alone
    if name == "DimeNetPP":
        from crosstrain.model.dimenet.network import DimeNetPP

        return DimeNetPP
    if name in ("DimeNetConfig", "PRESETS", "preset"):
        from crosstrain.model.dimenet import config

        return getattr(config, name)
    raise AttributeError(name)
