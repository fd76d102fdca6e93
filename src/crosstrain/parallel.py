"""Placing parallel workers and their threads together, so that they never oversubscribe.

A command that starts ``workers`` processes on a machine with ``cores`` cores gives each
``max(1, cores // workers)`` threads, whatever ``OMP_NUM_THREADS`` the user's environment says
(on clusters it is often set for a whole node): two LAMMPS workers with two OpenMP threads each on
two cores run 3.6x slower than with one each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    return max(1, (cores or available_cores()) // max(1, workers))


def plan_workers(requested: int | None, jobs: int, *, threads: int | None = None, cores: int | None = None) -> int:
    """Workers for ``jobs`` independent jobs: the ``requested`` number (default: every core), at
    most one per job. Asking for more workers (times ``threads`` each) than there are cores is
    refused with one line: they would only take turns on the cores, each slower than alone."""
    from crosstrain.errors import ConfigError

    cores = cores or available_cores()
    if requested is not None and requested < 1:
        raise ConfigError(f"--workers must be at least 1, got {requested}")
    if requested is not None and requested * (threads or 1) > cores:
        each = f" x {threads} threads" if threads and threads > 1 else ""
        raise ConfigError(f"--workers {requested}{each} is more than the {cores} cores this process may use")
    return max(1, min(requested or cores, jobs))


def limit_threads(threads: int) -> None:
    """Set this process's thread count for OpenMP (LAMMPS), BLAS and torch; a worker initialiser
    (it must run before those libraries start their thread pools, so use spawned processes)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def worker_init(threads: int, parent: int) -> None:
    """Initialiser of a spawned worker: :func:`limit_threads`, and end with the parent process
    ``parent``. A worker of a killed command must not go on computing (a DFT calculation can
    take minutes) and compete for the cores with the command's resumed run: on Linux the kernel
    sends it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``)."""
    limit_threads(threads)
    import signal
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def spawn_pool(workers: int, threads: int | None = None) -> ProcessPoolExecutor:
    """``workers`` spawned processes (fresh thread pools), each limited to ``threads`` threads
    (default: its share of the cores) and ending with this process (:func:`worker_init`)."""
    from multiprocessing import get_context

    threads = threads or threads_per_worker(workers)
    return ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=worker_init, initargs=(threads, os.getpid())
    )


def run_each(
    fn: Callable[..., Any], jobs: Mapping[str, Mapping[str, Any]], *, workers: int | None = None
) -> dict[str, Any]:
    """``fn(**kwargs)`` for each named job, in spawned workers (default: one per core, at most one
    per job, each with its share of the threads) or here when that is one worker. Independent
    small-model jobs (one training or MD run each) gain almost twice on two cores, where one job
    alone keeps the second core idle. ``fn`` and the arguments must pickle; in workers, progress
    displays print whole lines (``CROSSTRAIN_PROGRESS=plain``) so that two never share a terminal
    line. The first failing job's exception is raised, after the others finished."""
    from crosstrain.progress import PLAIN_VARIABLE

    workers = plan_workers(workers, len(jobs))
    if workers <= 1:
        return {name: fn(**kwargs) for name, kwargs in jobs.items()}
    saved = os.environ.get(PLAIN_VARIABLE)
    os.environ[PLAIN_VARIABLE] = "plain"  # spawned workers inherit the environment at their start
    try:
        with spawn_pool(workers) as pool:
            futures = {name: pool.submit(fn, **kwargs) for name, kwargs in jobs.items()}
            return {name: f.result() for name, f in futures.items()}
    finally:
        if saved is None:
            os.environ.pop(PLAIN_VARIABLE, None)
        else:
            os.environ[PLAIN_VARIABLE] = saved
