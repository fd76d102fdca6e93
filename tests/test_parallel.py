"""Worker placement: threads per worker, and workers that end with a killed command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from crosstrain.errors import ConfigError
from crosstrain.parallel import plan_workers, threads_per_worker

PARENT = textwrap.dedent(
    """
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from crosstrain.parallel import worker_init

    if __name__ == "__main__":
        with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=worker_init,
                                 initargs=(1, os.getpid())) as pool:
            print(pool.submit(os.getpid).result(), flush=True)
            pool.submit(time.sleep, 120)
            time.sleep(120)
    """
)


def test_threads_per_worker_never_oversubscribes() -> None:
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(1, cores=8) == 8
    assert threads_per_worker(3, cores=8) == 2
    assert threads_per_worker(16, cores=2) == 1


def test_plan_workers_defaults_to_the_cores_and_refuses_more() -> None:
    assert plan_workers(None, jobs=10, cores=2) == 2
    assert plan_workers(None, jobs=1, cores=8) == 1  # never more workers than jobs
    assert plan_workers(1, jobs=10, cores=2) == 1
    with pytest.raises(ConfigError, match="--workers 3 is more than the 2 cores"):
        plan_workers(3, jobs=10, cores=2)
    with pytest.raises(ConfigError, match="at least 1"):
        plan_workers(0, jobs=10, cores=2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_ends_when_its_command_is_killed(tmp_path) -> None:
    """kill -9 of a labelling or SW-data command must not leave its worker computing on a core."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert _alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived its killed parent"
    finally:
        parent.kill()


def test_run_each_returns_every_job_by_name_here_and_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from crosstrain.parallel import available_cores, run_each

    monkeypatch.delenv("CROSSTRAIN_PROGRESS", raising=False)
    jobs = {"a": {"key": "CROSSTRAIN_PROGRESS"}, "b": {"key": "CROSSTRAIN_PROGRESS", "default": "x"}}
    assert run_each(os.getenv, jobs, workers=1) == {"a": None, "b": "x"}  # one worker: here, as it is
    if available_cores() < 2:
        pytest.skip("one core: run_each runs every job in this process")
    # two workers: spawned, their progress plain (never two live bars on one terminal) ...
    assert run_each(os.getenv, jobs, workers=2) == {"a": "plain", "b": "plain"}
    assert "CROSSTRAIN_PROGRESS" not in os.environ  # ... and this process's environment as it was
    with pytest.raises(FileNotFoundError):  # a worker's error reaches the caller
        run_each(os.stat, {"a": {"path": "/no/such/file"}, "b": {"path": "."}}, workers=2)


def test_say_pickles_and_prints_one_whole_line(capsys: pytest.CaptureFixture[str]) -> None:
    import pickle

    from crosstrain.progress import Say

    say = pickle.loads(pickle.dumps(Say("demo ")))
    long = "x" * 150
    say(f"a message {long}")
    assert capsys.readouterr().out == f"demo a message {long}\n"  # not wrapped at 80 columns
