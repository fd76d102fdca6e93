"""The mlearn DFT data (Zuo et al., J. Phys. Chem. A 124, 731 (2020)) without pymatgen.

Each record of ``<root>/<El>/training.json`` holds a pymatgen ``Structure`` dictionary, the
group (AIMD-NVT, Vacancy, Elastic, Surface), a description and the PBE labels ``energy`` (eV,
total), ``forces`` (eV/Å) and ``virial_stress``.

Stress convention, checked against the data: ``virial_stress`` is VASP's, in kbar, ordered
xx, yy, zz, xy, yz, zx, and positive under compression (the Elastic group's cells compressed by
2 % along x carry +31.6 kbar in xx). ASE's stress is the opposite sign, so
``stress_ase = -virial_stress * 0.1 GPa/kbar / 160.2177 GPa/(eV/Å³)``. The finite-difference
derivative of the Elastic group's energies along the strain reproduces it to within the
finite-difference error (see ``tests/test_mlearn.py``).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.data.splits import stratified_split as stratified_split  # re-exported
from crosstrain.errors import CrosstrainError, DataFileError
from crosstrain.species import to_atomic_number
from crosstrain.structure import Structure

#: 1 kbar in eV/Å³
KBAR_IN_EV_PER_A3 = 0.1 / 160.21766208
GROUPS = ("AIMD-NVT", "Vacancy", "Elastic", "Surface")
_TEMPERATURE = re.compile(r"at (\d+(?:\.\d+)?) K")


#: the copy that ships with the package (gzipped, unchanged; BSD-3-Clause, see its LICENSE)
PACKAGED_ROOT = Path(__file__).resolve().parent / "mlearn_data"


def find_mlearn_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The mlearn folder: ``root`` if given, else ``$CROSSTRAIN_MLEARN``, else the copy shipped
    with the package (``crosstrain/data/mlearn_data``)."""
    candidates = [Path(root)] if root is not None else []
    if root is None and os.environ.get("CROSSTRAIN_MLEARN"):
        candidates.append(Path(os.environ["CROSSTRAIN_MLEARN"]))
    if not candidates:
        candidates.append(PACKAGED_ROOT)
    for c in candidates:
        if any(_element_file(c, e) is not None for e in ("Si", "Ge")):
            return c.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise DataFileError(f"mlearn data not found in {tried}: pass the folder that holds Si/training.json and Ge/")


#: an element's file names in a data folder: mlearn's JSON, or labelled extxyz in mlearn's groups
#: (the sets crosstrain labelled itself, :func:`crosstrain.dft.sampling.sample_structures`)
ELEMENT_FILES = ("training.json", "training.json.gz", "training.extxyz", "training.extxyz.gz")


def _element_file(root: Path, element: str) -> Path | None:
    for name in ELEMENT_FILES:
        if (root / element / name).is_file():
            return root / element / name
    return None


def mlearn_file(root: str | os.PathLike[str], element: str) -> Path:
    """``<root>/<element>/training.json`` (or its ``.gz``)."""
    return _element_file(Path(root), element) or Path(root) / element / "training.json"


def _record_to_structure(rec: Any, source: str) -> Structure:
    if not isinstance(rec, dict):
        raise DataFileError(f"{source}: record is not a JSON object")
    try:
        lattice = np.asarray(rec["structure"]["lattice"]["matrix"], dtype=float)
        sites = rec["structure"]["sites"]
        positions = np.asarray([s["xyz"] for s in sites], dtype=float)
        symbols = [s["species"][0]["element"] for s in sites]
        outputs = rec["outputs"]
        energy, forces, virial = outputs["energy"], outputs["forces"], outputs["virial_stress"]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DataFileError(f"{source}: missing or malformed field ({type(exc).__name__}: {exc})") from None
    if energy is None or forces is None:
        raise DataFileError(f"{source}: missing label (energy or forces is null)")
    try:
        numbers = np.array([to_atomic_number(s) for s in symbols])
    except CrosstrainError as exc:
        raise DataFileError(f"{source}: {exc}") from None
    stress = None
    if virial is not None:
        v = np.asarray(virial, dtype=float)
        if v.shape != (6,):
            raise DataFileError(f"{source}: virial_stress has shape {v.shape}, expected (6,)")
        xx, yy, zz, xy, yz, zx = v
        stress = -KBAR_IN_EV_PER_A3 * np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])
    description = str(rec.get("description", ""))
    match = _TEMPERATURE.search(description)
    info: dict[str, Any] = {
        "group": str(rec.get("group", "")),
        "description": description,
        "tag": str(rec.get("tag", "")),
    }
    if match:
        info["temperature"] = float(match.group(1))
    n_declared = rec.get("num_atoms")
    if n_declared is not None and int(n_declared) != len(sites):
        raise DataFileError(f"{source}: num_atoms is {n_declared} but there are {len(sites)} sites")
    return Structure(
        positions,
        numbers,
        lattice,
        np.ones(3, dtype=bool),
        energy=energy,
        forces=np.asarray(forces, dtype=float),
        stress=stress,
        info=info,
        source=source,
    )


