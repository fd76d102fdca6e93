"""Convergence of the DFT phonon reference's settings, one at a time, on the Γ optical phonon.

Γ is exact in the 2-atom primitive cell (phonopy, one displacement), so each setting costs one
small GPAW calculation: the plane-wave cutoff, the k-point density, the Fermi–Dirac width and the
displacement amplitude are varied around the base setting of ``crosstrain phonon-reference``
(350 eV, 10 k-points per Å⁻¹, 0.1 eV, 0.01 Å, SCF density 1e-6), at the mlearn PBE lattice
constant. Labels are cached under ``--dir``, so a killed run resumes. Writes
``benchmarks/phonons-dft/convergence_<element>.json``.

    python benchmarks/phonons-dft/convergence.py Ge --workers 2
    python benchmarks/phonons-dft/convergence.py Si --workers 1 --vary kpoint_density
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent

#: one setting varied at a time around the base
VARIATIONS = {
    "ecut_ev": [350.0, 500.0, 650.0],
    "kpoint_density": [3.5, 5.0, 6.0, 8.0, 10.0, 12.0],
    "smearing_ev": [0.05, 0.1],
    "displacement": [0.005, 0.01, 0.02],
}


def gamma_optical(element: str, a0: float, settings, displacement: float, folder: Path, workers) -> dict:  # type: ignore[no-untyped-def]
    from crosstrain.analysis.crystal import frequencies_at, phonopy_displacements, phonopy_with_forces
    from crosstrain.dft.label import label_structures
    from crosstrain.structure import Structure

    ph, displaced = phonopy_displacements(element, a0, supercell=1, displacement=displacement, cell="primitive")
    cells = [
        Structure.from_atoms(a, source=f"{element} 2-atom displaced {i}", read_labels=False)
        for i, a in enumerate(displaced)
    ]
    run = label_structures(cells, folder, settings, workers=workers)
    if run.failed:
        return {"failed": run.failed[0].reason}
    phonopy_with_forces(ph, [lab.forces for lab in run.labels])
    return {"gamma_optical_THz": max(frequencies_at(ph, (0, 0, 0))), "cpu_seconds": sum(x.seconds for x in run.labels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("element", choices=["Si", "Ge"])
    parser.add_argument("--dir", default="runs/phonons-dft/convergence")
    parser.add_argument("--workers", type=int)
    parser.add_argument(
        "--vary", nargs="+", choices=list(VARIATIONS), default=list(VARIATIONS), help="settings to vary"
    )
    args = parser.parse_args()

    from crosstrain.dft.cli import PHONON_DEFAULTS
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.records import command_line, make_record, write_record
    from crosstrain.workflows.properties import dft_reference

    a0 = dft_reference(args.element).a0
    base = DFTSettings(**PHONON_DEFAULTS)
    rows = []
    start = time.perf_counter()
    for name, values in ((k, VARIATIONS[k]) for k in args.vary):
        for value in values:
            settings = base if name == "displacement" else dataclasses.replace(base, **{name: value})
            displacement = value if name == "displacement" else 0.01
            row = {
                "varied": name,
                "value": value,
                **gamma_optical(args.element, a0, settings, displacement, Path(args.dir), args.workers),
            }
            rows.append(row)
            print(row, flush=True)
    result = {
        "element": args.element,
        "a0": a0,
        "a0_source": "the mlearn PBE data's zero-stress lattice constant",
        "base_settings": base.to_dict(),
        "base_displacement": 0.01,
        "cell": "2-atom primitive (Γ is exact in it)",
        "rows": rows,
        "wall_seconds": time.perf_counter() - start,
    }
    path = write_record(RESULTS / f"convergence_{args.element}.json", make_record("benchmark", command_line(), result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
