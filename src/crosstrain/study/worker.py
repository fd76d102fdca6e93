"""Planning a study and working through it: any number of workers on one Optuna storage.

:func:`plan` (run once, by ``crosstrain study``) builds the data, trains or checks the source
model, records fingerprints and enqueues every trial; it is idempotent, so rerunning it resumes.
:func:`run_worker` (``crosstrain study worker``, any number, any machine that sees the study
folder and the storage) pops trials until none is left: finished cells' retraining first, then
searches. See :mod:`crosstrain.study.storage` for why no trial runs twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.config import STRATEGY_SETTING_NAMES, Strategy, config_from_dict
from crosstrain.errors import ConfigError
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import is_finished, load_checkpoint
from crosstrain.io.hashing import sha256_file
from crosstrain.species import to_atomic_number
from crosstrain.study.data import StudyData, build_data, data_fingerprint, load_data, resolve_sizes
from crosstrain.study.jobs import model_path, run_active_job, run_job, start_of
from crosstrain.study.spec import SearchParam, StudySpec, arm_settings, spec_from_dict
from crosstrain.study.storage import cell_name, meta_name, open_storage, requeue_orphans

Log = Callable[[str], None]


@dataclass
class Study:
    """A planned study: its spec, folder, storage and resolved grid."""

    spec: StudySpec
    folder: Path
    storage: Any
    sizes: list[int]
    source: Path | None

    def cells(self) -> list[tuple[str, int]]:
        return [(strategy, size) for size in self.sizes for strategy in self.spec.strategies]

    def load(self, stage: str, strategy: str, size: int, *, sampler: Any = None) -> Any:
        import optuna

        return optuna.load_study(
            study_name=cell_name(self.spec.name, stage, strategy, size=size), storage=self.storage, sampler=sampler
        )


def prepare_source(spec: StudySpec, folder: Path, data: StudyData, *, log: Log) -> Path:
    """The source-element model: the spec's checkpoint (checked) or one trained here (resumable)."""
    given = spec.source.get("checkpoint")
    if given:
        from crosstrain.pretrained import resolve_model

        path = resolve_model(Path(given).expanduser()).resolve()  # a path or a shipped model's name
        ck = load_checkpoint(path)
        if to_atomic_number(spec.source_element) not in ck.model.species:
            raise ConfigError(f"{path}: source checkpoint does not know {spec.source_element}")
        return path
    path = folder / "source" / f"{spec.source_element}.ckpt"
    if is_finished(path):
        log(f"source model: reusing {path}")
        return path
    from crosstrain.train.pipeline import fit

    model = arm_settings(spec, spec.arms[0])["model"]  # the grid's model (the recipe's and the spec's)
    config = config_from_dict({"model": model, "train": spec.source.get("train") or {}})
    log(f"source model: training on {len(data.source_train)} {spec.source_element} structures")
    fit(config, data.source_train, path, valid=data.source_valid, resume=True, progress=True)
    return path


