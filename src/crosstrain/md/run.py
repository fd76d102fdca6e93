"""NVT (Langevin) and NVE molecular dynamics through ASE, with a watchdog.

A run that blows up (runaway temperature, atoms closer than a threshold, exploding forces, or NVE
energy drift beyond a bound) stops and is reported as a failure with its time; it never raises.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from ase import Atoms, units

from crosstrain.errors import ConfigError
from crosstrain.schema import NOT_JSON, JSONRecord


@dataclass(frozen=True)
class MDSettings:
    temperature: float = 300.0  # K
    steps: int = 1000
    timestep_fs: float = 1.0
    ensemble: str = "nvt"  # or "nve" (velocities drawn at ``temperature``)
    friction_per_fs: float = 0.01  # Langevin
    seed: int = 0
    check_every: int = 10
    max_temperature_factor: float = 3.0  # fail above factor x target (NVT) or x initial (NVE)
    min_distance: float = 1.5  # Å
    max_force: float = 50.0  # eV/Å
    max_drift_per_atom: float = 0.05  # eV/atom, NVE only
    trajectory: str | None = None  # extxyz path
    trajectory_every: int = 10
    velocities_every: int = 0  # >0: keep velocities every this many steps (for the VACF / PDOS)

    def __post_init__(self) -> None:
        if self.ensemble not in ("nvt", "nve"):
            raise ConfigError(f"ensemble must be nvt or nve, got {self.ensemble!r}")
        if self.steps < 1 or self.timestep_fs <= 0 or self.temperature <= 0:
            raise ConfigError("steps, timestep and temperature must be positive")


@dataclass(frozen=True)
class MDResult(JSONRecord):
    """One MD run: whether it stayed physical (else why and when it failed), the temperature every
    ``check_every`` steps and, when asked, the velocity frames. ``to_json`` leaves out the
    velocities and masses (``--json`` of ``crosstrain md``); they take no part in equality."""

    SCHEMA_VERSION: ClassVar[int] = 1

    stable: bool
    reason: str
    steps_done: int
    time_ps: float
    temperatures: tuple[float, ...] = ()  # K
    energy_drift_per_atom: float = 0.0  # eV/atom
    # (frames, atoms, 3), Å/(ASE time)
    velocities: np.ndarray | None = field(default=None, compare=False, metadata=NOT_JSON)
    masses: np.ndarray | None = field(default=None, compare=False, metadata=NOT_JSON)

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "energy_drift_per_atom", float(self.energy_drift_per_atom))


def _min_distance(atoms: Atoms, threshold: float = 1.5) -> float:
    """The closest pair's distance (inf when none is within ``max(3 Å, threshold)``)."""
    from crosstrain.graph import min_pair_distance

    return min_pair_distance(atoms.positions, atoms.cell.array, atoms.pbc, cutoff=max(3.0, threshold + 0.5))


def initial_velocities(atoms: Atoms, settings: MDSettings) -> np.random.Generator:
    """Maxwell-Boltzmann velocities at the temperature (seeded), centre of mass at rest; returns
    the random generator for the thermostat's noise."""
    from ase.md.velocitydistribution import Stationary

    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

    rng = np.random.default_rng(settings.seed)
    thermalize_momenta(atoms, temperature_K=settings.temperature, rng=rng)
    Stationary(atoms)
    return rng


def _dynamics(atoms: Atoms, settings: MDSettings) -> Any:
    """Velocities drawn at the temperature, then Langevin (centre of mass fixed) or velocity Verlet."""
    from ase.md.langevin import Langevin
    from ase.md.verlet import VelocityVerlet

    rng = initial_velocities(atoms, settings)
    dt = settings.timestep_fs * units.fs
    if settings.ensemble == "nve":
        return VelocityVerlet(atoms, dt)
    from ase.constraints import FixCom

    atoms.set_constraint(FixCom())  # the thermostat's noise must not move the centre of mass
    return Langevin(
        atoms,
        dt,
        temperature_K=settings.temperature,
        friction=settings.friction_per_fs / units.fs,
        rng=rng,
        fixcm=False,
    )


def _attach_recorders(dyn: Any, atoms: Atoms, settings: MDSettings) -> list[np.ndarray]:
    """Trajectory frames (extxyz) and velocity frames, through ASE's observers; returns the latter."""
    frames: list[np.ndarray] = []
    if settings.trajectory:
        from ase.io import write

        if os.path.exists(settings.trajectory):
            os.remove(settings.trajectory)
        dyn.attach(
            lambda: write(settings.trajectory, atoms, format="extxyz", append=True), interval=settings.trajectory_every
        )
    if settings.velocities_every > 0:
        dyn.attach(lambda: frames.append(atoms.get_velocities().copy()), interval=settings.velocities_every)
    return frames


