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

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.data.structures import Structure
from crosstrain.errors import CrosstrainError, DataFileError
from crosstrain.species import to_atomic_number

#: 1 kbar in eV/Å³
KBAR_IN_EV_PER_A3 = 0.1 / 160.21766208
GROUPS = ("AIMD-NVT", "Vacancy", "Elastic", "Surface")
_TEMPERATURE = re.compile(r"at (\d+(?:\.\d+)?) K")


def find_mlearn_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The mlearn folder: ``root`` if given, else ``$CROSSTRAIN_MLEARN``, else ``../shared/data/mlearn``
    next to the working directory or to this source checkout."""
    candidates = []
    if root is not None:
        candidates.append(Path(root))
    elif os.environ.get("CROSSTRAIN_MLEARN"):
        candidates.append(Path(os.environ["CROSSTRAIN_MLEARN"]))
    else:
        here = Path(__file__).resolve()
        for base in (Path.cwd(), *here.parents[:5]):
            candidates.append(base / ".." / "shared" / "data" / "mlearn")
            candidates.append(base / "shared" / "data" / "mlearn")
    for c in candidates:
        if (c / "Si" / "training.json").is_file() or (c / "Ge" / "training.json").is_file():
            return c.resolve()
    tried = ", ".join(str(c) for c in candidates[:3])
    raise DataFileError(f"mlearn data not found (tried {tried}); pass the folder that holds Si/ and Ge/")


def mlearn_file(root: str | os.PathLike[str], element: str) -> Path:
    return Path(root) / element / "training.json"


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
    info = {
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
        True,
        energy=energy,
        forces=np.asarray(forces, dtype=float),
        stress=stress,
        info=info,
        source=source,
    )


def read_mlearn(path: str | os.PathLike[str], element: str | None = None) -> list[Structure]:
    """Every record of an mlearn ``training.json`` as labelled structures (eV, Å, ASE stress)."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: file not found")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
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
    return out


def stratified_split(
    structures: list[Structure], n_valid: int, n_test: int, seed: int = 0, key: str = "group"
) -> dict[str, list[int]]:
    """Seeded train/valid/test indices, each group (``info[key]``) represented in proportion to its size."""
    n = len(structures)
    if n_valid < 0 or n_test < 0 or n_valid + n_test >= n:
        raise DataFileError(f"cannot take {n_valid} validation and {n_test} test structures from {n}")
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(structures):
        groups.setdefault(str(s.info.get(key, "")), []).append(i)
    names = sorted(groups)
    rng = np.random.default_rng(seed)
    shuffled = {g: rng.permutation(groups[g]).tolist() for g in names}
    valid_counts = _apportion([len(groups[g]) for g in names], n_valid)
    rest = [len(groups[g]) - c for g, c in zip(names, valid_counts)]
    test_counts = _apportion(rest, n_test)
    out: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for g, nv, nt in zip(names, valid_counts, test_counts):
        idx = shuffled[g]
        out["valid"] += idx[:nv]
        out["test"] += idx[nv : nv + nt]
        out["train"] += idx[nv + nt :]
    return {k: sorted(v) for k, v in out.items()}


def _apportion(sizes: list[int], total: int) -> list[int]:
    """Largest-remainder apportionment of ``total`` over groups of ``sizes`` (never above a size)."""
    whole = sum(sizes)
    if whole == 0:
        return [0] * len(sizes)
    quotas = [total * s / whole for s in sizes]
    counts = [min(int(q), s) for q, s in zip(quotas, sizes)]
    order = sorted(range(len(sizes)), key=lambda i: quotas[i] - counts[i], reverse=True)
    k = 0
    while sum(counts) < total and k < 10 * len(sizes):
        i = order[k % len(sizes)]
        if counts[i] < sizes[i]:
            counts[i] += 1
        k += 1
    return counts
