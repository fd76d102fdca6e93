"""How crosstrain's own DFT labels (GPAW, ``crosstrain label``) relate to the mlearn PBE data (VASP).

1. The PBE lattice constant of diamond Ge from a Birch–Murnaghan fit of GPAW energies of the
   8-atom cubic cell, next to the mlearn value at zero stress (``analysis.dft_reference``: the
   Elastic group's cell corrected by its residual stress) and the Elastic group's cell itself.
2. GPAW labels of a few mlearn Ge structures (the smallest of each group, and ``--surfaces`` of
   the smallest slabs) with the same settings: force MAE and RMSE against the VASP forces, the
   spread of the per-atom energy differences (a constant offset between two codes is expected and
   says nothing), each slab's offset relative to the bulk structures' (how differently the two
   data sets place a surface relative to the bulk), and the stress difference.

Labels are cached (``--dir``), so a killed run resumes. Writes
``benchmarks/dft-energies/dft_consistency.json``.

    python benchmarks/dft-energies/dft_consistency.py --workers 1
    python benchmarks/dft-energies/dft_consistency.py --workers 1 --surfaces 3    # and the 3 smallest slabs
    python benchmarks/dft-energies/dft_consistency.py --workers 1 --surfaces 3 --slab "(3_2_1)"   # and a named one
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent


def lattice_constant(dft, folder: Path, workers: int | None) -> dict:  # type: ignore[no-untyped-def]
    from ase.build import bulk
    from ase.eos import EquationOfState

    from crosstrain.dft.label import label_structures
    from crosstrain.structure import Structure

    grid = np.linspace(5.68, 5.88, 6)
    cells = [Structure.from_atoms(bulk("Ge", "diamond", a=a, cubic=True), source=f"Ge8 a={a:.3f}") for a in grid]
    run = label_structures(cells, folder / "eos", dft, workers=workers)
    energies = [lab.energy for lab in run.labels]
    volumes = [s.volume for s in cells]
    v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return {
        "a0": float((v0) ** (1 / 3)),
        "bulk_modulus_GPa": float(b * 160.21766208),
        "grid": grid.tolist(),
        "energies": energies,
        "seconds_per_label": float(np.mean([x.seconds for x in run.labels])),
    }


def one_per_group(structures: list) -> list:
    """The smallest structure of each mlearn group (surfaces first: they are the smallest)."""
    smallest: dict = {}
    for s in sorted((s for s in structures if s.stress is not None), key=len):
        smallest.setdefault(s.info.get("group"), s)
    return list(smallest.values())


def surfaces(structures: list, k: int) -> list:
    """The ``k`` smallest structures of the Surface group (slabs with vacuum)."""
    return sorted((s for s in structures if s.info.get("group") == "Surface" and s.stress is not None), key=len)[:k]


def named_slabs(structures: list, names: list[str]) -> list:
    """The slabs whose description contains one of ``names``; a name that matches none stops the run."""
    slabs = [s for s in structures if s.info.get("group") == "Surface"]
    out = []
    for name in names:
        match = [s for s in slabs if name in str(s.info.get("description"))]
        if not match:
            raise SystemExit(f"--slab {name!r}: no mlearn Ge slab's description contains it")
        out += match
    return out


def surface_area(s) -> float:  # type: ignore[no-untyped-def]
    """Area (Å²) of a slab's surface: the cell face spanned by the two axes other than the one
    with the widest empty gap between atoms (the vacuum)."""
    cell = np.asarray(s.cell)
    frac = np.linalg.solve(cell.T, np.asarray(s.positions).T).T % 1.0
    gaps = []
    for i in range(3):
        f = np.sort(frac[:, i])
        gaps.append(max(np.diff(np.append(f, f[0] + 1.0))) * np.linalg.norm(cell[i]))
    j, k = (i for i in range(3) if i != int(np.argmax(gaps)))
    return float(np.linalg.norm(np.cross(cell[j], cell[k])))


def surface_energies(slabs: list, rows: list, bulk_energy: float) -> dict:
    """Surface energy (J/m²) of each recomputed slab from each source: mlearn against its own bulk
    (``bulk_energy``, eV/atom), GPAW the same shifted by the slab's offset relative to the bulk."""
    bulk = np.mean([r["energy_difference_per_atom"] for r in rows if r["group"] != "Surface"])
    by_source = {r["source"]: r for r in rows}
    out = {}
    for s in slabs:
        if s.source not in by_source:
            continue
        per_area = len(s) / (2 * surface_area(s)) * 16.0217663  # eV/atom -> J/m² for two faces
        mlearn = (s.energy / len(s) - bulk_energy) * per_area
        shift = (by_source[s.source]["energy_difference_per_atom"] - bulk) * per_area
        out[s.info.get("description")] = {"mlearn": float(mlearn), "gpaw": float(mlearn + shift)}
    return out


