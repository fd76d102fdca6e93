"""The Optuna storage a study lives in, and the rules that make sharing it safe.

One crosstrain study is a family of Optuna studies in one storage, named after the spec::

    <name>/meta                       spec, data and source-model fingerprints (study user attrs)
    <name>/hpo/<strategy>/n<size>     the hyperparameter search of one cell
    <name>/final/<strategy>/n<size>   one trial per seed, retrained with the selected settings

Every unit of work is a trial that the planner *enqueues* once (``WAITING``); a worker takes one
by popping it, which the storage does atomically, so two workers never run the same trial. A
worker's trials carry a heartbeat; when a worker dies, the next worker to look marks its running
trial failed and enqueues it again with the same parameters, so no work is duplicated or lost
(except the killed trial's progress, and even that resumes from its checkpoint state).

SQLite needs one fix for this: Python's ``sqlite3`` starts transactions lazily, so two processes
can read the same ``WAITING`` trial before either writes. We make every transaction
``BEGIN IMMEDIATE`` (the SQLAlchemy recipe for serialisable SQLite), which turns the pop into a
true compare-and-set. PostgreSQL and MySQL get the same guarantee from Optuna's row locks.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from crosstrain.errors import ConfigError

#: the heartbeat a worker writes while it trains, and how long a silent worker is trusted (s)
HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 120


def default_storage_url(study_dir: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(study_dir).resolve() / 'optuna.db'}"


def _serialisable_sqlite(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections made before the hooks (table creation) are dropped


def open_storage(
    url: str,
    heartbeat: int = HEARTBEAT_SECONDS,
    grace: int = GRACE_SECONDS,
) -> Any:
    """An Optuna ``RDBStorage`` with heartbeats and re-enqueueing of trials of dead workers."""
    import optuna

    if "://" not in url:
        raise ConfigError(f"storage {url!r} is not a database URL (e.g. sqlite:///study.db, postgresql://...)")
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 120}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and used as documented
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat,
                grace_period=grace,
                heartbeat_stale_trial_callback=requeue_failed,
            )
    except Exception as exc:  # bad URL, missing driver, unreachable server
        raise ConfigError(f"cannot open Optuna storage {url!r}: {str(exc).splitlines()[0]}") from None
    if storage.engine.name == "sqlite":
        _serialisable_sqlite(storage.engine)
    return storage


def requeue_failed(study: Any, trial: Any) -> None:
    """Enqueue a dead worker's trial again: same job, same parameters (called once per stale trial)."""
    fixed = dict(trial.system_attrs.get("fixed_params") or {})
    params = {**fixed, **trial.params}
    attrs = {"job": trial.user_attrs.get("job"), "retry_of": trial.number}
    study.enqueue_trial(params, user_attrs={k: v for k, v in attrs.items() if v is not None})


def requeue_orphans(study: Any) -> int:
    """Fail and re-enqueue RUNNING trials that never wrote a heartbeat and started more than the
    grace period ago: their worker died between taking the trial and its first heartbeat, a window
    Optuna's own stale check skips (it only judges trials with a heartbeat). Returns how many."""
    from optuna.trial import TrialState

    storage = study._storage
    rdb = getattr(storage, "_backend", storage)  # Optuna wraps an RDBStorage in a cache
    grace = getattr(rdb, "grace_period", None)
    try:  # Optuna's RDB models: internal, so a change there only disables this check
        import sqlalchemy
        from optuna.storages._rdb import models

        session = rdb.scoped_session()
        try:
            now = session.execute(sqlalchemy.func.now()).scalar().replace(tzinfo=None)
            running = (
                session.query(models.TrialModel)
                .filter(models.TrialModel.state == TrialState.RUNNING, models.TrialModel.study_id == study._study_id)
                .all()
            )
            orphans = [
                t.trial_id
                for t in running
                if not t.heartbeats
                and t.datetime_start is not None
                and (now - t.datetime_start).total_seconds() > (grace or GRACE_SECONDS)
            ]
        finally:
            session.close()
    except Exception:  # noqa: BLE001
        return 0
    for trial_id in orphans:
        if storage.set_trial_state_values(trial_id, TrialState.FAIL):
            requeue_failed(study, storage.get_trial(trial_id))
    return len(orphans)


def cell_name(name: str, stage: str, strategy: str, *, size: int) -> str:
    return f"{name}/{stage}/{strategy}/n{size}"


def meta_name(name: str) -> str:
    return f"{name}/meta"
