"""The ``crosstrain properties`` table: crystal properties of a model next to the SW reference."""

from __future__ import annotations

import os
from typing import Any

from ase.data import atomic_numbers, reference_states

from crosstrain.analysis.crystal import crystal_properties
from crosstrain.analysis.references import sw_calculator

ROWS = [
    ("a0", "lattice constant (Å)"),
    ("cohesive_energy", "cohesive energy (eV/atom)"),
    ("bulk_modulus", "bulk modulus (GPa)"),
    ("C11", "C11 (GPa)"),
    ("C12", "C12 (GPa)"),
    ("C44", "C44 (GPa)"),
    ("vacancy_relaxed", "vacancy formation, relaxed (eV)"),
    ("Gamma_optical", "Γ optical (THz)"),
    ("X_TA", "X TA (THz)"),
    ("L_TA", "L TA (THz)"),
]


def _flatten(p: dict[str, Any]) -> dict[str, float]:
    out = {k: p[k] for k in ("a0", "cohesive_energy", "bulk_modulus", "C11", "C12", "C44")}
    out["vacancy_relaxed"] = p["vacancy_formation_energy"]["relaxed"]
    out["Gamma_optical"] = max(p["phonons_THz"]["Gamma"])
    out["X_TA"] = min(p["phonons_THz"]["X"])
    out["L_TA"] = min(p["phonons_THz"]["L"])
    return out


def lattice_guess(element: str) -> float:
    state = reference_states[atomic_numbers[element]]
    return float(state.get("a", 5.5)) if state else 5.5


def properties_table(
    checkpoint: str | os.PathLike[str] | None, elements: list[str], reference: bool = True
) -> dict[str, Any]:
    """Properties of the model (if given) and of the SW reference for each element."""
    out: dict[str, Any] = {}
    for element in elements:
        entry: dict[str, Any] = {}
        if checkpoint is not None:
            from crosstrain.calculator import CrosstrainCalculator

            entry["model"] = crystal_properties(
                element, lambda: CrosstrainCalculator(checkpoint), lattice_guess(element)
            )
        if reference:
            entry["sw"] = crystal_properties(element, lambda e=element: sw_calculator(e), lattice_guess(element))
        out[element] = entry
    return out


def format_table(table: dict[str, Any]) -> str:
    from crosstrain.report import markdown_table

    columns = [(el, src) for el, entry in table.items() for src in entry]
    flat = {c: _flatten(table[c[0]][c[1]]) for c in columns}
    rows = [[label, *(flat[c][key] for c in columns)] for key, label in ROWS]
    return markdown_table(["property", *(f"{el} {src}" for el, src in columns)], rows)
