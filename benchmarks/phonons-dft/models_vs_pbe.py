"""Models against DFT: phonons against crosstrain's PBE phonon reference, elastic constants against
the mlearn PBE data, for shipped parents and any checkpoint.

Each model is evaluated for every element it was trained for (a transferred model: the targets of its
element map; else all its elements) that has a shipped phonon reference
(:func:`crosstrain.workflows.properties.errors_against_dft`): Γ, X and L frequencies in the
reference's cell and supercell, the DOS overlap and band RMS difference, and a0, B, C11, C12 and
C44⁰ at the model's own lattice constant. Each row keeps the model's length and energy scales of
the element (1 unless a ``rescaled`` start fitted them): E_t(r) = s_E · E_s(s_L r) multiplies the
parent's force constants at s_L r by s_E s_L², so a mode's frequency by sqrt(s_E s_L² · m_s / m_t),
and reads the target's lattice constant a_t as the parent's s_L a_t (its own equilibrium only if
s_L = a_s / a_t). Is a soft model soft against its data, or are the data soft? Each row also has the
least-squares slope of the model's forces against the mlearn PBE forces on the element's 300 K
AIMD snapshots (64 atoms, displacements of a few hundredths of an Å, so nearly harmonic forces;
training and test snapshots alike): a slope below 1 is a model softer than its data. Writes a
record.

    python benchmarks/phonons-dft/models_vs_pbe.py --model si-dft5 --model si-dft --model ge-dft5 \\
        --model si-dft-mace --model "ge-n22-seed0=runs/x/seed0.ckpt@22 Ge structures" \\
        --out benchmarks/phonons-dft/parents_vs_pbe.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def parse_model(item: str) -> tuple[str, str, str]:
    """``NAME=PATH@GROUP`` (a shipped model's name alone is its own path, in the group of shipped
    parents, trained on all their data)."""
    item, _, group = item.partition("@")
    name, sep, path = item.partition("=")
    return (name, path, group or "given") if sep else (item, item, group or "shipped parent, all data")


def harmonic_slope(element: str, calc) -> dict:  # type: ignore[no-untyped-def]
    """Slope (through the origin) and MAE of the model's forces against the mlearn forces on the
    coldest AIMD-NVT snapshots of ``element``."""
    import numpy as np

    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn

    data = read_mlearn(mlearn_file(find_mlearn_root(), element), element=element)
    aimd = [x for x in data if x.info.get("group") == "AIMD-NVT"]
    coldest = min(x.info["temperature"] for x in aimd)
    picked = [x for x in aimd if x.info["temperature"] == coldest]
    model, dft = [], []
    for x in picked:
        atoms = x.to_atoms(with_labels=False)
        atoms.calc = calc
        model.append(atoms.get_forces().ravel())
        dft.append(np.asarray(x.forces).ravel())
    fm, fd = np.concatenate(model), np.concatenate(dft)
    return {
        "temperature": coldest,
        "structures": len(picked),
        "slope": float(fm @ fd / (fd @ fd)),
        "force_mae": float(np.abs(fm - fd).mean()),
        "dft_force_rms": float(np.sqrt((fd**2).mean())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", action="append", required=True, help="NAME=CHECKPOINT@GROUP or a shipped model's name"
    )
    parser.add_argument("--out", required=True, help="the record to write")
    args = parser.parse_args()

    import torch

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.dft.phonons import shipped_reference
    from crosstrain.io.checkpoint import read_meta
    from crosstrain.pretrained import resolve_model
    from crosstrain.records import command_line, make_record, write_record
    from crosstrain.workflows.properties import errors_against_dft

    torch.set_num_threads(1)
    rows = []
    for name, path, group in map(parse_model, args.model):
        ckpt = resolve_model(Path(path))
        meta = read_meta(ckpt)
        targets = list(meta.parent.element_map) if meta.parent and meta.parent.element_map else meta.species
        for element in targets:
            ref = shipped_reference(element)
            if ref is None:
                continue
            start = time.perf_counter()
            e = errors_against_dft(element, CrosstrainCalculator(ckpt))
            row = {"model": name, "checkpoint": str(path), "element": element, **e.to_json()}
            row["length_scale"], row["energy_scale"] = meta.length_scale[element], meta.energy_scale[element]
            row["group"] = group
            row["strategy"] = meta.parent.strategy if meta.parent else "scratch"
            row["harmonic_forces"] = harmonic_slope(element, CrosstrainCalculator(ckpt))
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            worst = max(e.phonons.error_percent.values(), key=abs)
            print(
                f"{name} {element}: Γ optical {e.phonons.error_percent['Γ optical']:+.1f} %, "
                f"worst mode {worst:+.1f} %, DOS overlap {e.phonons.dos_overlap:.3f}; "
                + ", ".join(f"{k} {v:+.1f} %" for k, v in e.error_percent.items())
                + f"; 300 K force slope {row['harmonic_forces']['slope']:.3f}",
                flush=True,
            )
    references = {}
    for element in sorted({r["element"] for r in rows}):
        ref = shipped_reference(element)
        assert ref is not None
        references[element] = {
            "describe": ref.describe(),
            "frequencies_THz": ref.frequencies_THz,
            "own_a0": ref.own_a0,
            "a0": ref.a0,
            "command": ref.command,
            "cpu_seconds": ref.cpu_seconds,
        }
    result = {"references": references, "rows": rows}
    path = write_record(args.out, make_record("benchmark", command_line(), result, threads=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