def offsets_by_kind(rows: list) -> dict:
    """Per-atom energy offsets (GPAW − mlearn) of the slabs against those of the bulk structures: a
    constant offset between codes cancels; what remains is how differently the two place a surface
    relative to the bulk."""
    bulk = [r["energy_difference_per_atom"] for r in rows if r["group"] != "Surface"]
    slabs = {r["description"]: r["energy_difference_per_atom"] for r in rows if r["group"] == "Surface"}
    if not bulk or not slabs:
        return {}
    return {
        "bulk_offset_meV": 1000 * float(np.mean(bulk)),
        "bulk_offset_spread_meV": 1000 * float(np.std(bulk)),
        "slab_minus_bulk_meV": {d: 1000 * (v - float(np.mean(bulk))) for d, v in slabs.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", type=int, default=4, help="mlearn Ge groups to recompute one structure of")
    parser.add_argument("--surfaces", type=int, default=1, help="the smallest K surface slabs to recompute")
    parser.add_argument(
        "--slab",
        nargs="*",
        default=[],
        help="slabs to recompute as well, by a part of their description (e.g. '(3_2_1)')",
    )
    parser.add_argument("--ecut", type=float, default=350.0)
    parser.add_argument("--kpoint-density", type=float, default=3.5, dest="kpoint_density")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", default="runs/dft_consistency")
    args = parser.parse_args()

    from crosstrain.analysis.dft_reference import elastic_reference
    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn
    from crosstrain.dft.label import label_structures
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    dft = DFTSettings(ecut_ev=args.ecut, kpoint_density=args.kpoint_density)
    folder = Path(args.dir)
    mlearn = read_mlearn(mlearn_file(find_mlearn_root(), "Ge"), element="Ge")
    reference = elastic_reference(mlearn)
    eos = lattice_constant(dft, folder, args.workers)
    print(
        f"a0: GPAW {eos['a0']:.4f} Å, mlearn at zero stress {reference['a0']:.4f} Å (cell {reference['a0_cell']:.4f})"
    )
    picks = one_per_group(mlearn)[: args.structures]
    picks += [s for s in surfaces(mlearn, args.surfaces) if all(s is not p for p in picks)]
    picks += [s for s in named_slabs(mlearn, args.slab) if all(s is not p for p in picks)]
    run = label_structures(picks, folder / "mlearn", dft, workers=args.workers)
    rows = []
    for s, lab in zip(picks, run.labels):
        if not lab.ok:
            rows.append({"source": s.source, "failed": lab.reason})
            continue
        df = np.asarray(lab.forces) - s.forces
        ds = (np.asarray(lab.stress) - s.stress) * 160.21766208
        rows.append(
            {
                "source": s.source,
                "group": s.info.get("group"),
                "atoms": len(s),
                "description": s.info.get("description"),
                "force_mae": float(np.abs(df).mean()),
                "force_rmse": float(np.sqrt((df**2).mean())),
                "energy_difference_per_atom": (lab.energy - s.energy) / len(s),
                "stress_mae_GPa": float(np.abs(ds).mean()),
                "seconds": lab.seconds,
            }
        )
    ok = [r for r in rows if "failed" not in r]
    offsets = [r["energy_difference_per_atom"] for r in ok]
    summary = {
        "a0_gpaw": eos["a0"],
        "a0_mlearn_zero_stress": reference["a0"],
        "a0_mlearn_cell": reference["a0_cell"],
        "force_mae": float(np.mean([r["force_mae"] for r in ok])) if ok else None,
        "energy_offset_per_atom_mean": float(np.mean(offsets)) if offsets else None,
        "energy_offset_per_atom_spread_meV": float(1000 * np.std(offsets)) if len(offsets) > 1 else None,  # all
        "stress_mae_GPa": float(np.mean([r["stress_mae_GPa"] for r in ok])) if ok else None,
        **offsets_by_kind(ok),
    }
    if any(r["group"] == "Surface" for r in ok) and any(r["group"] != "Surface" for r in ok):
        elastic = min(s.energy / len(s) for s in mlearn if s.info.get("group") == "Elastic")
        summary["surface_energy_J_m2"] = surface_energies(
            [s for s in picks if s.info.get("group") == "Surface"], ok, elastic
        )
    out = {
        "settings": {**dft.to_dict(), "sha256": dft.sha256},
        "eos": eos,
        "mlearn_reference": reference,
        "structures": rows,
        "summary": summary,
        **provenance().to_json(),
    }
    RESULTS.mkdir(exist_ok=True)
    write_record(RESULTS / "dft_consistency.json", make_record("benchmark", command_line(), out))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
