"""The ``crosstrain properties`` table: crystal properties of a model next to the SW reference."""

from __future__ import annotations

import os
from typing import Any

from crosstrain.analysis.crystal import crystal_properties
from crosstrain.analysis.references import sw_calculator
from crosstrain.species import reference_crystal

ROWS = [
    ("a0", "lattice constant (Å)"),
    ("cohesive_energy", "cohesive energy (eV/atom)"),
    ("bulk_modulus", "bulk modulus (GPa)"),
    ("C11", "C11 (GPa)"),
    ("C12", "C12 (GPa)"),
    ("C44", "C44 (GPa)"),
    ("C44_clamped", "C44⁰, clamped ions (GPa)"),
    ("vacancy_relaxed", "vacancy formation, relaxed (eV)"),
    ("Gamma_optical", "Γ optical (THz)"),
    ("X_TA", "X TA (THz)"),
    ("L_TA", "L TA (THz)"),
]


def _flatten(p: dict[str, Any]) -> dict[str, float | None]:
    """One value per table row; a source that lacks a property (e.g. the DFT data) gives ``None``."""
    out: dict[str, float | None] = {key: p.get(key) for key, _ in ROWS}
    if "vacancy_formation_energy" in p:
        out["vacancy_relaxed"] = p["vacancy_formation_energy"]["relaxed"]
    if "phonons_THz" in p:
        ph = p["phonons_THz"]
        out.update(Gamma_optical=max(ph["Gamma"]), X_TA=min(ph["X"]), L_TA=min(ph["L"]))
    return out


def lattice_guess(element: str) -> float:
    """ASE's reference lattice constant of ``element``, 5.5 Å where it has none."""
    return reference_crystal(element)[1] or 5.5


def dft_reference(element: str, mlearn_root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What the mlearn data give directly (PBE): lattice constant, C11, C12, clamped-ion C44, B."""
    from crosstrain.analysis.dft_reference import elastic_reference
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn

    ref = elastic_reference(read_mlearn(mlearn_file(find_mlearn_root(mlearn_root), element), element=element))
    ref["C44_clamped"] = ref.pop("C44")  # the data's sheared cells keep their ions unrelaxed
    return ref


def properties_table(
    checkpoint: str | os.PathLike[str] | None,
    elements: list[str],
    reference: bool = True,
    dft: bool = False,
    mlearn_root: str | os.PathLike[str] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Properties of the model (if given), of the SW reference and (``dft``) of the mlearn PBE data
    (``quick``: no relaxed vacancy and no phonons)."""
    out: dict[str, Any] = {}
    for element in elements:
        entry: dict[str, Any] = {}
        if checkpoint is not None:
            from crosstrain.calculator import CrosstrainCalculator

            entry["model"] = crystal_properties(
                element, lambda: CrosstrainCalculator(checkpoint), lattice_guess(element), quick
            )
        if reference:
            entry["sw"] = crystal_properties(element, lambda e=element: sw_calculator(e), lattice_guess(element), quick)
        if dft:
            entry["dft"] = dft_reference(element, mlearn_root)
        out[element] = entry
    return out


def format_table(table: dict[str, Any]) -> str:
    from crosstrain.report import markdown_table

    columns = [(el, src) for el, entry in table.items() for src in entry]
    flat = {c: _flatten(table[c[0]][c[1]]) for c in columns}
    rows = [[label, *("–" if flat[c].get(key) is None else flat[c][key] for c in columns)] for key, label in ROWS]
    text = markdown_table(["property", *(f"{el} {src}" for el, src in columns)], rows)
    if any(src == "model" for _, src in columns):
        text += (
            "\nA model's cohesive energy uses its isolated-atom energy, which a model trained on"
            " condensed structures only has never seen: read it with care."
        )
    return text
