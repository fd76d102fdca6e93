"""Are the mlearn data softer than crosstrain's PBE reference? GPAW forces on the data's own 300 K snapshots.

The models trained on all of an element's mlearn data reproduce the data's forces on its coldest AIMD
snapshots with a slope of 0.99 or more (``models_vs_pbe.py``), yet their phonons sit a few percent below
the GPAW PBE reference. This labels the first ``--structures`` of those snapshots (64 atoms, displacements
of a few hundredths of an Å: nearly harmonic forces) with GPAW at the reference's cutoff and SCF
tolerance and the k-point density given, and fits the slope of the data's (VASP) forces against GPAW's:
a slope below 1 says the data's curvature is below GPAW's at these displacements, which a model that
follows its data inherits. Labels are cached under ``--dir`` (resumable). Writes a record.

    python benchmarks/phonons-dft/data_vs_gpaw.py Si --structures 2 --kpoint-density 3.5
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("element", choices=["Si", "Ge"])
    parser.add_argument("--structures", type=int, default=2)
    parser.add_argument("--kpoint-density", type=float, default=3.5, dest="kpoint_density")
    parser.add_argument("--dir", default="runs/phonons-dft/data-vs-gpaw")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn
    from crosstrain.dft.cli import PHONON_DEFAULTS
    from crosstrain.dft.label import label_structures
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.records import command_line, make_record, write_record

    settings = dataclasses.replace(DFTSettings(**PHONON_DEFAULTS), kpoint_density=args.kpoint_density)
    data = read_mlearn(mlearn_file(find_mlearn_root(), args.element), element=args.element)
    aimd = [x for x in data if x.info.get("group") == "AIMD-NVT"]
    coldest = min(x.info["temperature"] for x in aimd)
    picked = [x for x in aimd if x.info["temperature"] == coldest][: args.structures]
    run = label_structures(picked, Path(args.dir) / args.element, settings, workers=args.workers)
    if run.failed:
        raise SystemExit(f"GPAW failed: {run.failed[0].reason}")
    fd = np.concatenate([np.asarray(x.forces).ravel() for x in picked])
    fg = np.concatenate([np.asarray(lab.forces).ravel() for lab in run.labels])
    rows = [
        {
            "source": x.source,
            "slope_data_vs_gpaw": float(np.asarray(x.forces).ravel() @ np.asarray(lab.forces).ravel())
            / float(np.asarray(lab.forces).ravel() @ np.asarray(lab.forces).ravel()),
            "force_mae": float(np.abs(np.asarray(x.forces) - np.asarray(lab.forces)).mean()),
            "cpu_seconds": lab.seconds,
        }
        for x, lab in zip(picked, run.labels)
    ]
    result = {
        "element": args.element,
        "temperature": coldest,
        "structures": len(picked),
        "settings": settings.to_dict(),
        "slope_data_vs_gpaw": float(fd @ fg / (fg @ fg)),
        "force_mae": float(np.abs(fd - fg).mean()),
        "gpaw_force_rms": float(np.sqrt((fg**2).mean())),
        "rows": rows,
    }
    print(result)
    path = write_record(RESULTS / f"data_vs_gpaw_{args.element}.json", make_record("benchmark", command_line(), result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
