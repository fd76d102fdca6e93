"""The ``crosstrain properties`` table: crystal properties of a model next to the SW reference."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from crosstrain.analysis.crystal import CrystalProperties, crystal_properties
from crosstrain.analysis.dft_reference import ElasticReference
from crosstrain.analysis.references import sw_calculator
from crosstrain.dft.crystal_reference import CrystalReference
from crosstrain.dft.phonons import PhononComparison, PhononReference
from crosstrain.errors import SchemaError
from crosstrain.schema import Fields
from crosstrain.species import lattice_guess, reference_crystal

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


def _flatten(p: CrystalProperties | ElasticReference) -> dict[str, float | None]:
    """One value per table row; a source that lacks a property (e.g. the DFT data) gives ``None``."""
    if isinstance(p, ElasticReference):  # the data's sheared cells keep their ions unrelaxed: C44⁰
        return {"a0": p.a0, "bulk_modulus": p.bulk_modulus, "C11": p.C11, "C12": p.C12, "C44_clamped": p.C44}
    out: dict[str, float | None] = {
        "a0": p.a0,
        "cohesive_energy": p.cohesive_energy,
        "bulk_modulus": p.bulk_modulus,
        "C11": p.C11,
        "C12": p.C12,
        "C44": p.C44,
        "C44_clamped": p.C44_clamped,
    }
    if p.vacancy_formation_energy is not None:
        out["vacancy_relaxed"] = p.vacancy_formation_energy.relaxed
    if p.phonons_THz is not None:
        ph = p.phonons_THz
        out.update(Gamma_optical=max(ph["Gamma"]), X_TA=min(ph["X"]), L_TA=min(ph["L"]))
    return out


#: the sources of a table's columns, in their order (``dft``: the mlearn data's PBE values;
#: ``gpaw``: crosstrain's own DFT crystal reference; ``phonons_vs_dft``: the model against the DFT
#: phonon reference, a table of its own)
SOURCES = ("model", "sw", "dft", "gpaw", "phonons_vs_dft")


@dataclass(frozen=True)
class ElementProperties:
    """One element's columns: the model's and the SW reference's crystal properties
    (:func:`~crosstrain.analysis.crystal.crystal_properties`), the DFT data's
    (:func:`dft_reference`), crosstrain's DFT crystal reference
    (:func:`~crosstrain.dft.crystal_reference.compute_crystal_reference`) and the model's phonons
    against the DFT phonon reference (:func:`~crosstrain.dft.phonons.compare_phonons`); each
    present when asked for. In the JSON
    the DFT column's clamped-ion shear constant is ``C44_clamped``, as the other columns name it."""

    SCHEMA_VERSION: ClassVar[int] = 1

    model: CrystalProperties | None = None
    sw: CrystalProperties | None = None
    dft: ElasticReference | None = None
    gpaw: CrystalProperties | None = None
    phonons_vs_dft: PhononComparison | None = None

    def columns(self) -> dict[str, CrystalProperties | ElasticReference]:
        """The present sources and their properties, in the order model, sw, dft, gpaw."""
        values = {"model": self.model, "sw": self.sw, "dft": self.dft, "gpaw": self.gpaw}
        return {source: v for source, v in values.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        out = {source: v.to_json() for source, v in self.columns().items()}
        if "dft" in out:
            out["dft"]["C44_clamped"] = out["dft"].pop("C44")
        if self.phonons_vs_dft is not None:
            out["phonons_vs_dft"] = self.phonons_vs_dft.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        f = Fields(data, "ElementProperties")
        unknown = [name for name in f.names() if name not in SOURCES]
        if unknown:
            raise SchemaError(f"ElementProperties: unknown field {unknown[0]!r} (known: {', '.join(SOURCES)})")
        return cls(
            model=f.optional_record("model", CrystalProperties.from_json),
            sw=f.optional_record("sw", CrystalProperties.from_json),
            dft=f.optional_record("dft", _dft_column),
            gpaw=f.optional_record("gpaw", CrystalProperties.from_json),
            phonons_vs_dft=f.optional_record("phonons_vs_dft", PhononComparison.from_json),
        )


def _dft_column(data: Any) -> ElasticReference:
    """The DFT column of a table's JSON (its ``C44_clamped`` is the reference's ``C44``)."""
    column = dict(Fields(data, "ElasticReference").data)
    if "C44_clamped" in column:
        column["C44"] = column.pop("C44_clamped")
    return ElasticReference.from_json(column)


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


def dft_reference(element: str, mlearn_root: str | os.PathLike[str] | None = None) -> ElasticReference:
    """What the mlearn data give directly (PBE): lattice constant, C11, C12, clamped-ion C44, B."""
    from crosstrain.analysis.dft_reference import elastic_reference
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn

    return elastic_reference(read_mlearn(mlearn_file(find_mlearn_root(mlearn_root), element), element=element))


def properties_table(
    checkpoint: str | os.PathLike[str] | None,
    elements: list[str],
    *,
    reference: bool = True,
    dft: bool = False,
    mlearn_root: str | os.PathLike[str] | None = None,
    quick: bool = False,
    phonon_references: dict[str, PhononReference] | None = None,
    crystal_references: dict[str, CrystalReference] | None = None,
    plot: str | os.PathLike[str] | None = None,
) -> PropertiesTable:
    """Properties of the model (if given), of the SW reference (for the elements that have SW
    parameters) and (``dft``) of DFT: crosstrain's DFT crystal reference of each element that has
    one (``crystal_references``, else the shipped one), else for a diamond element the mlearn PBE
    data's (their Elastic group's fit assumes diamond cells; other elements get none), with the
    model's phonons against the DFT phonon reference of each element that has one
    (``phonon_references``, else the shipped one; ``plot``: their bands, one file per element)
    (``quick``: no relaxed vacancy and no phonons)."""
    from crosstrain.analysis.crystal import QUICK, PropertyPlan
    from crosstrain.data.sw import PARAMETERS
    from crosstrain.dft.crystal_reference import REFERENCE_PLAN, shipped_crystal_reference

    out: dict[str, ElementProperties] = {}
    for element in elements:
        model = sw = ref = phonons = None
        crystal = ((crystal_references or {}).get(element) or shipped_crystal_reference(element)) if dft else None
        # against a crystal reference, the model is measured with the reference's strain
        plan = QUICK if quick else PropertyPlan(elastic_strain=REFERENCE_PLAN.elastic_strain) if crystal else None
        if checkpoint is not None:
            from crosstrain.calculator import CrosstrainCalculator

            model = crystal_properties(
                element, lambda: CrosstrainCalculator(checkpoint), lattice_guess(element), plan=plan, quick=quick
            )
        if reference and element in PARAMETERS:
            sw = crystal_properties(element, lambda e=element: sw_calculator(e), lattice_guess(element), quick=quick)
        if dft:
            if crystal is None and reference_crystal(element)[0] == "diamond":  # the fit assumes mlearn's cells
                ref = dft_reference(element, mlearn_root)
            if checkpoint is not None and not quick:
                phonons = _phonons_vs_dft(checkpoint, element, phonon_references, plot, len(elements) > 1)
        gpaw = crystal.properties if crystal is not None else None
        out[element] = ElementProperties(model=model, sw=sw, dft=ref, gpaw=gpaw, phonons_vs_dft=phonons)
    return PropertiesTable(out)


def _phonons_vs_dft(
    checkpoint: str | os.PathLike[str],
    element: str,
    given: dict[str, PhononReference] | None,
    plot: str | os.PathLike[str] | None,
    per_element: bool,
) -> PhononComparison | None:
    """The model against ``element``'s DFT phonon reference (given or shipped), if there is one."""
    from pathlib import Path

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.dft.phonons import compare_phonons, shipped_reference

    ref = (given or {}).get(element) or shipped_reference(element)
    if ref is None:
        return None
    comparison, model_bands, ref_bands = compare_phonons(lambda: CrosstrainCalculator(checkpoint), ref)
    if plot is not None:
        from crosstrain.analysis.phonons import plot_phonons

        path = Path(plot)
        if per_element:
            path = path.with_name(f"{path.stem}_{element}{path.suffix}")
        title = f"{element}: model vs {ref.settings['xc']} at a0 = {ref.a0:.4f} Å"
        plot_phonons({f"{ref.settings['xc']} (GPAW)": ref_bands, "model": model_bands}, path, title)
    return comparison


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
    for element, entry in table.elements.items():
        if entry.phonons_vs_dft is not None:
            text += "\n\n" + format_phonons(element, entry.phonons_vs_dft)
    return text


def format_phonons(element: str, c: PhononComparison) -> str:
    """The model's frequencies beside the DFT reference's, with the error in percent."""
    from crosstrain.report import markdown_table

    rows = [[mode, c.model_THz[mode], c.reference_THz[mode], f"{c.error_percent[mode]:+.1f} %"] for mode in c.model_THz]
    rows.append(["DOS overlap (1 = identical)", f"{c.dos_overlap:.3f}", "", ""])
    rows.append(["band RMS difference (THz)", f"{c.band_rms_THz:.3f}", "", ""])
    head = f"{element} phonons (THz) in the reference's cell: {c.reference}"
    return head + "\n\n" + markdown_table(["mode", f"{element} model", "DFT", "model − DFT"], rows)


@dataclass(frozen=True)
class DFTErrors:
    """A model against DFT for one element: its phonons against the DFT phonon reference in the
    reference's cell (:class:`~crosstrain.dft.phonons.PhononComparison`), and its lattice constant,
    bulk modulus, C11, C12 and clamped-ion C44⁰ at its own lattice constant against the mlearn PBE
    values (``model_values`` and ``dft_values`` by name, ``error_percent`` of each)."""

    phonons: PhononComparison
    model_values: dict[str, float]
    dft_values: dict[str, float]
    error_percent: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "phonons": self.phonons.to_json(),
            "model_values": self.model_values,
            "dft_values": self.dft_values,
            "error_percent": self.error_percent,
        }


def errors_against_dft(element: str, calc: Any, reference: PhononReference | None = None) -> DFTErrors:
    """``calc`` (an ASE calculator or a factory) against DFT: ``reference`` (default: the shipped
    one) for the phonons, the mlearn PBE data for the elastic constants."""
    from crosstrain.analysis.crystal import as_calculator, elastic_constants, equation_of_state
    from crosstrain.dft.phonons import compare_phonons, require_shipped

    ref = reference or require_shipped(element, "phonons against DFT")
    c = as_calculator(calc)
    phonons, _, _ = compare_phonons(c, ref)
    data = dft_reference(element)
    eos = equation_of_state(element, c, data.a0)
    elastic = elastic_constants(element, c, eos["a0"])
    model = {"a0": eos["a0"], "bulk_modulus": eos["bulk_modulus"], "C11": elastic["C11"], "C12": elastic["C12"]}
    model["C44_clamped"] = elastic["C44_clamped"]
    dft = {"a0": data.a0, "bulk_modulus": data.bulk_modulus, "C11": data.C11, "C12": data.C12, "C44_clamped": data.C44}
    return DFTErrors(phonons, model, dft, {k: 100 * (model[k] - dft[k]) / dft[k] for k in dft})
