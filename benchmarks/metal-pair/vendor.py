"""Vendor the labelled Na set in the package, beside the mlearn sets, in their layout.

Reads ``crosstrain label``'s ``labelled.extxyz`` (every structure must carry energy, forces and
stress, all from one DFT setting), and writes ``src/crosstrain/data/mlearn_data/Na/training.extxyz.gz``
(gzip without a timestamp: the same labels give the same bytes) and its ``README.md`` (counts per
group, the setting and its hash, the commands that made it). A study then reads Na with
``data: {kind: mlearn, source: Li, target: Na}``.

    python benchmarks/metal-pair/vendor.py benchmarks/metal-pair/labels --sample runs/na-sample/sample.json
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "src" / "crosstrain" / "data" / "mlearn_data" / "Na"


def label_flags(settings: dict) -> str:  # type: ignore[type-arg]
    """The ``crosstrain label`` flags of a settings.json."""
    flags = f"--ecut {settings['ecut_ev']:g} --kpoint-density {settings['kpoint_density']:g}"
    flags += f" --smearing {settings['smearing_ev']:g} --xc {settings['xc']}"
    if settings.get("setups"):
        flags += " --setups " + ",".join(f"{e}={n}" for e, n in settings["setups"].items())
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", help="the --out folder of crosstrain label")
    parser.add_argument("--sample", required=True, help="sample.json of crosstrain sample")
    parser.add_argument("--expect", type=int, help="refuse fewer labelled structures than this")
    args = parser.parse_args()

    from crosstrain.data.extxyz import read_structures
    from crosstrain.io.atomic import atomic_path, write_text

    folder = Path(args.labels)
    structures = read_structures(folder / "labelled.extxyz", require=("energy", "forces", "stress"), element="Na")
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    hashes = {s.info["dft_settings_sha256"] for s in structures}
    if hashes != {settings["sha256"]}:
        raise SystemExit(f"{folder}: labels from more than one setting ({sorted(hashes)})")
    failed = json.loads((folder / "failed.json").read_text(encoding="utf-8"))
    if args.expect and len(structures) < args.expect:
        raise SystemExit(f"{folder}: {len(structures)} labelled structures, {args.expect} expected")
    sample = json.loads(Path(args.sample).read_text(encoding="utf-8"))
    plain = (folder / "labelled.extxyz").read_bytes()
    TARGET.mkdir(parents=True, exist_ok=True)
    with atomic_path(TARGET / "training.extxyz.gz") as tmp:
        tmp.write_bytes(gzip.compress(plain, compresslevel=9, mtime=0))
    groups = collections.Counter(s.info["group"] for s in structures)
    sizes = {g: sorted({len(s) for s in structures if s.info["group"] == g}) for g in groups}
    table = "\n".join(f"| {g} | {n} | {', '.join(map(str, sizes[g]))} |" for g, n in groups.items())
    readme = f"""# Na: DFT labels made by crosstrain (not part of mlearn)

The target of the metal pair Li → Na (`benchmarks/metal-pair/`): structures of mlearn's four kinds,
made with `crosstrain sample` (MD driven by LAMMPS's MEAM Na potential; the driver only chooses the
geometries) and labelled by GPAW with `crosstrain label`. Licensed as crosstrain itself.

| group | structures | atoms |
|---|---|---|
{table}

{len(structures)} structures, {len(failed)} failed labels left out. Lattice constant {sample["result"]["a0"]:.4f} Å
({sample["result"]["a0_source"]}).

DFT setting (sha256 {settings["sha256"][:16]}): {json.dumps({k: v for k, v in settings.items() if k != "sha256"})}

Made by:

    {sample["command"]}
    crosstrain label <sample>/structures.extxyz --out {folder.as_posix()} {label_flags(settings)}
    python benchmarks/metal-pair/vendor.py {folder.as_posix()} --sample <sample>/sample.json

Each structure's `info` holds its `group`, `description`, `family` (the unit a split never cuts),
`temperature` (MD frames), `label_key` and `dft_settings_sha256`. Energies are GPAW's (relative to
its reference atoms), stress in ASE's convention (eV/Å³).
"""
    write_text(TARGET / "README.md", readme)
    print(f"{len(structures)} structures ({dict(groups)}) -> {TARGET / 'training.extxyz.gz'}")


if __name__ == "__main__":
    main()
