"""The ``crosstrain properties`` table: crystal properties of a model next to the SW reference."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from crosstrain.analysis.crystal import crystal_properties
from crosstrain.analysis.references import sw_calculator
from crosstrain.errors import SchemaError
from crosstrain.schema import Fields
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


#: the sources of a table's columns, in their order
SOURCES = ("model", "sw", "dft")


@dataclass(frozen=True)
class ElementProperties:
    """One element's columns: the model's and the SW reference's crystal properties
    (:func:`~crosstrain.analysis.crystal.crystal_properties`), the DFT data's
    (:func:`dft_reference`); each present when asked for."""

    SCHEMA_VERSION: ClassVar[int] = 1

    model: dict[str, Any] | None = None
    sw: dict[str, Any] | None = None
    dft: dict[str, Any] | None = None

    def columns(self) -> dict[str, dict[str, Any]]:
        """The present sources and their properties, in the order model, sw, dft."""
        values = {"model": self.model, "sw": self.sw, "dft": self.dft}
        return {source: v for source, v in values.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        return self.columns()

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "ElementProperties")
        unknown = [name for name in f.names() if name not in SOURCES]
        if unknown:
            raise SchemaError(f"ElementProperties: unknown field {unknown[0]!r} (known: {', '.join(SOURCES)})")
        return cls(**{source: f.mapping(source) for source in SOURCES if source in f})


@dataclass(frozen=True)
class PropertiesTable:
    """The ``crosstrain properties`` table, per element (``--json``: ``{element: {source: {...}}}``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    elements: dict[str, ElementProperties] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {element: e.to_json() for element, e in self.elements.items()}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "PropertiesTable")
        elements = {}
        for element in f.names():
            try:
                elements[element] = ElementProperties.from_json(f.value(element))
            except SchemaError as exc:
                raise SchemaError(f"PropertiesTable: element {element!r}: {exc}") from None
        return cls(elements)


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
) -> PropertiesTable:
    """Properties of the model (if given), of the SW reference and (``dft``) of the mlearn PBE data
    (``quick``: no relaxed vacancy and no phonons)."""
    out: dict[str, ElementProperties] = {}
    for element in elements:
        model = sw = ref = None
        if checkpoint is not None:
            from crosstrain.calculator import CrosstrainCalculator

            model = crystal_properties(element, lambda: CrosstrainCalculator(checkpoint), lattice_guess(element), quick)
        if reference:
            sw = crystal_properties(element, lambda e=element: sw_calculator(e), lattice_guess(element), quick)
        if dft:
            ref = dft_reference(element, mlearn_root)
        out[element] = ElementProperties(model=model, sw=sw, dft=ref)
    return PropertiesTable(out)


def format_table(table: PropertiesTable) -> str:
    from crosstrain.report import markdown_table

    columns = [(el, src) for el, entry in table.elements.items() for src in entry.columns()]
    flat = {(el, src): _flatten(table.elements[el].columns()[src]) for el, src in columns}
    rows = [[label, *("–" if flat[c].get(key) is None else flat[c][key] for c in columns)] for key, label in ROWS]
    text = markdown_table(["property", *(f"{el} {src}" for el, src in columns)], rows)
    if any(src == "model" for _, src in columns):
        text += (
            "\nA model's cohesive energy uses its isolated-atom energy, which a model trained on"
            " condensed structures only has never seen: read it with care."
        )
    return text
