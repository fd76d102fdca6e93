"""What a study is doing: trials done, running and queued, and an estimate of the time left.

The estimate is the mean duration of finished trials of each stage times the trials still to
run, divided by the number of trials running now (the workers at work).
"""

from __future__ import annotations

from typing import Any

from crosstrain.study.worker import Study


def study_status(study: Study) -> dict[str, Any]:
    from optuna.trial import TrialState

    stages: dict[str, dict[str, Any]] = {}
    running_jobs: list[str] = []
    for stage in ("hpo", "final"):
        counts: dict[str, Any] = {"total": 0, "done": 0, "running": 0, "waiting": 0, "failed": 0}
        seconds: list[float] = []
        for strategy, size in study.cells():
            for t in study.load(stage, strategy, size).get_trials(deepcopy=False):
                if not t.user_attrs.get("job"):
                    continue
                if t.state == TrialState.FAIL:  # a failed trial is counted by its retry, if any
                    counts["failed"] += 1
                    continue
                counts["total"] += 1
                if t.state == TrialState.RUNNING:
                    counts["running"] += 1
                    running_jobs.append(t.user_attrs["job"])
                elif t.state == TrialState.WAITING:
                    counts["waiting"] += 1
                else:
                    counts["done"] += 1
                    if t.datetime_complete and t.datetime_start:
                        seconds.append((t.datetime_complete - t.datetime_start).total_seconds())
        counts["mean_seconds"] = sum(seconds) / len(seconds) if seconds else None
        counts["trial_seconds"] = sum(seconds)
        stages[stage] = counts
    return _with_eta(stages, running_jobs)


def _with_eta(stages: dict[str, dict[str, Any]], running_jobs: list[str]) -> dict[str, Any]:
    left = 0.0
    means = [c["mean_seconds"] for c in stages.values() if c["mean_seconds"] is not None]
    known = bool(means)  # a stage without finished trials borrows the other's mean duration
    for c in stages.values():
        remaining = c["waiting"] + 0.5 * c["running"]
        mean = c["mean_seconds"] if c["mean_seconds"] is not None else (max(means) if means else 0.0)
        left += remaining * mean
    workers = max(1, len(running_jobs))
    return {
        "stages": stages,
        "total": sum(c["total"] for c in stages.values()),
        "done": sum(c["done"] for c in stages.values()),
        "running": running_jobs,
        "trial_seconds": sum(c["trial_seconds"] for c in stages.values()),
        "eta_seconds": left / workers if known else None,
    }


def status_line(status: dict[str, Any]) -> str:
    h, f = status["stages"]["hpo"], status["stages"]["final"]
    eta = status["eta_seconds"]
    eta_text = "unknown" if eta is None else f"{eta / 60:.0f} min"
    return (
        f"search {h['done']}/{h['total']}, retraining {f['done']}/{f['total']}, "
        f"running {len(status['running'])}, time left ~{eta_text}"
    )
