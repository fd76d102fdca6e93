"""DFT labels (energy, forces, stress) for a set of structures, cached, resumable and parallel.

Each structure's label is computed once per set of :class:`~crosstrain.dft.settings.DFTSettings`
and written atomically to ``<out>/labels/<settings hash>/<structure hash>.json`` as soon as it
is done, so a killed run resumes where it stopped and a finished label is never recomputed. A
calculation that fails (an SCF that does not converge within ``max_scf_steps``, a structure the
code rejects, a non-finite result) is recorded as a failed label with its reason, never as a
crash and never as a label; ``retry_failed`` computes those again. Workers are spawned processes,
one per core by default, each with one BLAS/OpenMP thread whatever the environment says
(:mod:`crosstrain.parallel`): measured on an 8-atom Ge cell, one worker with two OpenBLAS threads
took 63 s where one thread took 8.5 s while the other core was busy.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from crosstrain.data.extxyz import write_structures
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import CrosstrainError, DataFileError
from crosstrain.io.atomic import write_text
from crosstrain.parallel import THREAD_VARIABLES, available_cores, spawn_pool
from crosstrain.structure import Structure

INSTALL_HINT = (
    "GPAW is not installed; install it with: apt-get install g++ libxc-dev libopenblas-dev libfftw3-dev "
    "&& GPAW_CONFIG=/absolute/path/to/install/gpaw-siteconfig.py pip install gpaw gpaw-data (the file "
    "is in the crosstrain repository; the path must be absolute; see the docs' active-learning tutorial)"
)


class DFTCodeMissing(CrosstrainError):
    """The DFT code the settings ask for cannot be imported."""


@dataclass(frozen=True)
class Label:
    """One structure's DFT result (``status`` ``ok``) or the reason it has none (``failed``)."""

    key: str
    settings_sha256: str
    status: str
    reason: str = ""
    energy: float | None = None
    forces: list[list[float]] | None = None
    stress: list[list[float]] | None = None  # 3x3, eV/Å^3
    seconds: float = 0.0
    code_version: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str, source: str) -> Label:
        try:
            return cls(**json.loads(text))
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataFileError(f"{source}: not a crosstrain label ({exc})") from None

    def apply(self, structure: Structure) -> Structure:
        """``structure`` with this label's energy, forces and stress."""
        if not self.ok or self.key != structure_key(structure):
            raise ValueError(f"label {self.key} ({self.status}) does not label {structure.source}")
        info = {**structure.info, "label_key": self.key, "dft_settings_sha256": self.settings_sha256}
        return Structure(
            structure.positions,
            structure.numbers,
            structure.cell,
            structure.pbc,
            energy=self.energy,
            forces=np.asarray(self.forces),
            stress=None if self.stress is None else np.asarray(self.stress),
            info=info,
            source=structure.source,
        )


def structure_key(s: Structure) -> str:
    """Hash of a structure's geometry (atomic numbers, positions and cell to 1e-8 Å, periodicity)."""
    h = hashlib.sha256()
    for part in (s.numbers.astype(np.int64), np.round(s.positions, 8), np.round(s.cell, 8), s.pbc.astype(np.int8)):
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()[:24]


def require_code(settings: DFTSettings) -> str:
    """The DFT code's version; a clear error with the install hint when it cannot be imported."""
    try:
        import gpaw
    except ImportError:
        raise DFTCodeMissing(INSTALL_HINT) from None
    return str(gpaw.__version__)


def compute_label(structure: Structure, settings: DFTSettings, log: str | None = None) -> Label:
    """Run the DFT code on one structure (in this process).

    The energy is the force-consistent (free) energy of the smeared electrons, the one whose
    derivatives the forces and stress are; an energy extrapolated to zero smearing is not.
    """
    from gpaw import GPAW

    version = require_code(settings)
    key = structure_key(structure)
    start = time.perf_counter()

    def failed(reason: str) -> Label:
        return Label(key, settings.sha256, "failed", reason, seconds=time.perf_counter() - start, code_version=version)

    atoms = structure.to_atoms(with_labels=False)
    try:
        atoms.calc = GPAW(**settings.gpaw_parameters(), txt=log)
        energy = float(atoms.get_potential_energy(force_consistent=True))
        forces = np.asarray(atoms.get_forces())
        stress = np.asarray(atoms.get_stress(voigt=False)) if structure.periodic else None
    except (OSError, MemoryError, ImportError):
        raise  # the machine or the installation (missing PAW setups, disk full): not this structure's label
    except Exception as exc:  # the code's own errors: no SCF convergence, a rejected structure, ...
        return failed(_reason(exc, settings))
    results = [np.asarray(energy), forces] + ([] if stress is None else [stress])
    if not all(bool(np.isfinite(r).all()) for r in results):
        return failed("the DFT code returned a non-finite energy, force or stress")
    return Label(
        key,
        settings.sha256,
        "ok",
        energy=energy,
        forces=forces.tolist(),
        stress=None if stress is None else stress.tolist(),
        seconds=time.perf_counter() - start,
        code_version=version,
    )


def _reason(exc: Exception, settings: DFTSettings) -> str:
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if "Convergence" in type(exc).__name__:
        message = f"the SCF did not converge within max_scf_steps={settings.max_scf_steps} {message}".strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass
