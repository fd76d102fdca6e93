"""DFT reference properties read off the mlearn data itself.

The mlearn ``Elastic`` group holds strained 64-atom diamond cells (normal and shear strains up to
about ±10 % around the PBE lattice constant) with their DFT stresses. Their most common edge
length is the unstrained reference cell; it is not at zero stress (Ge: −1.1 GPa, a
compressed cell), so the lattice constant reported is the zero-stress one, a0 = a_cell (1 − σ0/3B),
from the fitted residual hydrostatic stress σ0 and bulk modulus B (``a0_cell`` keeps the cell's).
The cubic elastic constants are
a least-squares fit of stress against strain over the small strains only (|ε| ≤ 2.5 %, where
the ± pairs cancel the quadratic response):

    σ_voigt = C(C11, C12, C44) · ε_voigt + σ0        (ε: Green-Lagrange, γ = 2ε for shears)

with stresses rotated back into the reference frame (the cells of sheared states are stored
rotated to lower-triangular form). The bulk modulus is (C11 + 2 C12) / 3. The sheared cells keep
their ions at the homogeneously strained positions (their DFT forces are not zero), so the
fitted C44 is the clamped-ion C44⁰, not the relaxed C44. The ``Vacancy`` group holds MD
snapshots, not relaxed cells, so it gives no vacancy formation energy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from ase.units import GPa

from crosstrain.errors import DataFileError
from crosstrain.schema import JSONRecord
from crosstrain.structure import Structure


@dataclass(frozen=True)
class ElasticReference(JSONRecord):
    """What :func:`elastic_reference` derives (Å, GPa): the zero-stress lattice constant ``a0``
    and the reference cell's ``a0_cell``, the cubic constants (``C44`` is the clamped-ion C44⁰),
    the fit's residual hydrostatic stress, B = (C11 + 2 C12) / 3, and the structures it used."""

    SCHEMA_VERSION: ClassVar[int] = 1

    a0: float
    a0_cell: float
    C11: float
    C12: float
    C44: float
    residual_stress: float
    bulk_modulus: float
    structures_used: int
    source: str


_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def reference_cell(structures: Sequence[Structure]) -> np.ndarray:
    """The unstrained cubic cell: the most common edge length among the cells' diagonals."""
    lengths = Counter(round(float(v), 4) for s in structures for v in np.diag(s.cell))
    a = lengths.most_common(1)[0][0]
    return np.eye(3) * a


def strain_and_stress(structure: Structure, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Green-Lagrange strain (Voigt, engineering shears) and stress in the reference frame (GPa)."""
    f = np.linalg.solve(ref, structure.cell).T  # deformation gradient: cell rows = F @ ref rows
    green = 0.5 * (f.T @ f - np.eye(3))
    u, _, vt = np.linalg.svd(f)
    rotation = u @ vt  # polar decomposition F = R U
    stress = rotation.T @ np.asarray(structure.stress) @ rotation / GPa
    eps = np.array([green[i, j] * (1 if i == j else 2) for i, j in _VOIGT])
    sig = np.array([stress[i, j] for i, j in _VOIGT])
    return eps, sig


def fit_cubic_elastic(strains: np.ndarray, stresses: np.ndarray) -> dict[str, float]:
    """Least-squares C11, C12, C44 (GPa) and a residual hydrostatic stress from Voigt pairs."""
    rows, rhs = [], []
    for e, s in zip(strains, stresses):
        for k in range(6):
            # unknowns: C11, C12, C44, sigma0
            if k < 3:
                others = sum(e[j] for j in range(3) if j != k)
                rows.append([e[k], others, 0.0, 1.0])
            else:
                rows.append([0.0, 0.0, e[k], 0.0])
            rhs.append(s[k])
    (c11, c12, c44, s0), *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return {"C11": float(c11), "C12": float(c12), "C44": float(c44), "residual_stress": float(s0)}


def elastic_reference(structures: Sequence[Structure], max_strain: float = 0.025) -> ElasticReference:
    """Lattice constant, C11, C12, C44 and bulk modulus from an mlearn ``Elastic`` group."""
    elastic = [s for s in structures if s.info.get("group") == "Elastic" and s.stress is not None]
    if not elastic:
        raise DataFileError("no 'Elastic' structures with stresses: cannot derive DFT elastic constants")
    ref = reference_cell(elastic)
    pairs = [strain_and_stress(s, ref) for s in elastic]
    tensor = lambda e: np.concatenate([e[:3], e[3:] / 2])  # noqa: E731  (engineering -> tensor shears)
    small = [(e, s) for e, s in pairs if np.abs(tensor(e)).max() <= max_strain]
    if len(small) < 3:
        raise DataFileError(f"only {len(small)} elastic structures within |strain| <= {max_strain}")
    fit = fit_cubic_elastic(np.array([e for e, _ in small]), np.array([s for _, s in small]))
    n_cells = round((len(elastic[0].numbers) / 8) ** (1 / 3))  # 8-atom conventional cells per edge
    a_cell = float(ref[0, 0]) / n_cells
    bulk = (fit["C11"] + 2 * fit["C12"]) / 3
    return ElasticReference(
        a0=a_cell * (1 - fit["residual_stress"] / (3 * bulk)),  # hydrostatic strain to zero stress
        a0_cell=a_cell,
        C11=fit["C11"],
        C12=fit["C12"],
        C44=fit["C44"],
        residual_stress=fit["residual_stress"],
        bulk_modulus=bulk,
        structures_used=len(small),
        source="mlearn Elastic group (PBE), small-strain fit",
    )
