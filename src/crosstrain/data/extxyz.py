"""Reading and writing labelled structures as extended XYZ, with validation.

Every problem is reported as one line naming the file and the record (0-based, in file order).
Writes are atomic: a failed or interrupted write leaves no partial file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from crosstrain.errors import CrosstrainError, DataFileError
from crosstrain.io.atomic import atomic_path
from crosstrain.species import to_atomic_number
from crosstrain.structure import Structure

LABELS = ("energy", "forces", "stress")


def read_structures(
    path: str | os.PathLike[str],
    require: Sequence[str] = (),
    element: str | None = None,
) -> list[Structure]:
    """All structures in an extxyz file (or an mlearn ``training.json[.gz]``, always fully labelled).

    ``require`` lists labels every record must carry (``"energy"``, ``"forces"``, ``"stress"``);
    ``element`` demands that every record contains only that element.
    """
    from ase.io import iread

    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: file not found")
    if p.stat().st_size == 0:
        raise DataFileError(f"{p}: file is empty")
    unknown = set(require) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label(s) {sorted(unknown)}; choose from {LABELS}")
    if p.name.endswith((".json", ".json.gz")):  # an mlearn training.json, read directly
        from crosstrain.data.mlearn import read_mlearn

        return read_mlearn(p, element=element)
    z_expected = to_atomic_number(element) if element is not None else None
    out: list[Structure] = []
    record = 0
    try:
        for record, atoms in enumerate(iread(str(p), index=":", format="extxyz")):
            source = f"{p} record {record}"
            s = Structure.from_atoms(atoms, source=source)
            _check_record(s, require, z_expected, element, source)
            out.append(s)
    except CrosstrainError:
        raise
    except Exception as exc:  # ASE's parser raises many exception types
        where = f"record {len(out)}" if out or record else "record 0"
        raise DataFileError(f"{p} {where}: malformed extxyz ({type(exc).__name__}: {exc})") from None
    if not out:
        raise DataFileError(f"{p}: contains no structures")
    return out


def _check_record(s: Structure, require: Sequence[str], z: int | None, element: str | None, source: str) -> None:
    for label in require:
        if getattr(s, label) is None:
            raise DataFileError(f"{source}: missing label {label!r}")
    if z is not None and not (s.numbers == z).all():
        others = sorted({int(n) for n in s.numbers} - {z})
        from ase.data import chemical_symbols

        names = ", ".join(chemical_symbols[n] for n in others)
        raise DataFileError(f"{source}: contains {names} where only {element} is expected")


def write_structures(path: str | os.PathLike[str], structures: Iterable[Structure]) -> Path:
    """Write ``structures`` (with their labels and ``info``) to ``path`` atomically."""
    from ase.io import write

    atoms = [s.to_atoms() for s in structures]
    if not atoms:
        raise DataFileError(f"{path}: refusing to write an empty data set")
    with atomic_path(path) as tmp:
        write(str(tmp), atoms, format="extxyz")
    return Path(path)
