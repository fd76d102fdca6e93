"""Building the Stillinger-Weber data set on disk: resumable, parallel, deterministic.

Layout of the output folder::

    Si.extxyz, Ge.extxyz              every snapshot, ordered by temperature then time
    Si.train.extxyz, ... .valid, .test  the paper's per-temperature splits (10 / 5 / 50)
    splits.json                       the split indices into each element's file
    manifest.json                     parameters, protocol, seeds, LAMMPS version, counts, checksums
    parts/<hash>/Si_0300K.extxyz      one finished (element, temperature) job each

Each (element, temperature) job is written atomically to ``parts/`` as soon as it finishes, so a
killed run loses at most the jobs in flight; rerunning skips the finished ones. The part folder
is named by a hash of the parameters and protocol, so changed settings never reuse stale parts.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from crosstrain.data.extxyz import read_structures, write_structures
from crosstrain.data.manifest import FileEntry, write_json
from crosstrain.data.sw import (
    SWParameters,
    SWProtocol,
    job_seed,
    per_temperature_splits,
    protocol_hash,
    run_temperature,
    sw_parameters,
)
from crosstrain.io.hashing import sha256_file
from crosstrain.parallel import available_cores, spawn_pool, threads_per_worker
from crosstrain.provenance import Provenance, provenance
from crosstrain.schema import FLAT, OMIT_NONE, JSONRecord

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Generation(JSONRecord):
    """How the last run of :func:`build_sw_dataset` went: jobs, workers and times (s)."""

    jobs_total: int
    jobs_run_now: int
    workers: int
    threads_per_worker: int
    wall_seconds_now: float
    job_seconds_mean: float | None


@dataclass(frozen=True)
class SWManifest(JSONRecord):
    """A SW data set's ``manifest.json``: the parameters and protocol, the LAMMPS version, the seed
    of every job, each file's checksum and size, where it was made, and the last run's timing."""

    SCHEMA_VERSION: ClassVar[int] = 1

    dataset: str  # "stillinger-weber"
    parameters: dict[str, SWParameters]
    protocol: SWProtocol
    lammps_version: str
    seeds: dict[str, dict[str, int]]  # element -> temperature (K, as text) -> LAMMPS seed
    files: dict[str, FileEntry]
    provenance: Provenance = field(metadata=FLAT)
    generation: Generation | None = field(default=None, metadata=OMIT_NONE)


def _part_path(parts: Path, element: str, temperature: float) -> Path:
    return parts / f"{element}_{int(round(temperature)):04d}K.extxyz"


def _run_job(params: SWParameters, protocol: SWProtocol, temperature: float, path: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        structures = run_temperature(params, protocol, temperature, workdir=work)
    write_structures(path, structures)
    return path, time.perf_counter() - t0


def build_sw_dataset(
    out_dir: str | os.PathLike[str],
    elements: tuple[str, ...] = ("Si", "Ge"),
    protocol: SWProtocol | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> SWManifest:
    """Generate (or finish) the SW data set in ``out_dir``; returns the manifest."""
    from crosstrain.data.lammps import lammps_version

    protocol = protocol or SWProtocol()
    params = [sw_parameters(e) for e in elements]
    out = Path(out_dir)
    parts = out / "parts" / protocol_hash(params, protocol)
    parts.mkdir(parents=True, exist_ok=True)
    version = lammps_version()  # fails early, with an install hint, if LAMMPS is missing
    jobs = [(p, t) for p in params for t in protocol.temperatures]
    todo = [(p, t) for p, t in jobs if not _part_path(parts, p.element, t).exists()]
    workers = max(1, min(workers or available_cores(), len(todo) or 1))
    t0 = time.perf_counter()
    job_seconds: list[float] = []
    if todo:
        _run_jobs(todo, protocol, parts, workers, progress, job_seconds)
    manifest = _assemble(out, parts, params, protocol, version)
    mean_job = round(sum(job_seconds) / len(job_seconds), 3) if job_seconds else None
    generation = Generation(
        jobs_total=len(jobs),
        jobs_run_now=len(todo),
        workers=workers,
        threads_per_worker=threads_per_worker(workers),
        wall_seconds_now=round(time.perf_counter() - t0, 2),
        job_seconds_mean=mean_job,
    )
    manifest = replace(manifest, generation=generation)
    write_json(out / "manifest.json", manifest.to_json())
    return manifest


def _run_jobs(
    todo: list[tuple[SWParameters, float]],
    protocol: SWProtocol,
    parts: Path,
    workers: int,
    progress: bool,
    job_seconds: list[float],
) -> None:
    from crosstrain.progress import Progress

    every = math.ceil(len(todo) / 10)  # in a log, about ten lines
    with (
        Progress("SW data", len(todo), every=every, unit="job", enabled=progress) as bar,
        spawn_pool(workers) as pool,
    ):
        futures = {
            pool.submit(_run_job, p, protocol, t, str(_part_path(parts, p.element, t))): f"{p.element} {t:g} K"
            for p, t in todo
        }
        for done, fut in enumerate(as_completed(futures), 1):
            _, seconds = fut.result()
            job_seconds.append(seconds)
            bar.update(done, f"{futures[fut]} done")


def _assemble(out: Path, parts: Path, params: list[SWParameters], protocol: SWProtocol, version: str) -> SWManifest:
    files: dict[str, FileEntry] = {}
    splits_doc: dict[str, Any] = {}
    for p in params:
        structures = []
        for t in protocol.temperatures:
            structures += read_structures(_part_path(parts, p.element, t), require=("energy", "forces", "stress"))
        path = write_structures(out / f"{p.element}.extxyz", structures)
        files[path.name] = FileEntry(sha256_file(path), len(structures))
        splits = per_temperature_splits(protocol, p.element, list(protocol.temperatures))
        splits_doc[p.element] = splits
        for name in SPLITS:
            sp = write_structures(out / f"{p.element}.{name}.extxyz", [structures[i] for i in splits[name]])
            files[sp.name] = FileEntry(sha256_file(sp), len(splits[name]))
    write_json(
        out / "splits.json",
        {
            "rule": "per temperature, seeded permutation",
            "seed": protocol.seed,
            "per_temperature": {"train": protocol.n_train, "valid": protocol.n_valid, "test": protocol.n_test},
            "indices": splits_doc,
        },
    )
    files["splits.json"] = FileEntry(sha256_file(out / "splits.json"))
    return SWManifest(
        dataset="stillinger-weber",
        parameters={p.element: p for p in params},
        protocol=protocol,
        lammps_version=version,
        seeds={
            p.element: {f"{t:g}": job_seed(protocol.seed, p.element, t) for t in protocol.temperatures} for p in params
        },
        files=files,
        provenance=provenance(),
    )