def read_mlearn(path: str | os.PathLike[str], element: str | None = None) -> list[Structure]:
    """Every record of an mlearn ``training.json`` as labelled structures (eV, Å, ASE stress); a
    ``training.extxyz`` is read as it is (energies and forces required, its families kept)."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: file not found")
    if ".extxyz" in p.suffixes:
        from crosstrain.data.extxyz import read_structures

        structures = read_structures(p, require=("energy", "forces"), element=element)
        for k, s in enumerate(structures):
            s.info["mlearn_index"] = k
        label_families(structures)
        return structures
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFileError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise DataFileError(f"{p}: expected a JSON list of records")
    if not data:
        raise DataFileError(f"{p}: contains no records")
    z = to_atomic_number(element) if element else None
    out = []
    for k, rec in enumerate(data):
        source = f"{p} record {k}"
        s = _record_to_structure(rec, source)
        if z is not None and not (s.numbers == z).all():
            raise DataFileError(f"{source}: contains elements other than {element}")
        s.info["mlearn_index"] = k
        out.append(s)
    label_families(out)
    return out


#: consecutive snapshots of one MD run that form one family (a split never cuts through one)
MD_BLOCK = 3
_STRAIN = re.compile(r"strain (-?\d+(?:\.\d+)?)")
_SNAPSHOT = re.compile(r"Snapshot (\d+) of")


def label_families(structures: list[Structure]) -> None:
    """Set ``info["family"]`` where it is not set: one strain magnitude of the Elastic group (all modes, ± strain and
    the axis-permuted twins together; the ground state is strain 0), a block of ``MD_BLOCK``
    consecutive snapshots of one MD run (AIMD-NVT and Vacancy, a run is a temperature), or the
    structure itself (surfaces). See :mod:`crosstrain.data.splits`."""
    runs: dict[tuple[str, float | None], list[tuple[int, int]]] = {}
    for k, s in enumerate(structures):
        group, description = s.info.get("group", ""), s.info.get("description", "")
        if s.info.get("family") is not None:  # set where the structure was made
            continue
        if group == "Elastic":
            m = _STRAIN.search(description)
            s.info["family"] = f"Elastic |strain| {abs(float(m.group(1))) if m else 0.0:g}"
        elif group in ("AIMD-NVT", "Vacancy") and (found := _SNAPSHOT.search(description)):
            snapshot = int(found.group(1))
            runs.setdefault((group, s.info.get("temperature")), []).append((snapshot, k))
        else:
            s.info["family"] = f"{group} {description or k}"
    for (group, temperature), members in runs.items():
        for rank, (_, k) in enumerate(sorted(members)):
            structures[k].info["family"] = f"{group} {temperature:g} K block {rank // MD_BLOCK}"


def mlearn_split(
    element: str, *, valid: int, test: int, seed: int, root: str | os.PathLike[str] | None = None
) -> dict[str, list[Structure]]:
    """The mlearn structures of ``element`` (shipped, or under ``root``) split into ``train``,
    ``valid`` and ``test`` (:func:`~crosstrain.data.splits.stratified_split` with these sizes and seed)."""
    structures = read_mlearn(mlearn_file(find_mlearn_root(root), element), element=element)
    split = stratified_split(structures, valid, test, seed=seed)
    return {part: [structures[i] for i in idx] for part, idx in split.items()}
