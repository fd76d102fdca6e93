"""Reference calculators: the Stillinger-Weber ground truth through the same ASE interface."""

from __future__ import annotations

from typing import Any

from crosstrain.data.sw import sw_parameters


def sw_calculator(element: str) -> Any:
    """An ASE calculator for the element's Stillinger-Weber potential (matscipy's Manybody,
    identical to LAMMPS to 1e-9 in the tests)."""
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody.explicit_forms import StillingerWeber

    return Manybody(**StillingerWeber(sw_parameters(element).matscipy_parameters()))
