"""Is a model soft only at small amplitudes? The Γ optical mode frozen at growing amplitude, model
against GPAW PBE.

The models' forces on 300 K snapshots follow their data (slope 0.99, ``models_vs_pbe.py``), yet their
harmonic Γ optical frequency is 2-3 % low. Both hold if the model's curvature is wrong near the
minimum and right at thermal amplitudes. This measures it directly: in the 2-atom primitive cell at
the mlearn PBE lattice constant, the two atoms are moved apart along [100] by ``u`` (the Γ optical
mode: each atom by u/2), from 0.01 to 0.15 Å (at 300 K a Si atom moves about 0.08 Å rms along
each axis, from its Debye–Waller factor); at each ``u`` the restoring force F(u) on an atom from
GPAW (the phonon reference's setting: 350 eV, 10 k-points per Å⁻¹, SCF density 1e-6; labels cached
under ``--dir``) and from each model. The
effective frequency ω(u) = sqrt(2 F / (m u)) / 2π tends to the harmonic Γ optical frequency as u → 0;
the row gives the model's ω(u) against PBE's in percent. Writes
``benchmarks/phonons-dft/amplitude_<element>.json``.

    python benchmarks/phonons-dft/amplitude.py Si --model si-dft5
    python benchmarks/phonons-dft/amplitude.py Ge --model ge-dft5 --model "ge-n22-seed0=runs/x/seed0.ckpt"
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent
AMPLITUDES = (0.01, 0.04, 0.08, 0.15)  # Å, the distance the two atoms move apart


def cells(element: str, a0: float) -> list:  # type: ignore[type-arg]
    from ase.build import bulk

    out = []
    for u in AMPLITUDES:
        atoms = bulk(element, "diamond", a=a0)
        atoms.positions[0, 0] -= u / 2
        atoms.positions[1, 0] += u / 2
        out.append(atoms)
    return out


def restoring(forces: np.ndarray) -> float:
    """The force pulling the two atoms back together along x (eV/Å), averaged over the pair."""
    return float((forces[1, 0] - forces[0, 0]) / 2) * -1.0


def omega_thz(force: float, u: float, mass: float) -> float:
    """sqrt(2 F / (m u)) / 2π in THz: each atom moved by u/2 and pulled back by F (eV/Å, amu)."""
    from ase.units import _amu, _e

    k = force / (u / 2) * _e / 1e-20  # N/m per atom, from eV/Å²
    return float(np.sqrt(k / (mass * _amu)) / (2 * np.pi) / 1e12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("element", choices=["Si", "Ge"])
    parser.add_argument("--model", action="append", default=[], help="a shipped name, or NAME=PATH")
    parser.add_argument("--dir", default="runs/phonons-dft/amplitude")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()

    from ase.data import atomic_masses, atomic_numbers

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.dft.cli import PHONON_DEFAULTS
    from crosstrain.dft.label import label_structures
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.pretrained import resolve_model
    from crosstrain.records import command_line, make_record, write_record
    from crosstrain.structure import Structure
    from crosstrain.workflows.properties import dft_reference

    start = time.perf_counter()
    a0 = dft_reference(args.element).a0
    mass = float(atomic_masses[atomic_numbers[args.element]])
    settings = DFTSettings(**PHONON_DEFAULTS)
    frozen = cells(args.element, a0)
    structures = [Structure.from_atoms(c, source=f"{args.element} Γ optical u={u}") for c, u in zip(frozen, AMPLITUDES)]
    run = label_structures(structures, Path(args.dir), settings, workers=args.workers)
    if run.failed:
        raise SystemExit(f"a DFT calculation failed: {run.failed[0].reason}")
    dft = [restoring(np.asarray(lab.forces)) for lab in run.labels]
    rows = [{"u": u, "force_pbe": f, "omega_pbe_THz": omega_thz(f, u, mass)} for u, f in zip(AMPLITUDES, dft)]
    models = {}
    for item in args.model:
        name, _, path = item.partition("=")
        calc = CrosstrainCalculator(resolve_model(path or name))
        for row, atoms in zip(rows, frozen):
            a = atoms.copy()
            a.calc = calc
            f = restoring(a.get_forces())
            row[f"force_{name}"] = f
            row[f"omega_{name}_THz"] = omega_thz(f, row["u"], mass)
            row[f"error_{name}_pct"] = 100 * (row[f"omega_{name}_THz"] / row["omega_pbe_THz"] - 1)
        models[name] = path or name
    for row in rows:
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    result = {
        "element": args.element,
        "a0": a0,
        "a0_source": "the mlearn PBE data's zero-stress lattice constant",
        "settings": settings.to_dict(),
        "mode": "Γ optical, the two atoms of the primitive cell moved apart along [100] by u",
        "models": models,
        "rows": rows,
        "dft_cpu_seconds": sum(lab.seconds for lab in run.labels),
        "wall_seconds": time.perf_counter() - start,
    }
    path = write_record(RESULTS / f"amplitude_{args.element}.json", make_record("benchmark", command_line(), result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
