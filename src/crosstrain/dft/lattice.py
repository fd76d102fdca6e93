"""An element's lattice constant at a DFT setting: a Birch–Murnaghan fit of the energies of its
primitive cell (ASE's reference crystal: diamond, bcc, fcc) at a few volumes, each energy a cached,
resumable label (:func:`~crosstrain.dft.label.label_structures`)."""

from __future__ import annotations

import os
from pathlib import Path

from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import CrosstrainError
from crosstrain.species import cubic_crystal
from crosstrain.structure import Structure

#: relative volume steps of the equation of state of the primitive cell
EOS_STRAINS = (-0.02, -0.01, 0.0, 0.01, 0.02)


class LatticeConstantError(CrosstrainError):
    """An equation of state whose DFT calculations failed (nothing is written)."""


def own_lattice_constant(
    element: str, a_guess: float, out: str | os.PathLike[str], *, settings: DFTSettings, workers: int | None = None
) -> tuple[float, float]:
    """The setting's own cubic lattice constant (Å) from a Birch–Murnaghan fit of the primitive
    cell's energies at :data:`EOS_STRAINS` around ``a_guess`` (labels cached under ``out/eos``),
    and the labels' CPU time (s)."""
    from ase.build import bulk
    from ase.eos import EquationOfState

    from crosstrain.dft.label import label_structures

    crystal = cubic_crystal(element)
    cells = [bulk(element, crystal, a=a_guess * (1 + e) ** (1 / 3)) for e in EOS_STRAINS]
    structures = [
        Structure.from_atoms(c, source=f"{element} EOS cell {i}", read_labels=False) for i, c in enumerate(cells)
    ]
    run = label_structures(structures, Path(out) / "eos", settings, workers=workers)
    if run.failed:
        raise LatticeConstantError(
            f"{element} equation of state: {len(run.failed)} DFT calculation(s) failed, first: {run.failed[0].reason}"
        )
    volumes = [c.get_volume() for c in cells]
    v0, _, _ = EquationOfState(volumes, [lab.energy for lab in run.labels], eos="birchmurnaghan").fit()
    per_cubic = len(bulk(element, crystal, a=a_guess, cubic=True)) / len(cells[0])  # cubic cell / primitive
    return float((v0 * per_cubic) ** (1 / 3)), sum(lab.seconds for lab in run.labels)
