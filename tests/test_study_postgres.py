"""Study workers on a real PostgreSQL server (Debian's ``postgresql`` package, started here).

Skipped where no server can start (no ``initdb`` on the machine, or no ``psycopg`` driver);
``.ci/run`` installs both, so CI runs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from test_study import FAST, TINY, _assert_each_job_once, _folder, _worker

pytest.importorskip("optuna")
pytest.importorskip("psycopg")


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("no PostgreSQL server binaries (apt install postgresql)")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="crosstrain-pg-")
    if os.geteuid() == 0:  # the server refuses to run as root: run it as Debian's postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", data, "-A", "trust", "-U", "crosstrain", "--no-sync"], **run)  # type: ignore[call-overload]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://crosstrain@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _trials(url: str) -> list:
    import optuna

    from crosstrain.study.storage import open_storage

    storage = open_storage(url)
    out = []
    for name in optuna.get_all_study_names(storage):
        if not name.endswith("/meta"):
            out += optuna.load_study(study_name=name, storage=storage).get_trials()
    return [t for t in out if t.user_attrs.get("job")]


def test_two_workers_on_postgres_one_killed_every_trial_runs_once(tmp_path, tiny_sw_data, postgres_url):
    from crosstrain.study.spec import spec_from_dict
    from crosstrain.study.worker import plan

    folder = _folder(tmp_path, tiny_sw_data)
    longer = {**TINY, "grid": {**TINY["grid"], "steps": 12}}  # enough work for both workers
    plan(spec_from_dict(longer), folder, postgres_url, log=lambda m: None, **FAST)
    victim, survivor = _worker(folder, "--storage", postgres_url), _worker(folder, "--storage", postgres_url)
    deadline = time.monotonic() + 180
    killed = False
    while time.monotonic() < deadline:  # kill one mid-study, while a trial of its own runs
        trials = _trials(postgres_url)
        mine = [
            t for t in trials if t.state.name == "RUNNING" and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")
        ]
        if sum(t.state.name == "COMPLETE" for t in trials) >= 2 and mine:
            os.kill(victim.pid, signal.SIGSTOP)  # frozen, it cannot finish the trial between look and kill
            time.sleep(0.5)  # ... but a commit it sent just before may still be landing: let it, then look
            if any(t.number == mine[0].number and t.state.name == "RUNNING" for t in _trials(postgres_url)):
                os.kill(victim.pid, signal.SIGKILL)
                killed = True
                break
            os.kill(victim.pid, signal.SIGCONT)
        time.sleep(0.05)
    victim.wait()
    out = survivor.communicate(timeout=300)[0]  # it waits out the dead worker's heartbeat, then reruns its trial
    assert killed and survivor.returncode == 0, out
    trials = _trials(postgres_url)
    _assert_each_job_once(trials)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) == 1 and failed[0].user_attrs["worker"].endswith(f":{victim.pid}")
    assert [t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs] == [failed[0].number]
