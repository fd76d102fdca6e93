"""``crosstrain study``: plan, run local workers with a live progress line, then write the report.

With ``workers=1`` the work runs in this process; with more, each worker is a separate
``crosstrain study worker`` process (its log in ``<dir>/logs/``) on the same storage, exactly as
workers on other machines would be. Killing this command at any moment loses no finished trial:
rerun it and it resumes (a killed trial is re-queued once its heartbeat is older than the grace
period, and continues from its last epoch).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from crosstrain.errors import CrosstrainError
from crosstrain.parallel import THREAD_VARIABLES, threads_per_worker
from crosstrain.study.progress import status_line, study_status
from crosstrain.study.results import write_results
from crosstrain.study.spec import StudySpec
from crosstrain.study.storage import GRACE_SECONDS, HEARTBEAT_SECONDS, default_storage_url
from crosstrain.study.worker import Log, Study, plan, run_worker


def worker_command(study: Study, url: str, *, threads: int, heartbeat: int, grace: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crosstrain.cli",
        "study",
        "worker",
        "--dir",
        str(study.folder),
        "--storage",
        url,
        "--name",
        study.spec.name,
        "--threads",
        str(threads),
        "--heartbeat",
        str(heartbeat),
        "--grace",
        str(grace),
    ]


def _run_processes(
    study: Study, url: str, workers: int, threads: int, heartbeat: int, grace: int, log: Log, progress: bool
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crosstrain.progress import live as live_display

    logs = study.folder / "logs"
    logs.mkdir(exist_ok=True)
    procs = []
    for i in range(workers):
        handle = open(logs / f"worker-{i}.log", "a", encoding="utf-8")  # noqa: SIM115 (closed below)
        cmd = worker_command(study, url, threads=threads, heartbeat=heartbeat, grace=grace)
        env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}  # never oversubscribe
        procs.append((subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env), handle))
    log(f"{workers} workers started ({threads} thread(s) each); logs in {logs}")
    columns = [
        TextColumn("study"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    ]
    try:
        live = progress and live_display()  # in a log, the status line below every two minutes instead
        with Progress(*columns, disable=not live) as bar:
            task = bar.add_task("", total=None)
            last_log = time.monotonic()
            while any(p.poll() is None for p, _ in procs):
                st = study_status(study)
                bar.update(task, total=st["total"], completed=st["done"], description=status_line(st))
                if time.monotonic() - last_log > 120:  # also for logs and terminals without a live bar
                    log(status_line(st))
                    last_log = time.monotonic()
                time.sleep(3)
    except KeyboardInterrupt:
        for p, _ in procs:
            p.terminate()
        raise
    finally:
        for _, h in procs:
            h.close()
    failed = [i for i, (p, _) in enumerate(procs) if p.returncode != 0]
    if failed:
        tail = (logs / f"worker-{failed[0]}.log").read_text(encoding="utf-8").strip().splitlines()[-1:]
        raise CrosstrainError(f"study worker(s) {failed} failed; see {logs} ({' '.join(tail)})")


def run_study(
    spec: StudySpec,
    folder: str | Path,
    storage_url: str | None = None,
    *,
    workers: int = 1,
    threads: int | None = None,
    log: Log = print,
    progress: bool = True,
    heartbeat: int = HEARTBEAT_SECONDS,
    grace: int = GRACE_SECONDS,
) -> dict[str, Any]:
    """Plan (or resume) the study in ``folder``, work through it, and write its results
    (``workers=0``: plan only, for workers started elsewhere)."""
    url = storage_url or default_storage_url(folder)
    t0 = time.perf_counter()
    study = plan(spec, folder, url, log=log, heartbeat=heartbeat, grace=grace)
    st = study_status(study)
    log(f"{spec.name}: {st['total']} trials, {st['done']} already done; storage {url}")
    if workers == 0:
        log("planned; start workers with 'crosstrain study worker'")
        return {"status": st, "planned_only": True}
    if workers == 1:
        run_worker(study, threads=threads, log=log)
    else:
        per = threads or threads_per_worker(workers)
        _run_processes(study, url, workers, per, heartbeat, grace, log, progress)
    st = study_status(study)
    doc = write_results(study, st, wall_seconds=round(time.perf_counter() - t0, 1))
    log(f"{spec.name}: {status_line(st)}; report {Path(folder) / 'report.md'}")
    return doc
