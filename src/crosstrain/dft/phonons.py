"""A DFT phonon reference computed by crosstrain: finite displacements labelled by the DFT code.

The reference goes through the same phonopy construction as a model's phonons
(:func:`~crosstrain.analysis.crystal.phonopy_displacements`): diamond ``element`` at lattice
constant ``a0`` (by default the zero-stress PBE lattice constant of the mlearn data, the cell the
models are trained around), a supercell of the primitive or conventional cell, phonopy's
displacements. Each displaced supercell is one cached, resumable DFT label
(:func:`~crosstrain.dft.label.label_structures`), so a killed run loses at most the calculation in
progress. The lattice constant of the DFT setting itself comes from an equation of state of the
2-atom cell at the same setting (GPAW's PBE lattice constant is not the mlearn VASP one), recorded
beside the cell the phonons were computed in.

The record keeps the forces on the displaced supercells: phonopy rebuilds the force constants, the
bands and the DOS from them in a fraction of a second (:func:`reference_phonopy`). Γ, X and L are
commensurate with a supercell of 2, so their frequencies do not depend on the supercell's size;
the dispersion between them and the DOS are interpolated, and a model is compared with the
reference on the same supercell.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crosstrain.analysis.crystal import (
    PHONON_CELLS,
    SPECIAL_POINTS,
    frequencies_at,
    phonopy_displacements,
    phonopy_with_forces,
)
from crosstrain.dft.lattice import own_lattice_constant
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import ConfigError, CrosstrainError
from crosstrain.schema import OMIT_NONE, JSONRecord
from crosstrain.structure import Structure

#: elements whose ground state is the diamond structure (the only lattice crosstrain's phonons build)
DIAMOND_ELEMENTS = ("C", "Si", "Ge", "Sn")

#: the file name of a reference inside its output folder
REFERENCE_FILE = "phonon_reference.json"


class PhononReferenceError(CrosstrainError):
    """A phonon reference that cannot be computed as asked (the message names the setting)."""


@dataclass(frozen=True)
class PhononReference(JSONRecord):
    """DFT phonons of diamond ``element`` at lattice constant ``a0`` (Å, from ``a0_source``):
    the forces (eV/Å) on phonopy's displaced supercells (``supercell`` times the ``cell``,
    displacement in Å), the DFT settings and their hash, the frequencies (THz) at Γ, X and L,
    the setting's own lattice constant ``own_a0`` from an equation of state, and what it cost."""

    SCHEMA_VERSION: ClassVar[int] = 1

    element: str
    a0: float
    a0_source: str
    cell: str
    supercell: int
    displacement: float
    settings: dict[str, Any]
    settings_sha256: str
    forces: tuple[tuple[tuple[float, ...], ...], ...]
    frequencies_THz: dict[str, tuple[float, ...]]
    code_version: str
    cpu_seconds: float
    command: str
    own_a0: float | None = field(default=None, metadata=OMIT_NONE)

    def describe(self) -> str:
        """One line: what was computed, how and where (for tables and plot legends)."""
        s = self.settings
        atoms = self.supercell**3 * (2 if self.cell == "primitive" else 8)
        own = f"; the setting's own a0 {self.own_a0:.4f} Å" if self.own_a0 is not None else ""
        return (
            f"{s['xc']} ({s['code'].upper()} {self.code_version}, {s['ecut_ev']:g} eV, "
            f"{s['kpoint_density']:g} k-points/Å⁻¹, smearing {s['smearing_ev']:g} eV), {atoms}-atom supercell, "
            f"at a0 = {self.a0:.4f} Å ({self.a0_source}){own}"
        )


def check_request(element: str, *, supercell: int, cell: str, displacement: float) -> None:
    """Refuse a reference that crosstrain's phonopy path cannot build or that would mislead."""
    if element not in DIAMOND_ELEMENTS:
        raise PhononReferenceError(
            f"phonon reference for {element}: crosstrain builds phonons of diamond-structure elements only "
            f"({', '.join(DIAMOND_ELEMENTS)})"
        )
    if cell not in PHONON_CELLS:
        raise PhononReferenceError(f"phonon cell {cell!r}: choose {' or '.join(PHONON_CELLS)}")
    if supercell < 2:
        raise PhononReferenceError(
            f"supercell {supercell}: too small, X and L are commensurate only from a supercell of 2 on"
        )
    if not 0.001 <= displacement <= 0.05:
        raise PhononReferenceError(f"displacement {displacement} Å: choose 0.001 to 0.05 Å (phonopy's default 0.01)")


def check_setup(element: str, settings: DFTSettings) -> None:
    """The DFT code has a PAW setup for ``element`` with the functional (one line if not)."""
    from crosstrain.dft.label import require_code

    require_code(settings)
    from gpaw.setup_data import SetupData

    try:
        SetupData(element, settings.xc)
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PhononReferenceError(f"GPAW has no {settings.xc} setup for {element}: {first}") from None


def _structures(atoms_list: list[Any], what: str) -> list[Structure]:
    return [Structure.from_atoms(a, source=f"{what} {i}", read_labels=False) for i, a in enumerate(atoms_list)]


def _refuse_failed(failed: list[Any], what: str) -> None:
    if failed:
        raise PhononReferenceError(
            f"{what}: {len(failed)} DFT calculation(s) failed, first: {failed[0].reason} (no reference written)"
        )


