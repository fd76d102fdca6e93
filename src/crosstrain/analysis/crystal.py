"""Zero-temperature crystal properties of cubic elements (diamond, bcc, fcc) through an ASE calculator.

Lattice constant, cohesive energy and bulk modulus from a Birch-Murnaghan equation of state of
the cubic cell; elastic constants C11, C12, C44 from ± strains with internal relaxation
(diamond's C44 needs it: the two sublattices shift under shear; in bcc and fcc every atom is a
centre of inversion and nothing moves); the relaxed vacancy formation energy in the 2×2×2
cubic supercell; for diamond, phonon frequencies at Γ, X and L with phonopy. Units: Å, eV, GPa,
THz. The element's crystal is ASE's reference crystal (:func:`~crosstrain.species.cubic_crystal`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.units import GPa

from crosstrain.schema import OMIT_NONE, JSONRecord
from crosstrain.species import cubic_crystal

CalculatorFactory = Any  # a zero-argument callable returning an ASE calculator, or a calculator


@dataclass(frozen=True)
class VacancyFormation(JSONRecord):
    """Vacancy formation energies (eV): unrelaxed, relaxed (the lower of the relaxations) and the
    relaxed energy from each start (``symmetric``, ``inward``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    unrelaxed: float
    relaxed: float
    relaxed_from: dict[str, float]


@dataclass(frozen=True, kw_only=True)  # keyword-only: the JSON keeps its order with an optional field inside
class CrystalProperties(JSONRecord):
    """What :func:`crystal_properties` measures for one element and calculator (Å, eV, GPa, THz);
    the vacancy and the phonons are absent from a ``quick`` run, the phonons for a crystal other
    than diamond, the cohesive energy where no isolated atom was computed (a DFT reference). The
    field names are the JSON keys of ``crosstrain properties --json``."""

    SCHEMA_VERSION: ClassVar[int] = 1

    element: str
    a0: float
    bulk_modulus: float
    cohesive_energy: float | None = field(default=None, metadata=OMIT_NONE)  # eV/atom, isolated atom minus crystal
    C11: float
    C12: float
    C44: float  # relaxed ions
    C44_clamped: float  # C44⁰, ions at their homogeneously strained positions
    vacancy_formation_energy: VacancyFormation | None = field(default=None, metadata=OMIT_NONE)
    phonons_THz: dict[str, tuple[float, ...]] | None = field(default=None, metadata=OMIT_NONE)  # Gamma, X, L


def as_calculator(factory: CalculatorFactory) -> Any:
    """The calculator itself, or a new one from a zero-argument factory."""
    return factory() if callable(factory) and not hasattr(factory, "get_potential_energy") else factory


def diamond(element: str, a: float, repeat: int = 1) -> Atoms:
    return bulk(element, "diamond", a=a, cubic=True) * (repeat, repeat, repeat)


def crystal_cell(element: str, a: float, repeat: int = 1) -> Atoms:
    """The cubic cell of ``element``'s reference crystal (bcc, fcc, diamond) at ``a``, repeated."""
    return bulk(element, cubic_crystal(element), a=a, cubic=True) * (repeat, repeat, repeat)


def isolated_atom_energy(element: str, calc: CalculatorFactory) -> float:
    atoms = Atoms(element, positions=[[0.0, 0.0, 0.0]], cell=[20.0, 20.0, 20.0], pbc=False)
    atoms.calc = as_calculator(calc)
    return float(atoms.get_potential_energy())


def equation_of_state(
    element: str, calc: CalculatorFactory, a_guess: float, *, span: float = 0.03, points: int = 9
) -> dict[str, float]:
    """Birch-Murnaghan fit of E(V) for the cubic cell over ±``span`` in lattice constant."""
    from ase.eos import EquationOfState

    volumes, energies = [], []
    c = as_calculator(calc)
    for a in a_guess * (1 + np.linspace(-span, span, points)):
        atoms = crystal_cell(element, a)
        atoms.calc = c
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, b = eos.fit()
    n = len(crystal_cell(element, a_guess))
    return {"a0": float((v0) ** (1 / 3)), "energy_per_atom": float(e0 / n), "bulk_modulus": float(b / GPa)}


def _relaxed_stress(atoms: Atoms, fmax: float) -> np.ndarray:
    from ase.optimize import BFGS

    BFGS(atoms, logfile=None).run(fmax=fmax, steps=200)
    return atoms.get_stress(voigt=False)


def elastic_constants(
    element: str, calc: CalculatorFactory, a0: float, *, delta: float = 0.004, fmax: float = 1e-5
) -> dict[str, float]:
    """C11, C12 (uniaxial ε_xx) and C44 (shear ε_yz) by central differences of the stress, with
    relaxed ions, and ``C44_clamped`` (C44⁰: ions kept at their homogeneously strained positions)."""
    c = as_calculator(calc)
    base = crystal_cell(element, a0)
    clamped: list[np.ndarray] = []

    def strained(eps: np.ndarray) -> np.ndarray:
        atoms = base.copy()
        atoms.calc = c
        atoms.set_cell(np.array(base.cell) @ (np.eye(3) + eps), scale_atoms=True)
        clamped.append(atoms.get_stress(voigt=False))
        return _relaxed_stress(atoms, fmax)

    e_xx = np.zeros((3, 3))
    e_xx[0, 0] = delta
    s_plus, s_minus = strained(e_xx), strained(-e_xx)
    c11 = (s_plus[0, 0] - s_minus[0, 0]) / (2 * delta)
    c12 = (s_plus[1, 1] - s_minus[1, 1]) / (2 * delta)
    e_yz = np.zeros((3, 3))
    e_yz[1, 2] = e_yz[2, 1] = delta / 2  # engineering shear strain γ_yz = delta
    t_plus, t_minus = strained(e_yz), strained(-e_yz)
    c44 = (t_plus[1, 2] - t_minus[1, 2]) / (2 * delta)
    c44_clamped = (clamped[2][1, 2] - clamped[3][1, 2]) / (2 * delta)
    return {
        "C11": float(c11 / GPa),
        "C12": float(c12 / GPa),
        "C44": float(c44 / GPa),
        "C44_clamped": float(c44_clamped / GPa),
    }


#: the starts of a vacancy relaxation (see :func:`vacancy_formation_energy`)
VACANCY_STARTS = ("symmetric", "inward")


def vacancy_formation_energy(
    element: str,
    calc: CalculatorFactory,
    a0: float,
    *,
    repeat: int = 2,
    fmax: float = 1e-3,
    inward: float = 0.15,
    starts: tuple[str, ...] = VACANCY_STARTS,
) -> VacancyFormation:
    """Unrelaxed and relaxed E_f = E(N-1) - (N-1)/N E(N) in a ``repeat``³ cubic supercell (eV).

    A relaxation from each of ``starts``, and the lower result is reported (``relaxed``; each in
    ``relaxed_from``): ``symmetric``, the vacancy rattled by 5 mÅ, and ``inward``, the vacancy's
    nearest neighbours moved ``inward`` (fraction of their distance) towards the empty site: for
    short-ranged potentials such as Stillinger-Weber the symmetric vacancy is itself a (higher)
    stationary point, because the dangling neighbours of diamond, 3.84 Å apart, lie beyond the
    potential's range until they move in. Both are real relaxations; none is clamped to the
    unrelaxed value.
    """
    from ase.optimize import BFGS

    unknown = [s for s in starts if s not in VACANCY_STARTS]
    if unknown or not starts:
        raise ValueError(f"vacancy starts {starts!r}: choose from {', '.join(VACANCY_STARTS)}")
    c = as_calculator(calc)
    perfect = crystal_cell(element, a0, repeat)
    perfect.calc = c
    e_perfect = perfect.get_potential_energy()
    n = len(perfect)
    site = perfect.positions[0].copy()
    defect = perfect.copy()
    del defect[0]
    defect.calc = c
    unrelaxed = defect.get_potential_energy() - (n - 1) / n * e_perfect
    vectors = defect.positions - site
    vectors -= np.round(vectors @ np.linalg.inv(np.array(defect.cell))) @ np.array(defect.cell)
    distances = np.linalg.norm(vectors, axis=1)
    near = distances < 1.05 * distances.min()  # the nearest neighbours (diamond 4, bcc 8, fcc 12)
    relaxed: dict[str, float] = {}
    for start in starts:
        trial = defect.copy()
        trial.calc = c
        trial.positions[near] -= (inward if start == "inward" else 0.0) * vectors[near]
        trial.rattle(0.005, seed=0)
        BFGS(trial, logfile=None).run(fmax=fmax, steps=1000)
        relaxed[start] = float(trial.get_potential_energy() - (n - 1) / n * e_perfect)
    return VacancyFormation(unrelaxed=float(unrelaxed), relaxed=min(relaxed.values()), relaxed_from=relaxed)


#: high-symmetry points of the fcc Brillouin zone in reduced coordinates of the primitive cell
SPECIAL_POINTS = {"Gamma": (0.0, 0.0, 0.0), "X": (0.5, 0.0, 0.5), "L": (0.5, 0.5, 0.5)}


#: the cells a phonopy supercell is built from: the 8-atom cubic cell or the 2-atom primitive one
PHONON_CELLS = ("conventional", "primitive")


def phonopy_displacements(
    element: str, a0: float, *, supercell: int = 2, displacement: float = 0.01, cell: str = "conventional"
) -> tuple[Any, list[Atoms]]:
    """A phonopy ``Phonopy`` object of diamond ``element`` at ``a0`` with its displacements
    generated, and the displaced supercells as ASE atoms (``supercell`` times the 8-atom
    ``conventional`` or the 2-atom ``primitive`` cell along each axis; both are commensurate with
    Γ, X and L from ``supercell=2``)."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    if cell not in PHONON_CELLS:
        raise ValueError(f"phonon cell {cell!r} is not one of {', '.join(PHONON_CELLS)}")
    unit = diamond(element, a0) if cell == "conventional" else bulk(element, "diamond", a=a0)
    atoms = PhonopyAtoms(
        symbols=unit.get_chemical_symbols(), cell=np.array(unit.cell), scaled_positions=unit.get_scaled_positions()
    )
    primitive = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]] if cell == "conventional" else None
    ph = Phonopy(atoms, supercell_matrix=np.eye(3, dtype=int) * supercell, primitive_matrix=primitive)
    ph.generate_displacements(distance=displacement)
    displaced = [
        Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        for sc in ph.supercells_with_displacements or []
    ]
    return ph, displaced


def phonopy_with_forces(ph: Any, forces: Any) -> Any:
    """``ph`` with the forces on its displaced supercells set and its force constants produced
    (symmetrised, as phonopy does for DFT forces: the acoustic modes at Γ are then zero)."""
    ph.forces = np.asarray(forces, dtype=float)
    ph.produce_force_constants()
    ph.symmetrize_force_constants()  # translational invariance: a DFT calculation's small net force
    return ph


def phonopy_model(
    element: str,
    calc: CalculatorFactory,
    a0: float,
    *,
    supercell: int = 2,
    displacement: float = 0.01,
    cell: str = "conventional",
) -> Any:
    """A phonopy ``Phonopy`` object with force constants from finite displacements."""
    c = as_calculator(calc)
    ph, displaced = phonopy_displacements(element, a0, supercell=supercell, displacement=displacement, cell=cell)
    forces = []
    for atoms in displaced:
        atoms.calc = c
        forces.append(atoms.get_forces())
    return phonopy_with_forces(ph, forces)


def frequencies_at(ph: Any, q: Any) -> list[float]:
    """Phonopy's frequencies (THz, ascending) at one q-point (reduced primitive coordinates)."""
    ph.run_qpoints([list(q)])
    if hasattr(type(ph), "qpoints"):  # phonopy >= 2.40: the QpointsPhonon object
        return [float(f) for f in ph.qpoints.frequencies[0]]
    return [float(f) for f in ph.get_qpoints_dict()["frequencies"][0]]


def phonon_frequencies(
    element: str, calc: CalculatorFactory, a0: float, *, supercell: int = 2, displacement: float = 0.01
) -> dict[str, list[float]]:
    """Harmonic frequencies (THz) at Γ, X and L from phonopy finite displacements."""
    ph = phonopy_model(element, calc, a0, supercell=supercell, displacement=displacement)
    return {name: frequencies_at(ph, q) for name, q in SPECIAL_POINTS.items()}


@dataclass(frozen=True)
class PropertyPlan:
    """What :func:`crystal_properties` computes beyond the equation of state and the elastic
    constants, and how: the strain of the elastic constants, the vacancy (its relaxation starts and
    force tolerance), the phonons (diamond only) and the cohesive energy (an isolated atom in a 20 Å
    box)."""

    elastic_strain: float = 0.004  # the ± strain of the elastic constants
    vacancy: bool = True
    vacancy_starts: tuple[str, ...] = VACANCY_STARTS
    vacancy_fmax: float = 1e-3
    phonons: bool = True
    cohesive: bool = True


#: a quick check: no relaxed vacancy and no phonons
QUICK = PropertyPlan(vacancy=False, phonons=False)


def crystal_properties(
    element: str,
    calc: CalculatorFactory,
    a_guess: float,
    *,
    quick: bool = False,
    plan: PropertyPlan | None = None,
) -> CrystalProperties:
    """Every number above for one element and calculator (``quick``: without the relaxed vacancy
    and the phonons, the slow ones; ``plan``: choose each part)."""
    plan = QUICK if quick else (plan or PropertyPlan())
    eos = equation_of_state(element, calc, a_guess)
    a0 = eos["a0"]
    elastic = elastic_constants(element, calc, a0, delta=plan.elastic_strain)
    vacancy = (
        vacancy_formation_energy(element, calc, a0, fmax=plan.vacancy_fmax, starts=plan.vacancy_starts)
        if plan.vacancy
        else None
    )
    phonons = plan.phonons and cubic_crystal(element) == "diamond"
    return CrystalProperties(
        element=element,
        a0=a0,
        bulk_modulus=eos["bulk_modulus"],
        cohesive_energy=isolated_atom_energy(element, calc) - eos["energy_per_atom"] if plan.cohesive else None,
        C11=elastic["C11"],
        C12=elastic["C12"],
        C44=elastic["C44"],
        C44_clamped=elastic["C44_clamped"],
        vacancy_formation_energy=vacancy,
        phonons_THz={k: tuple(v) for k, v in phonon_frequencies(element, calc, a0).items()} if phonons else None,
    )
