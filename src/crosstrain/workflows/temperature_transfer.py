"""Temperature transferability (paper Figure 4): train on one structure at one temperature, test
at every temperature.

From a SW data folder (``crosstrain data sw``): ``models`` target-element structures at the
training temperature (a seeded draw from the training pool; the paper trains five models, each
on its own structure) each train a ``full`` transfer model and a ``scratch`` model with
identical settings and the source's architecture; model selection uses only the validation
structures at that same temperature, so nothing from other temperatures leaks in. Every model's
force error on every test structure (up to ``per_temperature`` per temperature) is pooled per
arm into one box per temperature; per temperature the report gives the median over models of
each model's median error and on how many of the picks ``full`` beat ``scratch`` (paired by
pick). An optional reference model (e.g. trained on the whole data set) joins the plot. Models
are cached in ``out``; a rerun only redoes the evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crosstrain.config import config_from_dict
from crosstrain.data.extxyz import read_structures
from crosstrain.errors import DataFileError
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import is_finished, load_checkpoint
from crosstrain.pretrained import resolve_model
from crosstrain.provenance import Provenance, provenance
from crosstrain.schema import FLAT, JSONRecord
from crosstrain.structure import Structure

#: per model or arm, per test temperature (K, as text): numbers (eV/Å)
ByTemperature = dict[str, dict[str, tuple[float, ...]]]


@dataclass(frozen=True)
class TemperatureTransferResult(JSONRecord):
    """What :func:`temperature_transfer` measured (``temperature_transfer.json``): per arm and test
    temperature, each model's median force error, their median, and every structure's error;
    on how many picks ``full`` beat ``scratch`` at each temperature."""

    SCHEMA_VERSION: ClassVar[int] = 1

    element: str
    train_temperature: float  # K, the data's temperature nearest the one asked for
    models_per_arm: int
    train_structures: tuple[str, ...]  # the picked structure of each model (its source)
    full_better_on_picks: dict[str, str]  # temperature -> "k of n"
    per_model_median_force_mae: ByTemperature  # arm -> temperature -> one median per model
    steps: int
    n_valid: int
    n_test: int
    median_force_mae: dict[str, dict[str, float]]  # arm (and "reference") -> temperature -> median
    full_better_at: str
    per_structure_force_mae: ByTemperature  # arm -> temperature -> pooled per-structure errors
    provenance: Provenance = field(metadata=FLAT)


def _at(structures: list[Structure], temperature: float, source: str) -> list[Structure]:
    temps = sorted({float(s.info["temperature"]) for s in structures if "temperature" in s.info})
    if not temps:
        raise DataFileError(f"{source}: structures carry no 'temperature'")
    nearest = min(temps, key=lambda t: abs(t - temperature))
    return [s for s in structures if float(s.info.get("temperature", -1)) == nearest]


def _per_temperature(structures: list[Structure], k: int, seed: int) -> list[Structure]:
    rng = np.random.default_rng(seed)
    by_t: dict[float, list[Structure]] = {}
    for s in structures:
        by_t.setdefault(float(s.info["temperature"]), []).append(s)
    return [by_t[t][i] for t in sorted(by_t) for i in sorted(rng.permutation(len(by_t[t]))[:k])]


def _train(name: str, ckpt: Path, log: Callable[[str], None], **kwargs: Any) -> None:
    from crosstrain.train.pipeline import fit

    if is_finished(ckpt):
        log(f"{name}: reusing {ckpt}")
        return
    log(f"{name}: training")
    fit(out=ckpt, resume=True, progress=False, **kwargs)


def _model_errors(
    name: str, ckpt: Path, train: dict[str, Any], test: list[Structure], log: Callable[[str], None] = print
) -> dict[str, list[float]]:
    """Train one model (or reuse its finished checkpoint) and return its per-structure force
    errors by test temperature; one job of a worker process."""
    from crosstrain.analysis.transferability import by_temperature

    _train(name, ckpt, log, **train)
    return by_temperature({name: load_checkpoint(ckpt).model}, test)[name]


def _log_flushed(message: str) -> None:
    print(message, flush=True)


def temperature_transfer(
    data: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    element: str = "Ge",
    source_element: str = "Si",
    train_temperature: float = 2000.0,
    per_temperature: int = 50,
    steps: int = 300,
    lr: float = 2e-3,
    seed: int = 0,
    reference: str | Path | None = None,
    log: Callable[[str], None] = print,
    models: int = 5,
    workers: int = 1,
) -> TemperatureTransferResult:
    """The experiment; ``workers`` processes train and evaluate the models side by side (the
    machine's cores divided among them, :mod:`crosstrain.parallel`; their progress lines go to
    standard output, not ``log``)."""
    from crosstrain.analysis.transferability import boxplot, by_temperature

    d, folder = Path(data), Path(out)
    pool = _at(read_structures(d / f"{element}.train.extxyz"), train_temperature, str(d))
    valid = _at(read_structures(d / f"{element}.valid.extxyz"), train_temperature, str(d))
    test = _per_temperature(read_structures(d / f"{element}.test.extxyz"), per_temperature, seed)
    if not 1 <= models <= len(pool):
        raise DataFileError(f"{d}: {len(pool)} training structures at that temperature, {models} models asked for")
    picks = [pool[int(i)] for i in np.random.default_rng(seed).permutation(len(pool))[:models]]
    t_train = float(picks[0].info["temperature"])
    jobs = _arm_jobs(picks, valid, source, folder, element, source_element, steps, lr, seed)
    from crosstrain.parallel import plan_workers

    workers = plan_workers(workers, len(jobs))  # more workers than cores is refused from Python too
    log(f"{len(jobs)} models, each trained and evaluated on {len(test)} test structures, on {workers} worker(s)")
    each = _run_jobs(jobs, test, workers, log)
    if reference is not None:
        each.update(by_temperature({"reference": load_checkpoint(reference).model}, test))
    errors = {arm: _pooled(each, arm) for arm in ("full", "scratch", "reference") if _pooled(each, arm)}
    boxplot(
        errors,
        folder / "force_by_temperature.png",
        f"{element}: {models} models per arm, each trained on one structure at {t_train:g} K",
    )
    per_model = {
        arm: {t: tuple(float(np.median(each[f"{arm} {k}"][t])) for k in range(models)) for t in each[f"{arm} 0"]}
        for arm in ("full", "scratch")
    }
    medians = {arm: {t: float(np.median(v)) for t, v in m.items()} for arm, m in per_model.items()}
    if "reference" in each:
        medians["reference"] = {t: float(np.median(v)) for t, v in each["reference"].items()}
    better = {t: sum(f < s for f, s in zip(per_model["full"][t], per_model["scratch"][t])) for t in per_model["full"]}
    wins, unanimous = sum(2 * b > models for b in better.values()), sum(b == models for b in better.values())
    result = TemperatureTransferResult(
        element=element,
        train_temperature=t_train,
        models_per_arm=models,
        train_structures=tuple(str(p.source) for p in picks),
        full_better_on_picks={t: f"{b} of {models}" for t, b in better.items()},
        per_model_median_force_mae=per_model,
        steps=steps,
        n_valid=len(valid),
        n_test=len(test),
        median_force_mae=medians,
        full_better_at=f"{wins} of {len(better)} temperatures (majority of {models} picks; all at {unanimous})",
        per_structure_force_mae={arm: {t: tuple(v) for t, v in by_t.items()} for arm, by_t in errors.items()},
        provenance=provenance(),
    )
    write_text(folder / "temperature_transfer.json", json.dumps(result.to_json(), indent=2))
    _report(result, folder)
    return result


def _arm_jobs(
    picks: list[Structure],
    valid: list[Structure],
    source: str | Path,
    folder: Path,
    element: str,
    source_element: str,
    steps: int,
    lr: float,
    seed: int,
) -> list[tuple[str, Path, dict[str, Any]]]:
    """``(name, checkpoint, fit arguments)``: one ``full`` and one ``scratch`` model per picked
    structure (same network, same seed; scratch ignores the parent)."""
    every = max(1, steps // 10)
    architecture = asdict(load_checkpoint(resolve_model(source)).model.config)  # scratch gets the same network
    jobs = []
    for k, pick in enumerate(picks):
        for strategy in ("full", "scratch"):
            cfg = config_from_dict(
                {
                    "model": architecture,
                    "train": {
                        "epochs": steps,
                        "batch_size": 1,
                        "lr": lr,
                        "lr_decay": 0.1,
                        "seed": seed + k,
                        "valid_every": every,
                    },
                    "transfer": {"strategy": strategy},
                }
            )
            train = {
                "config": cfg,
                "data": [pick],
                "valid": valid,
                "parent": source,
                "element_map": {element: source_element},
            }
            jobs.append((f"{strategy} {k}", folder / f"{element}_{strategy}_{k}.ckpt", train))
    return jobs


def _run_jobs(
    jobs: list[tuple[str, Path, dict[str, Any]]], test: list[Structure], workers: int, log: Callable[[str], None]
) -> dict[str, dict[str, list[float]]]:
    from crosstrain.parallel import run_each

    say = log if workers <= 1 else _log_flushed  # a worker prints whole lines at once
    kwargs = {
        name: {"name": name, "ckpt": ckpt, "train": train, "test": test, "log": say} for name, ckpt, train in jobs
    }
    errors: dict[str, dict[str, list[float]]] = run_each(_model_errors, kwargs, workers=workers)
    return errors


def _pooled(each: dict[str, dict[str, list[float]]], arm: str) -> dict[str, list[float]]:
    """Per temperature, the per-structure errors of all of an arm's models together."""
    out: dict[str, list[float]] = {}
    for name, by_t in each.items():
        if name == arm or name.startswith(f"{arm} "):
            for t, values in by_t.items():
                out.setdefault(t, []).extend(values)
    return out


def _report(result: TemperatureTransferResult, folder: Path) -> None:
    from crosstrain.report import markdown_table, write_report

    med = result.median_force_mae
    names = list(med)
    rows = [[t] + [f"{med[n][t]:.4f}" for n in names] + [result.full_better_on_picks[t]] for t in med["full"]]
    text = (
        f"# Temperature transferability: {result.element}\n\n"
        f"{result.models_per_arm} models per arm, each trained on one structure at "
        f"{result.train_temperature:g} K ({result.steps} steps); `full` transfer has the lower median "
        f"force error at {result.full_better_at}. Medians over models of each model's median.\n\n"
        + markdown_table(["T (K)", *[f"{n} median force MAE (eV/Å)" for n in names], "full better on picks"], rows)
        + "\n\n![force errors by temperature](force_by_temperature.png)\n"
    )
    write_report(folder, "report", title="temperature transferability", markdown=text)
