"""One boundary type for a labelled atomic structure.

Units are ASE's: positions and cell in Å, energy in eV, forces in eV/Å, stress in eV/Å³ with
ASE's sign convention (stress = (1/V) ∂E/∂ε, negative under compression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress

from crosstrain.errors import StructureError

MIN_VOLUME = 1e-6  # Å^3; a periodic cell below this is degenerate


def _as_float_array(value: Any, shape: tuple[int, ...], name: str, source: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StructureError(f"{source}: {name} is not numeric ({exc})") from None
    if arr.shape != shape:
        raise StructureError(f"{source}: {name} has shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise StructureError(f"{source}: {name} contains NaN or infinite values")
    return arr


@dataclass(frozen=True, eq=False)
class Structure:
    """Positions, atomic numbers, cell and periodicity, plus optional labels.

    ``source`` names where the structure came from (``"file.extxyz record 3"``) so that every
    error about it can say so. ``info`` carries free-form metadata such as ``group`` or
    ``temperature``.
    """

    positions: np.ndarray
    numbers: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None  # (3, 3), eV/Å^3
    info: dict[str, Any] = field(default_factory=dict)
    source: str = "structure"

    def __post_init__(self) -> None:
        src = self.source
        numbers = np.asarray(self.numbers)
        if numbers.ndim != 1 or numbers.size == 0:
            raise StructureError(f"{src}: needs a non-empty 1-D list of atomic numbers")
        if not np.issubdtype(numbers.dtype, np.integer):
            raise StructureError(f"{src}: atomic numbers must be integers")
        n = numbers.size
        object.__setattr__(self, "numbers", numbers.astype(np.int64))
        object.__setattr__(self, "positions", _as_float_array(self.positions, (n, 3), "positions", src))
        object.__setattr__(self, "cell", _as_float_array(self.cell, (3, 3), "cell", src))
        pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,)).copy()
        object.__setattr__(self, "pbc", pbc)
        if pbc.any():
            vol = abs(np.linalg.det(self.cell))
            if vol < MIN_VOLUME:
                raise StructureError(f"{src}: periodic cell has zero volume ({vol:.3g} Å^3)")
        if self.energy is not None:
            e = float(self.energy)
            if not np.isfinite(e):
                raise StructureError(f"{src}: energy is NaN or infinite")
            object.__setattr__(self, "energy", e)
        if self.forces is not None:
            object.__setattr__(self, "forces", _as_float_array(self.forces, (n, 3), "forces", src))
        if self.stress is not None:
            stress = np.asarray(self.stress, dtype=np.float64)
            if stress.shape == (6,):
                stress = voigt_6_to_full_3x3_stress(stress)  # type: ignore[no-untyped-call]  # (ase: unannotated)
            object.__setattr__(self, "stress", _as_float_array(stress, (3, 3), "stress", src))

    def __len__(self) -> int:
        return int(self.numbers.size)

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell)))

    @property
    def periodic(self) -> bool:
        return bool(self.pbc.all())

    @classmethod
    def from_atoms(cls, atoms: Atoms, source: str = "structure", read_labels: bool = True) -> Structure:
        """Convert ``ase.Atoms``; labels are taken from an attached calculator when present."""
        energy = forces = stress = None
        calc = atoms.calc
        if read_labels and calc is not None:
            results = getattr(calc, "results", {})
            energy = results.get("energy", results.get("free_energy"))
            forces = results.get("forces")
            stress = results.get("stress")
        # ase's Atoms getters are unannotated
        return cls(
            positions=atoms.get_positions(),  # type: ignore[no-untyped-call]
            numbers=atoms.get_atomic_numbers(),  # type: ignore[no-untyped-call]
            cell=np.asarray(atoms.get_cell()),  # type: ignore[no-untyped-call]
            pbc=atoms.get_pbc(),  # type: ignore[no-untyped-call]
            energy=energy,
            forces=forces,
            stress=stress,
            info=dict(atoms.info),
            source=source,
        )

    def to_atoms(self, with_labels: bool = True) -> Atoms:
        """Convert to ``ase.Atoms``; labels become a :class:`SinglePointCalculator`."""
        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        atoms.info.update(self.info)
        if with_labels and self.has_labels:
            results: dict[str, Any] = {}
            if self.energy is not None:
                results["energy"] = self.energy
                results["free_energy"] = self.energy
            if self.forces is not None:
                results["forces"] = self.forces.copy()
            # ase's stress conversion and SinglePointCalculator are unannotated
            if self.stress is not None:
                results["stress"] = full_3x3_to_voigt_6_stress(self.stress)  # type: ignore[no-untyped-call]
            atoms.calc = SinglePointCalculator(atoms, **results)  # type: ignore[no-untyped-call]
        return atoms

    @property
    def has_labels(self) -> bool:
        return self.energy is not None or self.forces is not None or self.stress is not None