class _NonFinite(Exception):
    def __init__(self, step: int) -> None:
        super().__init__(f"non-finite forces at step {step}")
        self.step = step


def _guard(dyn: Any, atoms: Atoms) -> None:
    """Stop at the step whose forces are not finite (before they move the atoms)."""

    def check() -> None:
        forces = atoms.calc.results.get("forces") if atoms.calc is not None else None
        if forces is not None and not np.isfinite(forces).all():
            raise _NonFinite(int(dyn.nsteps))

    dyn.attach(check, interval=1)


def run_md(atoms: Atoms, calc: Any, settings: MDSettings) -> MDResult:
    """Run MD on a copy of ``atoms`` with ``calc``; returns whether it stayed physical. Non-finite
    forces stop the run at their step (a trajectory holds the frames up to it). Freed memory stays
    in the process (:func:`crosstrain.allocator.keep_freed_memory`)."""
    from crosstrain.allocator import keep_freed_memory

    keep_freed_memory()
    atoms = atoms.copy()
    atoms.calc = calc
    dyn = _dynamics(atoms, settings)
    frames = _attach_recorders(dyn, atoms, settings)
    _guard(dyn, atoms)
    n = len(atoms)
    try:
        e0 = atoms.get_total_energy()
    except Exception as exc:  # a model that cannot even evaluate the start
        return MDResult(False, f"evaluation failed at start: {exc}", 0, 0.0)
    temps: list[float] = []
    done = 0
    while done < settings.steps:
        chunk = min(settings.check_every, settings.steps - done)
        try:
            dyn.run(chunk)
        except _NonFinite as exc:
            return MDResult(False, str(exc), exc.step, exc.step * settings.timestep_fs / 1000, tuple(temps))
        except Exception as exc:
            reason = f"evaluation failed: {type(exc).__name__}: {exc}"
            return MDResult(False, reason, done, done * settings.timestep_fs / 1000, tuple(temps))
        done += chunk
        temps.append(float(atoms.get_temperature()))
        reason = _check(atoms, settings, temps[-1], settings.temperature, e0, n)
        if reason:
            drift = (atoms.get_total_energy() - e0) / n
            return MDResult(False, reason, done, done * settings.timestep_fs / 1000, tuple(temps), drift)
    drift = (atoms.get_total_energy() - e0) / n
    velocities = np.array(frames) if frames else None
    return MDResult(
        True,
        "",
        done,
        done * settings.timestep_fs / 1000,
        tuple(temps),
        float(drift),
        velocities,
        atoms.get_masses() if frames else None,
    )


def _check(atoms: Atoms, s: MDSettings, t: float, ref_t: float, e0: float, n: int) -> str:
    drift = (atoms.get_total_energy() - e0) / n if s.ensemble == "nve" else 0.0
    return watchdog(
        s,
        forces=atoms.get_forces(),
        temperature=t,
        reference_temperature=ref_t,
        min_distance=lambda: _min_distance(atoms, s.min_distance),
        drift_per_atom=drift,
    )


def watchdog(
    s: MDSettings,
    *,
    forces: np.ndarray,
    temperature: float,
    reference_temperature: float,
    min_distance: Callable[[], float],
    drift_per_atom: float = 0.0,
) -> str:
    """Why an MD run must stop now ("" while it is physical): non-finite values, a runaway
    temperature, exploding forces, atoms too close, NVE energy drift beyond the bound."""
    if not np.all(np.isfinite(forces)) or not np.isfinite(temperature):
        return "non-finite forces or temperature"
    if temperature > s.max_temperature_factor * reference_temperature:
        return (
            f"temperature ran away ({temperature:.0f} K > {s.max_temperature_factor:g} x {reference_temperature:.0f} K)"
        )
    fmax = float(np.abs(forces).max())
    if fmax > s.max_force:
        return f"forces exploded ({fmax:.1f} eV/Å > {s.max_force:g})"
    dmin = min_distance()
    if dmin < s.min_distance:
        return f"atoms too close ({dmin:.2f} Å < {s.min_distance:g} Å)"
    if s.ensemble == "nve" and abs(drift_per_atom) > s.max_drift_per_atom:
        return f"NVE energy drift {abs(drift_per_atom):.3f} eV/atom > {s.max_drift_per_atom:g}"
    return ""