class LabelRun:
    """What one ``label_structures`` call did."""

    labels: list[Label]  # in input order
    computed: int
    reused: int
    cores: int
    workers: int
    threads: int

    @property
    def failed(self) -> list[Label]:
        return [x for x in self.labels if not x.ok]


def cache_dir(out: str | os.PathLike[str], settings: DFTSettings) -> Path:
    return Path(out) / "labels" / settings.sha256[:16]


def read_cached(path: Path) -> Label | None:
    return Label.from_json(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else None


def label_structures(
    structures: Sequence[Structure],
    out: str | os.PathLike[str],
    settings: DFTSettings | None = None,
    *,
    workers: int | None = None,
    retry_failed: bool = False,
    report: Callable[[int, int, Structure, Label], None] | None = None,
) -> LabelRun:
    """Labels for ``structures``: cached ones read back, the rest computed by ``workers``
    processes (default: one per core); writes ``<out>/settings.json``, ``<out>/labelled.extxyz``
    (the labelled structures in input order) and ``<out>/failed.json`` (each failure, its reason)."""
    settings = settings or DFTSettings()
    require_code(settings)
    if not structures:
        raise DataFileError("no structures to label")
    cores = available_cores()
    workers = workers or cores
    if workers < 1 or workers > cores:
        raise CrosstrainError(f"--workers {workers}: choose 1 to {cores} (the cores this process may use)")
    folder = cache_dir(out, settings)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(Path(out) / "settings.json", json.dumps({**settings.to_dict(), "sha256": settings.sha256}, indent=1))
    keys = [structure_key(s) for s in structures]
    cached: dict[str, Label | None] = {k: read_cached(folder / f"{k}.json") for k in dict.fromkeys(keys)}
    todo = {k: i for i, k in enumerate(keys) if _needs_work(cached[k], retry_failed)}
    threads = 1  # GPAW without MPI gains little from BLAS threads on small cells and loses 7x on shared cores
    if todo:
        for k, label in _compute(structures, todo, settings, folder, workers, threads, report):
            cached[k] = label
    labels = [x for x in (cached[k] for k in keys) if x is not None]
    _write_outputs(Path(out), structures, labels)
    return LabelRun(labels, len(todo), len(structures) - len(todo), cores, workers, threads)


def _compute(
    structures: Sequence[Structure],
    todo: dict[str, int],
    settings: DFTSettings,
    folder: Path,
    workers: int,
    threads: int,
    report: Callable[[int, int, Structure, Label], None] | None,
) -> Iterator[tuple[str, Label]]:
    """Compute the labels of ``todo`` (key -> index) in spawned workers, each written as soon as it
    is done. If a worker dies (a crash or the OOM killer inside the DFT code) the pool breaks; the
    structures it left are run again one per fresh process, and the one that kills its process
    again gets a failed label with that reason, so a resumed run does not crash on it forever."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})  # children inherit it before numpy starts
    done = 0
    try:
        broken: list[str] = []
        for k, label in _pool(structures, todo, settings, folder, workers, threads):
            if label is None:
                broken.append(k)
                continue
            done += 1
            yield _keep(k, label, folder, done, len(todo), structures[todo[k]], report)
        for k in broken:
            _, label = next(_pool(structures, {k: todo[k]}, settings, folder, 1, threads))
            if label is None:
                label = Label(k, settings.sha256, "failed", "the DFT worker process died (a crash or out of memory)")
            done += 1
            yield _keep(k, label, folder, done, len(todo), structures[todo[k]], report)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _pool(
    structures: Sequence[Structure],
    todo: dict[str, int],
    settings: DFTSettings,
    folder: Path,
    workers: int,
    threads: int,
) -> Iterator[tuple[str, Label | None]]:
    """(key, label) as the workers finish; label None where the pool broke before it was done."""
    with spawn_pool(workers, threads) as pool:
        futures = {
            pool.submit(compute_label, structures[i], settings, str(folder / f"{k}.txt")): k for k, i in todo.items()
        }
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except BrokenProcessPool:
                yield futures[future], None


def _keep(
    k: str,
    label: Label,
    folder: Path,
    done: int,
    total: int,
    structure: Structure,
    report: Callable[[int, int, Structure, Label], None] | None,
) -> tuple[str, Label]:
    write_text(folder / f"{k}.json", label.to_json())
    if report:
        report(done, total, structure, label)
    return k, label


def _needs_work(label: Label | None, retry_failed: bool) -> bool:
    return label is None or (retry_failed and not label.ok)


def _write_outputs(out: Path, structures: Sequence[Structure], labels: Sequence[Label]) -> None:
    good = [lab.apply(s) for s, lab in zip(structures, labels) if lab.ok]
    target = out / "labelled.extxyz"
    if good:
        write_structures(target, good)
    elif target.exists():
        target.unlink()
    failures = [
        {"index": i, "source": s.source, "key": lab.key, "reason": lab.reason}
        for i, (s, lab) in enumerate(zip(structures, labels))
        if not lab.ok
    ]
    write_text(out / "failed.json", json.dumps(failures, indent=1))
