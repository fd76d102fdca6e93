"""Structures of the kinds the mlearn data hold, for a new element, ready to be labelled by DFT.

mlearn's training sets (Zuo et al., J. Phys. Chem. A 2020) hold four groups of structures. For an
element whose reference crystal is cubic (bcc, fcc, diamond), :func:`sample_structures` makes the
same four at a given lattice constant (best the DFT setting's own,
:func:`crosstrain.dft.lattice.own_lattice_constant`), with a classical or model driver where mlearn
ran ab initio MD:

``MD-NVT``    frames of Langevin MD of the bulk supercell at each temperature (mlearn's AIMD-NVT)
``Vacancy``   the same supercell with one atom removed, MD at ``vacancy_temperatures``
``Elastic``   the cubic cell (ideal positions) at isotropic volumes and under random symmetric strains
``Surface``   slabs of low-index surfaces, frames of MD at one temperature

The MD runs with a *driver*, any ASE calculator: the LAMMPS MEAM potential of the element
(:func:`crosstrain.data.lammps.meam_calculator`) or a crosstrain model. The driver only chooses the
geometries; the DFT code labels them. Every structure's ``info`` holds its ``group``,
``temperature`` (MD frames), ``description`` and ``family``: a block of ``block`` consecutive frames
of one MD run, or the structure itself, the unit a split never cuts (:mod:`crosstrain.data.splits`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms

from crosstrain.analysis.crystal import crystal_cell
from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

GROUPS = ("MD-NVT", "Vacancy", "Elastic", "Surface")


@dataclass(frozen=True)
class SamplePlan:
    """How many structures of each group, and how they are made (every number is recorded)."""

    temperatures: tuple[float, ...]  # K, the bulk MD runs
    frames: int = 16  # kept per bulk temperature
    vacancy_temperatures: tuple[float, ...] = ()  # K (default: the bulk's lowest, middle and highest)
    vacancy_frames: int = 8  # per vacancy temperature
    elastic: int = 20  # strained cubic cells: a quarter isotropic volumes, the rest random strains
    max_strain: float = 0.02  # largest component of a random symmetric strain
    volume_strain: float = 0.06  # the isotropic cells span this relative volume change either way
    surfaces: tuple[str, ...] = ("100", "110")  # Miller indices
    surface_frames: int = 6  # per surface
    surface_temperature: float | None = None  # K (default: the lowest bulk temperature)
    repeat: int = 2  # cubic cells along each axis of the bulk and vacancy supercells
    layers: int = 3  # cubic-cell layers of a slab
    vacuum: float = 10.0  # Å between a slab and its periodic image
    min_lateral: float = 6.0  # Å, slabs are repeated in-plane to at least this
    timestep_fs: float = 2.0
    friction_per_fs: float = 0.01
    equilibration_ps: float = 2.0
    interval_ps: float = 0.5  # between kept frames
    block: int = 3  # consecutive frames of one run that form one family
    min_distance_ratio: float = 0.6  # frames with a pair closer than this x the nearest-neighbour distance are dropped

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "vacancy_temperatures", tuple(float(t) for t in self.vacancy_temperatures))
        if not self.temperatures or min(self.temperatures + self.vacancy_temperatures) <= 0:
            raise ConfigError("sampling needs at least one temperature, and every temperature positive")
        counts = (self.frames, self.vacancy_frames, self.elastic, self.surface_frames)
        if min(counts) < 0 or self.repeat < 1 or self.layers < 2 or self.block < 1:
            raise ConfigError("frame counts must be >= 0, repeat >= 1, layers >= 2 and block >= 1")
        if not 0 < self.max_strain < 0.2 or not 0 < self.volume_strain < 0.3:
            raise ConfigError("max_strain must lie in (0, 0.2) and volume_strain in (0, 0.3)")
        for miller in self.surfaces:
            if len(miller) != 3 or not miller.isdigit() or miller == "000":
                raise ConfigError(f"surface {miller!r}: give Miller indices as three digits, e.g. 110")

    @property
    def vacancy_runs(self) -> tuple[float, ...]:
        if self.vacancy_temperatures:
            return self.vacancy_temperatures
        t = sorted(self.temperatures)
        return tuple(dict.fromkeys((t[0], t[len(t) // 2], t[-1])))

    def steps(self, ps: float) -> int:
        return max(1, int(round(ps * 1000 / self.timestep_fs)))


@dataclass
class SampleLog:
    """What a sampling did beyond its structures: frames dropped and MD runs that failed."""

    dropped: dict[str, int] = field(default_factory=dict)
    failed_runs: list[str] = field(default_factory=list)


def nearest_neighbour(element: str, a0: float) -> float:
    from crosstrain.graph import min_pair_distance

    cell = crystal_cell(element, a0, 2)
    return float(min_pair_distance(cell.positions, cell.cell.array, cell.pbc, cutoff=a0))


def elastic_cells(element: str, a0: float, *, plan: SamplePlan, rng: np.random.Generator) -> list[tuple[Atoms, str]]:
    """The cubic cell at isotropic volumes (a quarter of ``plan.elastic``, never the ideal volume
    twice) and under random symmetric strains, each with its description."""
    cell = crystal_cell(element, a0)
    n_volume = plan.elastic // 4
    out = []
    for v in np.linspace(-plan.volume_strain, plan.volume_strain, n_volume) if n_volume > 1 else []:
        atoms = cell.copy()
        atoms.set_cell(cell.cell * (1 + v) ** (1 / 3), scale_atoms=True)
        out.append((atoms, f"volume strain {v:+.4f}"))
    for k in range(plan.elastic - len(out)):
        e = rng.uniform(-plan.max_strain, plan.max_strain, (3, 3))
        e = (e + e.T) / 2
        atoms = cell.copy()
        atoms.set_cell(cell.cell.array @ (np.eye(3) + e), scale_atoms=True)
        out.append((atoms, f"random strain {k} (Voigt {', '.join(f'{x:+.4f}' for x in _voigt(e))})"))
    return out


def _voigt(e: np.ndarray) -> list[float]:
    return [e[0, 0], e[1, 1], e[2, 2], 2 * e[1, 2], 2 * e[0, 2], 2 * e[0, 1]]


def slab(element: str, a0: float, miller: str, *, plan: SamplePlan) -> Atoms:
    """A slab of ``plan.layers`` cubic-cell layers normal to ``miller``, repeated in-plane to at
    least ``plan.min_lateral`` Å, ``plan.vacuum`` Å of vacuum, periodic in all three directions."""
    from ase.build import surface

    atoms = surface(crystal_cell(element, a0), tuple(int(c) for c in miller), plan.layers, vacuum=plan.vacuum / 2)
    lengths = atoms.cell.lengths()
    reps = [max(1, int(np.ceil(plan.min_lateral / lengths[i]))) for i in (0, 1)]
    atoms = atoms * (reps[0], reps[1], 1)
    atoms.pbc = True
    return atoms


def md_frames(
    atoms: Atoms,
    calc: Any,
    temperature: float,
    *,
    n: int,
    plan: SamplePlan,
    seed: int,
    min_distance: float,
) -> tuple[list[Atoms], str]:
    """``n`` frames of Langevin MD at ``temperature`` with ``calc``, ``plan.interval_ps`` apart after
    ``plan.equilibration_ps``, and why the run stopped early ("" when it did not): the driver failed,
    or two atoms came closer than ``min_distance`` (that frame and the rest are not kept)."""
    from ase import units
    from ase.md.langevin import Langevin

    from crosstrain.graph import min_pair_distance
    from crosstrain.md.run import MDSettings, initial_velocities

    if n == 0:
        return [], ""
    atoms = atoms.copy()
    atoms.calc = calc
    rng = initial_velocities(atoms, MDSettings(temperature=temperature, seed=seed))
    dyn = Langevin(
        atoms,
        plan.timestep_fs * units.fs,
        temperature_K=temperature,
        friction=plan.friction_per_fs / units.fs,
        rng=rng,
        fixcm=False,
    )
    frames: list[Atoms] = []
    try:
        dyn.run(plan.steps(plan.equilibration_ps))
        for _ in range(n):
            dyn.run(plan.steps(plan.interval_ps))
            if (
                min_pair_distance(atoms.positions, atoms.cell.array, atoms.pbc, cutoff=min_distance + 0.5)
                < min_distance
            ):
                return frames, f"two atoms closer than {min_distance:.2f} Å"
            frame = atoms.copy()
            frame.calc = None
            frames.append(frame)
    except Exception as exc:  # a driver that fails mid-run: keep what it made, say why
        return frames, f"the driver failed: {type(exc).__name__}: {exc}"
    return frames, ""


def sample_structures(
    element: str,
    calc_factory: Callable[[], Any],
    a0: float,
    *,
    plan: SamplePlan,
    seed: int = 0,
    report: Callable[[str, int], None] | None = None,
) -> tuple[list[Structure], SampleLog]:
    """The structures of ``plan`` for ``element`` at lattice constant ``a0`` (Å), MD driven by
    ``calc_factory()``; seeded, so the same arguments give the same structures."""
    rng = np.random.default_rng(seed)
    nn = nearest_neighbour(element, a0)
    log = SampleLog()
    out: list[Structure] = []

    def keep(group: str, atoms: Atoms, description: str, *, family: str, temperature: float | None) -> None:
        info: dict[str, Any] = {"group": group, "description": description, "family": family}
        if temperature is not None:
            info["temperature"] = float(temperature)
        s = Structure.from_atoms(atoms, source=f"{element} {group} {description}", read_labels=False)
        out.append(replace(s, info=info))

    def run(group: str, atoms: Atoms, temperature: float, *, n: int, what: str) -> None:
        frames, reason = md_frames(
            atoms,
            calc_factory(),
            temperature,
            n=n,
            plan=plan,
            seed=int(rng.integers(2**31)),
            min_distance=plan.min_distance_ratio * nn,
        )
        if reason:
            log.failed_runs.append(f"{group} {what} {temperature:g} K: {reason}")
        log.dropped[group] = log.dropped.get(group, 0) + n - len(frames)
        for k, frame in enumerate(frames):
            family = f"{group} {what} {temperature:g} K block {k // plan.block}"
            keep(group, frame, f"{what} {temperature:g} K frame {k}", family=family, temperature=temperature)
        if report:
            report(f"{group} {what} {temperature:g} K", len(frames))

    bulk_cell = crystal_cell(element, a0, plan.repeat)
    for t in plan.temperatures:
        run("MD-NVT", bulk_cell, t, n=plan.frames, what=f"bulk {len(bulk_cell)} atoms")
    vacancy = bulk_cell.copy()
    del vacancy[0]
    for t in plan.vacancy_runs:
        run("Vacancy", vacancy, t, n=plan.vacancy_frames, what=f"vacancy {len(vacancy)} atoms")
    for atoms, description in elastic_cells(element, a0, plan=plan, rng=rng):
        keep("Elastic", atoms, description, family=f"Elastic {description}", temperature=None)
    t_surface = plan.surface_temperature or min(plan.temperatures)
    for miller in plan.surfaces:
        atoms = slab(element, a0, miller, plan=plan)
        run("Surface", atoms, t_surface, n=plan.surface_frames, what=f"({miller}) slab {len(atoms)} atoms")
    return out, log