def compute_reference(
    element: str,
    a0: float,
    out: str | os.PathLike[str],
    *,
    settings: DFTSettings,
    a0_source: str,
    supercell: int = 2,
    cell: str = "primitive",
    displacement: float = 0.01,
    workers: int | None = None,
    eos: bool = True,
    command: str = "",
    report: Any = None,
) -> PhononReference:
    """Label phonopy's displaced supercells with the DFT code (cached under ``out``) and write
    ``out/phonon_reference.json`` atomically once every label is there; nothing is written when
    a calculation fails."""
    from crosstrain.dft.label import label_structures
    from crosstrain.io.atomic import write_text

    check_request(element, supercell=supercell, cell=cell, displacement=displacement)
    check_setup(element, settings)
    ph, displaced = phonopy_displacements(element, a0, supercell=supercell, displacement=displacement, cell=cell)
    run = label_structures(
        _structures(displaced, f"{element} displaced supercell"), out, settings, workers=workers, report=report
    )
    _refuse_failed(run.failed, f"{element} phonon reference")
    own_a0, eos_seconds = (None, 0.0)
    if eos:
        own_a0, eos_seconds = own_lattice_constant(element, a0, out, settings=settings, workers=workers)
    forces = [np.asarray(lab.forces) for lab in run.labels]
    phonopy_with_forces(ph, forces)
    ref = PhononReference(
        element=element,
        a0=float(a0),
        a0_source=a0_source,
        cell=cell,
        supercell=supercell,
        displacement=displacement,
        settings=settings.to_dict(),
        settings_sha256=settings.sha256,
        forces=tuple(tuple(tuple(float(v) for v in row) for row in f) for f in forces),
        frequencies_THz={name: tuple(frequencies_at(ph, q)) for name, q in SPECIAL_POINTS.items()},
        code_version=run.labels[0].code_version,
        cpu_seconds=sum(lab.seconds for lab in run.labels) + eos_seconds,
        command=command,
        own_a0=own_a0,
    )
    write_text(Path(out) / REFERENCE_FILE, json.dumps(ref.to_json(), indent=1))
    return ref


def reference_phonopy(ref: PhononReference) -> Any:
    """Phonopy with the reference's force constants (rebuilt from its forces)."""
    ph, displaced = phonopy_displacements(
        ref.element, ref.a0, supercell=ref.supercell, displacement=ref.displacement, cell=ref.cell
    )
    if len(displaced) != len(ref.forces) or any(len(a) != len(f) for a, f in zip(displaced, ref.forces)):
        raise ConfigError(
            f"{ref.element} phonon reference: {len(ref.forces)} force sets do not match phonopy's "
            f"{len(displaced)} displaced supercells (another phonopy version?)"
        )
    return phonopy_with_forces(ph, ref.forces)


#: where the shipped references live (``<element>.json``), with the command that made each
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "phonon_reference"


def read_reference(path: str | os.PathLike[str]) -> PhononReference:
    """A reference from its JSON file (one line naming the file if it is not one)."""
    from crosstrain.errors import DataFileError, SchemaError

    p = Path(path)
    try:
        return PhononReference.from_json(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DataFileError(f"{p}: phonon reference not found") from None
    except (json.JSONDecodeError, SchemaError) as exc:
        raise DataFileError(f"{p}: not a crosstrain phonon reference ({exc})") from None


def shipped_reference(element: str) -> PhononReference | None:
    """The PBE phonon reference crosstrain ships for ``element``, if any."""
    path = SHIPPED / f"{element}.json"
    return read_reference(path) if path.is_file() else None


def require_shipped(element: str, what: str) -> PhononReference:
    """The shipped reference for ``element``; one line naming ``what`` asked and what is shipped if none."""
    ref = shipped_reference(element)
    if ref is None:
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.json"))) or "none"
        raise ConfigError(
            f"{what}: crosstrain ships no DFT phonon reference for {element} (shipped: {shipped}); "
            "make one with crosstrain phonon-reference"
        )
    return ref


@dataclass(frozen=True)
class PhononComparison(JSONRecord):
    """A model's phonons against a DFT reference, both in the reference's cell and supercell:
    the named frequencies (THz) of each, the model's error in percent per mode, the overlap of
    the two unit-area DOS (1 identical) and the RMS difference of the bands (THz)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    a0: float
    reference: str
    model_THz: dict[str, float]
    reference_THz: dict[str, float]
    error_percent: dict[str, float]
    dos_overlap: float
    band_rms_THz: float

    @property
    def worst_percent(self) -> float:
        return max(abs(v) for v in self.error_percent.values())


def compare_phonons(calc: Any, ref: PhononReference) -> tuple[PhononComparison, Any, Any]:
    """The model behind ``calc`` (an ASE calculator or a factory) against ``ref``, in the
    reference's cell; also returns both :class:`~crosstrain.analysis.phonons.PhononBands`
    (model, reference) for plots."""
    from crosstrain.analysis.crystal import phonopy_model
    from crosstrain.analysis.pdos import overlap
    from crosstrain.analysis.phonons import band_rms_difference, bands_of, named_modes

    model_ph = phonopy_model(
        ref.element, calc, ref.a0, supercell=ref.supercell, displacement=ref.displacement, cell=ref.cell
    )
    model_bands, ref_bands = bands_of(model_ph, ref.a0), bands_of(reference_phonopy(ref), ref.a0)
    model = named_modes({name: frequencies_at(model_ph, q) for name, q in SPECIAL_POINTS.items()})
    pbe = named_modes(ref.frequencies_THz)
    grid = np.asarray(ref_bands.dos_frequencies)
    comparison = PhononComparison(
        a0=ref.a0,
        reference=ref.describe(),
        model_THz=model,
        reference_THz=pbe,
        error_percent={k: 100 * (model[k] - pbe[k]) / pbe[k] for k in pbe},
        dos_overlap=overlap(grid, np.asarray(model_bands.dos), np.asarray(ref_bands.dos)),
        band_rms_THz=band_rms_difference(model_bands, ref_bands),
    )
    return comparison, model_bands, ref_bands
