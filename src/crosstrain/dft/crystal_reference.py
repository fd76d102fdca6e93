"""A DFT reference of a cubic element's crystal properties, computed by crosstrain.

The reference goes through the same code as a model's properties
(:func:`~crosstrain.analysis.crystal.crystal_properties`: the equation of state of the cubic cell,
C11, C12 and C44 from ± 1 % strains, the relaxed vacancy in the 2×2×2 cubic supercell), with the DFT
code as the ASE calculator. That calculator, :class:`CachedDFT`, answers every geometry from the
label cache of :mod:`crosstrain.dft.label` (one JSON file per geometry and setting) and computes
only what is missing, one DFT process at a time: a killed run, started again, replays the same
deterministic steps from the cache (relaxations included) and loses at most the calculation in
progress.

What differs from a model's figures, and why: ± 1 % strains instead of ± 0.4 % (a soft metal's
shear stress at 0.4 %, Na's C' ≈ 1 GPa, is a few 1e-5 eV/Å³, the size of a DFT stress's SCF
noise; compare a model with the same plan, :data:`REFERENCE_PLAN`); no cohesive energy (the DFT labels are spin-paired;
an isolated atom is not), no phonons (:mod:`crosstrain.dft.phonons` computes those, for diamond),
and the vacancy relaxes from the symmetric start only, to 0.01 eV/Å (a model's from two starts to
1e-3 eV/Å: the second start exists for short-ranged potentials whose symmetric vacancy is a
saddle; a relaxation to 0.01 eV/Å changes the energy by well under 1 meV).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from crosstrain.analysis.crystal import CrystalProperties, PropertyPlan, crystal_properties
from crosstrain.dft.label import Label, cache_dir, compute_label, read_cached, require_code, structure_key
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import CrosstrainError
from crosstrain.schema import JSONRecord
from crosstrain.species import cubic_crystal
from crosstrain.structure import Structure

#: the file name of a reference inside its output folder
REFERENCE_FILE = "crystal_reference.json"

#: where the shipped references are (``<element>.json``; the README says how each was made)
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "crystal_reference"

#: what the DFT reference computes (see the module docstring)
REFERENCE_PLAN = PropertyPlan(
    elastic_strain=0.01, vacancy_starts=("symmetric",), vacancy_fmax=0.01, phonons=False, cohesive=False
)


class CrystalReferenceError(CrosstrainError):
    """A DFT calculation of the reference failed (nothing is written)."""


class CachedDFT(Calculator):
    """An ASE calculator whose every result is a cached DFT label (computed in one spawned
    single-threaded process when missing; use it as a context manager to end that process)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: DFTSettings, out: str | os.PathLike[str], *, report: Any = None) -> None:
        super().__init__()
        self.settings = settings
        self.folder = cache_dir(out, settings)
        self.report = report
        self.computed: list[Label] = []
        self.reused = 0
        self.used: dict[str, Label] = {}  # every label this calculator answered with, by geometry
        self._pool: Any = None

    def __enter__(self) -> CachedDFT:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def calculate(self, atoms: Any = None, properties: Any = ("energy",), system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        structure = Structure.from_atoms(self.atoms, source=f"{self.atoms.get_chemical_formula()}", read_labels=False)
        label = self._label(structure)
        self.used[label.key] = label
        if not label.ok:
            raise CrystalReferenceError(
                f"{label.key} ({structure.source}): the DFT calculation failed: {label.reason} "
                f"(delete {self.folder / (label.key + '.json')} to try again; no reference written)"
            )
        stress = np.asarray(label.stress)
        self.results = {
            "energy": label.energy,
            "free_energy": label.energy,
            "forces": np.asarray(label.forces),
            "stress": stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],  # Voigt order xx yy zz yz xz xy
        }

    def _label(self, structure: Structure) -> Label:
        from crosstrain.io.atomic import write_text

        path = self.folder / f"{structure_key(structure)}.json"
        cached = read_cached(path)
        if cached is not None:
            self.reused += 1
            return cached
        if self._pool is None:
            from crosstrain.parallel import spawn_pool

            self.folder.mkdir(parents=True, exist_ok=True)
            self._pool = spawn_pool(1, 1)
        log = str(path.with_suffix(".txt"))
        label: Label = self._pool.submit(compute_label, structure, self.settings, log).result()
        write_text(path, label.to_json())
        self.computed.append(label)
        if self.report is not None:
            self.report(len(self.computed), structure, label)
        return label


@dataclass(frozen=True)
class CrystalReference(JSONRecord):
    """The DFT crystal properties of ``element`` (:class:`CrystalProperties`: Å, GPa, eV), the
    settings and their hash, the code's version, the number of DFT calculations (geometries) and
    their CPU time (each as it was computed, cached or not), and the command."""

    SCHEMA_VERSION: ClassVar[int] = 1

    element: str
    crystal: str
    properties: CrystalProperties
    settings: dict[str, Any]
    settings_sha256: str
    code_version: str
    calculations: int
    cpu_seconds: float
    command: str

    def describe(self) -> str:
        s = self.settings
        return (
            f"{s['xc']} ({s['code'].upper()} {self.code_version}, {s['ecut_ev']:g} eV, "
            f"{s['kpoint_density']:g} k-points/Å⁻¹, smearing {s['smearing_ev']:g} eV)"
        )


def compute_crystal_reference(
    element: str,
    out: str | os.PathLike[str],
    *,
    settings: DFTSettings,
    a_guess: float,
    vacancy: bool = True,
    command: str = "",
    report: Any = None,
) -> CrystalReference:
    """The DFT crystal properties of ``element`` (labels cached under ``out``; ``vacancy=False``: no
    vacancy, e.g. for a convergence check at denser k-points), written atomically to
    ``out/crystal_reference.json`` once every calculation succeeded."""
    from crosstrain.dft.phonons import check_setup
    from crosstrain.io.atomic import write_text

    crystal = cubic_crystal(element)
    check_setup(element, settings)
    with CachedDFT(settings, out, report=report) as calc:
        plan = REFERENCE_PLAN if vacancy else replace(REFERENCE_PLAN, vacancy=False)
        properties = crystal_properties(element, calc, a_guess, plan=plan)
    ref = CrystalReference(
        element=element,
        crystal=crystal,
        properties=properties,
        settings=settings.to_dict(),
        settings_sha256=settings.sha256,
        code_version=require_code(settings),
        calculations=len(calc.used),
        cpu_seconds=sum(lab.seconds for lab in calc.used.values()),
        command=command,
    )
    write_text(Path(out) / REFERENCE_FILE, json.dumps(ref.to_json(), indent=1))
    return ref


def read_crystal_reference(path: str | os.PathLike[str]) -> CrystalReference:
    """A reference written by :func:`compute_crystal_reference` (one line if it is not one)."""
    from crosstrain.errors import DataFileError, SchemaError

    p = Path(path)
    try:
        return CrystalReference.from_json(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DataFileError(f"{p}: crystal reference not found") from None
    except (json.JSONDecodeError, SchemaError) as exc:
        raise DataFileError(f"{p}: not a crosstrain crystal reference ({exc})") from None


def shipped_crystal_reference(element: str) -> CrystalReference | None:
    """The DFT crystal reference crosstrain ships for ``element``, if any."""
    path = SHIPPED / f"{element}.json"
    return read_crystal_reference(path) if path.is_file() else None