def _enqueue(study: Any, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    have = {t.user_attrs.get("job") for t in study.get_trials(deepcopy=False)}
    for job, params in jobs:
        if job not in have:
            study.enqueue_trial(params, user_attrs={"job": job})


def _base_point(spec: StudySpec, arm: str) -> dict[str, Any]:
    """The arm's own settings as the first search trial, for every dimension they fall inside."""
    point: dict[str, Any] = {}
    settings = arm_settings(spec, spec.arm(arm))
    for p in search_space(spec, arm):
        value = spec.steps if p.name == "steps" else settings["train"].get(p.name, settings["transfer"].get(p.name))
        if p.choices is not None and value in p.choices:
            point[p.name] = value
        elif p.choices is None and isinstance(value, int | float) and p.bounds[0] <= value <= p.bounds[1]:
            point[p.name] = int(value) if p.integer else float(value)
    return point


def startup_trials(spec: StudySpec) -> int:
    """Search trials planned at plan time (the spec's point, then seeded random points) before TPE
    takes over: Optuna's own ``n_startup_trials`` default, 10. With fewer points of history TPE's
    proposal is a random draw whose seed and history depend on the workers' timing, which made
    two runs of one small study choose different settings (seen on sw-quick with 3 trials); planned
    points make a small search reproducible."""
    return min(spec.trials, 10)


def search_space(spec: StudySpec, arm: str) -> list[SearchParam]:
    """The search dimensions that apply to an arm: a strategy's own settings (``l2sp_alpha`` for
    l2sp, ...) only to arms of that strategy."""
    others = STRATEGY_SETTING_NAMES - set(Strategy(spec.arm(arm).strategy).settings)
    return [p for p in spec.space if p.name not in others]


def _random_point(spec: StudySpec, strategy: str, size: int, k: int) -> dict[str, Any]:
    """The ``k``-th seeded random point of a cell's search space: the same for every run and worker."""
    key = f"{spec.search_seed}:{strategy}:{size}:{k}".encode()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
    point: dict[str, Any] = {}
    for p in search_space(spec, strategy):
        if p.choices is not None:
            point[p.name] = p.choices[int(rng.integers(len(p.choices)))]
            continue
        low, high = p.bounds
        u = rng.uniform(np.log(low), np.log(high)) if p.log else rng.uniform(low, high)
        value = float(np.exp(u)) if p.log else float(u)
        point[p.name] = int(round(value)) if p.integer else value
    return point


def _search_jobs(spec: StudySpec, strategy: str, size: int) -> list[tuple[str, dict[str, Any]]]:
    """Trial 0: the spec's own settings; then seeded random points; then TPE's proposals ({})."""
    jobs = []
    for k in range(spec.trials):
        if k == 0:  # dimensions the spec's settings leave open (or put out of bounds): seeded too
            params = {**_random_point(spec, strategy, size, 0), **_base_point(spec, strategy)}
        elif k < startup_trials(spec):
            params = _random_point(spec, strategy, size, k)
        else:
            params = {}
        jobs.append((f"hpo/{strategy}/n{size}/{k}", params))
    return jobs


def plan(spec: StudySpec, folder: str | Path, storage_url: str, *, log: Log = print, **storage_kw: Any) -> Study:
    """Build data and source model, record fingerprints and enqueue every trial (idempotent)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    storage = open_storage(storage_url, **storage_kw)
    meta = optuna.create_study(study_name=meta_name(spec.name), storage=storage, load_if_exists=True)
    planned = meta.user_attrs.get("spec")  # read back through today's schema: older studies resume
    if planned is not None and spec_from_dict(json.loads(planned)).to_json() != spec.to_json():
        raise ConfigError(
            f"storage {storage_url} already holds a study {spec.name!r} with another spec; "
            "rerun with the same spec to resume, or use a new --dir/--storage or spec name"
        )
    write_text(folder / "spec.yaml", spec.to_yaml())
    meta.set_user_attr("spec", spec.to_json())
    log(f"data: {spec.data['kind']} {spec.source_element} -> {spec.target_element} in {folder / 'data'}")
    build_data(spec, folder)
    data = load_data(spec, folder)
    sizes = resolve_sizes(spec, len(data.pool))
    source = prepare_source(spec, folder, data, log=log) if spec.needs_source else None
    for strategy, size in [(st, n) for n in sizes for st in spec.strategies]:
        hpo = optuna.create_study(
            study_name=cell_name(spec.name, "hpo", strategy, size=size), storage=storage, load_if_exists=True
        )
        _enqueue(hpo, _search_jobs(spec, strategy, size))
        final = optuna.create_study(
            study_name=cell_name(spec.name, "final", strategy, size=size), storage=storage, load_if_exists=True
        )
        _enqueue(final, [(f"final/{strategy}/n{size}/seed{s}", {"seed": s}) for s in range(spec.seeds)])
    meta.set_user_attr("sizes", sizes)
    meta.set_user_attr("data_fingerprint", data_fingerprint(spec, folder))
    meta.set_user_attr("source_sha256", sha256_file(source) if source else None)
    meta.set_user_attr("source", str(source) if source else None)
    meta.set_user_attr("ready", True)
    return Study(spec, folder, storage, sizes, source)


def attach(
    folder: str | Path,
    storage_url: str,
    *,
    name: str | None = None,
    wait: float = 0.0,
    log: Log = print,
    **storage_kw: Any,
) -> Study:
    """Join a planned study (waiting up to ``wait`` seconds for the planner); checks the data."""
    import optuna

    folder = Path(folder).resolve()
    if storage_url.startswith("sqlite:///") and not Path(storage_url[len("sqlite:///") :]).exists():
        raise ConfigError(f"no study storage at {storage_url}: run 'crosstrain study --spec ... --dir {folder}' first")
    storage = open_storage(storage_url, **storage_kw)
    if name is None:
        metas = [n for n in optuna.get_all_study_names(storage) if n.endswith("/meta")]
        if len(metas) != 1:
            raise ConfigError(f"storage {storage_url} holds {len(metas)} studies; name one with --name")
        name = metas[0][: -len("/meta")]
    deadline = time.monotonic() + wait
    while True:
        try:
            meta = optuna.load_study(study_name=meta_name(name), storage=storage)
        except KeyError:
            meta = None
        if meta is not None and meta.user_attrs.get("ready"):
            break
        if time.monotonic() >= deadline:
            raise ConfigError(f"study {name!r} in {storage_url} is not planned yet: run 'crosstrain study' first")
        log("waiting for the planner ...")
        time.sleep(5)
    attrs = meta.user_attrs
    spec = spec_from_dict(json.loads(attrs["spec"]))
    if not (folder / "data").is_dir():
        raise ConfigError(f"{folder}: no study data here; workers need the study folder (e.g. on a shared filesystem)")
    if data_fingerprint(spec, folder) != attrs["data_fingerprint"]:
        raise ConfigError(f"{folder / 'data'}: the data differ from those the study was planned with")
    source = _planned_source(spec, attrs)
    if source is not None and sha256_file(source) != attrs["source_sha256"]:
        raise ConfigError(f"{source}: the source model differs from the one the study was planned with")
    return Study(spec, folder, storage, list(attrs["sizes"]), source)


def _planned_source(spec: StudySpec, attrs: dict[str, Any]) -> Path | None:
    """The source model the study was planned with: its recorded path, or, where that is gone (a
    shipped parent of another installation, a moved checkout), the spec's checkpoint resolved here
    again; the caller checks that it is the same model by its checksum."""
    if not attrs.get("source"):
        return None
    recorded = Path(attrs["source"])
    if recorded.is_file():
        return recorded
    given = spec.source.get("checkpoint")
    if given:
        from crosstrain.errors import CheckpointError
        from crosstrain.pretrained import resolve_model

        try:
            return resolve_model(Path(given).expanduser()).resolve()
        except CheckpointError:
            pass
    raise ConfigError(f"{recorded}: the study's source model is gone (planned with it; give it back at that path)")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _sampler(study: Study, strategy: str, size: int, k: int) -> Any:
    """TPE for the proposals after the planned points; seeded per worker and job (``k``), since
    which history it sees depends on the workers' timing anyway."""
    import optuna

    key = f"{study.spec.search_seed}:{strategy}:{size}:{k}:{worker_id()}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:4], "little")
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(study.spec))


def suggest(trial: Any, spec: StudySpec, strategy: str) -> dict[str, Any]:
    """Sample (or, for an enqueued point, read back) the search-space settings of one trial."""
    params: dict[str, Any] = {}
    for p in search_space(spec, strategy):
        if p.choices is not None:
            params[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.integer:
            params[p.name] = trial.suggest_int(p.name, int(p.bounds[0]), int(p.bounds[1]), log=p.log)
        else:
            params[p.name] = trial.suggest_float(p.name, *p.bounds, log=p.log)
    return params


def selected_params(study: Study, strategy: str, size: int) -> tuple[dict[str, Any], int | None]:
    """The best finished search trial's settings; the spec's base settings (and ``None``) when there
    is no search or every search trial diverged."""
    from optuna.trial import TrialState

    if study.spec.trials == 0:
        return {}, None
    trials = study.load("hpo", strategy, size).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    scored = [t for t in trials if t.user_attrs.get("job") and t.value is not None and t.value < float("inf")]
    if not scored:  # every search trial diverged: retrain with the spec's own settings (recorded)
        return {}, None
    best = min(scored, key=lambda t: (t.value, t.number))
    return dict(best.params), best.number


def _objective(study: Study, data: StudyData, stage: str, strategy: str, size: int, log: Log) -> Callable:
    import optuna

    from crosstrain.train.loop import TrainingDiverged

    spec = study.spec

    def objective(trial: Any) -> float:
        job = trial.user_attrs.get("job")
        if job is None:  # another worker took the last queued trial first: nothing to do
            raise optuna.TrialPruned("not a queued trial")
        if stage == "hpo":
            params, seed, hpo_number = suggest(trial, spec, strategy), spec.search_seed, None
            out = study.folder / "models" / strategy / f"n{size}" / f"hpo-{job.rsplit('/', 1)[1]}.ckpt"
        else:
            seed = trial.suggest_int("seed", 0, spec.seeds - 1)
            params, hpo_number = selected_params(study, strategy, size)
            out = model_path(study.folder, strategy, size=size, seed=seed)
            for k, v in params.items():
                trial.set_user_attr(f"hp_{k}", v)
        trial.set_user_attr("worker", worker_id())
        trial.set_user_attr("hpo_trial", hpo_number)
        begin = start_of(spec, strategy, source=study.source, folder=study.folder, size=size, seed=seed)
        t0 = time.perf_counter()
        try:
            if begin is not None and spec.arm(strategy).after is not None and not is_finished(begin):
                raise TrainingDiverged(f"its earlier stage {spec.arm(strategy).after} has no model for seed {seed}")
            if spec.arm(strategy).active is not None:  # an active-learning run: its own folder
                folder = out.with_suffix("")
                row = run_active_job(spec, data, start=begin, arm=strategy, budget=size, seed=seed, out=folder)
            else:
                row = run_job(
                    spec,
                    data,
                    start=begin,
                    arm=strategy,
                    size=size,
                    seed=seed,
                    params=params,
                    out=out,
                    test=stage == "final",
                )
        except TrainingDiverged as exc:
            trial.set_user_attr("diverged", str(exc))
            log(f"{job}: diverged ({exc})")
            return float("inf")
        row["seconds"] = round(time.perf_counter() - t0, 2)
        for k, v in row.items():
            trial.set_user_attr(k, v)
        value = row.get(f"valid_{spec.metric}", row.get(f"test_{spec.metric}"))  # active runs have no valid set
        log(
            f"{job}: valid {spec.metric} {value:.4g}"
            + (f", test force MAE {row['test_force_mae']:.4f} eV/Å" if stage == "final" else "")
            + f" ({row['seconds']:.0f} s)"
        )
        return float("inf") if value is None else float(value)

    return objective


def _scan(study: Study) -> tuple[list[tuple[str, str, int]], bool]:
    """Cells with queued trials that may run now (retraining first, then the least-searched
    searches; a further stage once its earlier arm's models of that size are all finished or
    diverged), and whether any trial is running elsewhere. Fails stale trials on the way."""
    import optuna
    from optuna.trial import TrialState

    states: dict[tuple[str, str, int], list[Any]] = {}
    for strategy, size in study.cells():  # every cell's trial states, read once
        for stage in ("hpo", "final"):
            s = study.load(stage, strategy, size)
            found = [t.state for t in s.get_trials(deepcopy=False) if t.user_attrs.get("job")]
            if TrialState.RUNNING in found:
                optuna.storages.fail_stale_trials(s)  # a dead worker's trial goes back to the queue
                requeue_orphans(s)  # ... also one that died before its first heartbeat
                found = [t.state for t in s.get_trials(deepcopy=False) if t.user_attrs.get("job")]
            states[stage, strategy, size] = found
    ended = (TrialState.COMPLETE, TrialState.FAIL)
    finals, searches = [], []
    running = any(TrialState.RUNNING in v for v in states.values())
    for strategy, size in study.cells():
        after = study.spec.arm(strategy).after
        start = states["final", after, size] if after is not None else None
        if start is not None and not (start and all(x in ended for x in start)):
            running = True  # a further stage waits for its start
            continue
        hpo, final = states["hpo", strategy, size], states["final", strategy, size]
        waiting = hpo.count(TrialState.WAITING)
        if waiting == 0 and TrialState.RUNNING not in hpo and TrialState.WAITING in final:
            finals.append(("final", strategy, size))
        if waiting > 0:
            searches.append((len(hpo) - waiting - hpo.count(TrialState.RUNNING), ("hpo", strategy, size)))
    return finals + [job for _, job in sorted(searches, key=lambda x: x[0])], running


def run_worker(
    study: Study, *, threads: int | None = None, poll: float = 5.0, log: Log = print, max_jobs: int | None = None
) -> int:
    """Work until the study is finished (or ``max_jobs`` trials ran); returns the trials run."""
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats
    if threads:
        torch.set_num_threads(threads)
    data = load_data(study.spec, study.folder)
    done = 0
    while max_jobs is None or done < max_jobs:
        ready, running = _scan(study)
        if not ready:
            if not running:
                break
            time.sleep(poll)
            continue
        stage, strategy, size = ready[0]
        sampler = _sampler(study, strategy, size, done) if stage == "hpo" else None
        cell = study.load(stage, strategy, size, sampler=sampler)
        cell.optimize(_objective(study, data, stage, strategy, size, log), n_trials=1, catch=())
        done += 1
    return done
