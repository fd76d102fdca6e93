"""One unit of study work: train a target-element model for (arm, size, seed, settings).

Hyperparameters arrive as a flat mapping of search-space names (``lr``, ``batch_size``,
``steps``, ``patience`` in validations, a strategy's own settings such as ``l2sp_alpha``) on top
of the arm's base settings (:func:`crosstrain.study.spec.arm_settings`). The training budget is
given in gradient steps and turned into epochs here, so every size gets the same number of updates.
A retrained model (``test=True``) is also scored on the test set (per group and without groups
when the spec asks), its transferred start on the same set, the source element's validation set
(``report.source_retention``) and, with an ``md`` section, in long MD.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from crosstrain.config import Config, Strategy, config_from_dict
from crosstrain.study.data import StudyData, draw
from crosstrain.study.spec import STUDY_PARAMS, StudySpec, arm_settings
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import evaluate
from crosstrain.train.records import Metrics


def training_config(spec: StudySpec, arm: str, *, size: int, seed: int, params: dict[str, Any]) -> Config:
    """The full training config of one grid model (epochs and validation cadence from the step budget)."""
    data = arm_settings(spec, spec.arm(arm))
    train = {**data["train"], **{k: v for k, v in params.items() if k not in STUDY_PARAMS}}
    base = config_from_dict({"train": train}).train
    batch = min(base.batch_size, size)
    steps = int(params.get("steps", spec.steps))
    epochs = max(1, math.ceil(steps / math.ceil(size / batch)))
    every = max(1, epochs // spec.validations)
    patience = params.get("patience", spec.train.get("patience"))
    transfer = dict(data["transfer"])
    transfer.update({k: params[k] for k in Strategy(transfer["strategy"]).settings if k in params})
    train.update(
        batch_size=batch,
        epochs=epochs,
        valid_every=every,
        patience=None if patience is None else int(patience) * every,
        seed=seed,
    )
    return config_from_dict({"model": data["model"], "train": train, "transfer": transfer})


def model_path(folder: Path, arm: str, *, size: int, seed: int) -> Path:
    """Where the retrained model of (arm, size, seed) lives in a study folder."""
    return folder / "models" / arm / f"n{size}" / f"seed{seed}.ckpt"


def start_of(spec: StudySpec, arm: str, *, source: Path | None, folder: Path, size: int, seed: int) -> Path | None:
    """The model a run starts from: the source model, or for a further stage (``after``) the
    earlier arm's retrained model of the same size and seed."""
    after = spec.arm(arm).after
    return model_path(folder, after, size=size, seed=seed) if after is not None else source


def run_job(
    spec: StudySpec,
    data: StudyData,
    *,
    start: Path | None,
    arm: str,
    size: int,
    seed: int,
    params: dict[str, Any],
    out: Path,
    test: bool,
) -> dict[str, Any]:
    """Train one model (resuming a killed attempt from its state file) and return its numbers:
    validation errors always, test errors when ``test``; every number a plain float."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.train.reuse import fit_or_reuse

    d = draw(data, size, n_valid=spec.valid_size, seed=seed, valid_from=spec.valid_from)
    config = training_config(spec, arm, size=size, seed=seed, params=params)
    element_map = _element_map(spec, arm)
    report = fit_or_reuse(  # scratch ignores the parent and the map
        config,
        d.train,
        out,
        valid=d.valid,
        parent=start,
        element_map=element_map,
        progress=False,
    )
    row: dict[str, Any] = {
        "epochs": config.train.epochs,
        "batch_size": config.train.batch_size,
        "best_epoch": report.best_epoch,
        "train_seconds": round(report.seconds, 2),
        "checkpoint": str(out),
    }
    if report.valid is not None:  # fit validates on d.valid: always there
        row.update(_metrics("valid", report.valid))
    if report.zero_shot is not None:
        row.update(_metrics("zero_shot", report.zero_shot))
    if test:
        model = load_checkpoint(out).model.eval()
        row.update(_test_numbers(spec, data, model, config, d.train, start, element_map))
    return row


def _element_map(spec: StudySpec, arm: str) -> dict[str, str]:
    """Target from source for a first stage; the target to itself for a further stage."""
    same = spec.arm(arm).after is not None
    return {spec.target_element: spec.target_element if same else spec.source_element}


def _test_numbers(
    spec: StudySpec,
    data: StudyData,
    model: Any,
    config: Config,
    train: list[Any],
    start: Path | None,
    element_map: dict[str, str],
) -> dict[str, Any]:
    """The retrained model's test errors (overall, per ``report.by`` value), its transferred start
    on the same test set, its error on the source element's validation set and its MD stability."""
    row: dict[str, Any] = {}
    test = Dataset(data.test, model.neighbour_cutoff, "test")
    m = evaluate(model, test, 8, by=spec.by)
    row.update(_metrics("test", m))
    for group, gm in (m.by_group or {}).items():
        row.update(_metrics(f"test_{group}", gm))
    if config.transfer.strategy.needs_parent and start is not None:  # the transferred start, same test set
        from crosstrain.train.pipeline import start as transferred_start

        s = transferred_start(config, train, start, element_map=element_map)
        row.update(_metrics("zero_shot_test", evaluate(s.model.eval(), test, 8, by=())))
    for name, structures in data.extra.items():  # more test sets: overall and per report.by value
        em = evaluate(model, Dataset(structures, model.neighbour_cutoff, name), 8, by=spec.by)
        row.update(_metrics(f"extra_{name}", em, test=True))
        for group, gm in (em.by_group or {}).items():
            row.update(_metrics(f"extra_{name}_{group}", gm, test=True))
    if spec.source_retention and spec.source_element in model.species.symbols:
        src = Dataset(data.source_valid, model.neighbour_cutoff, f"{spec.source_element} valid")
        row.update(_metrics("source", evaluate(model, src, 8, by=())))
    if spec.md is not None:
        row.update(md_numbers(spec, model))
    if spec.properties:
        row.update(property_numbers(spec.target_element, model))
    return row


def property_numbers(element: str, model: Any) -> dict[str, float]:
    """The model against DFT (:func:`~crosstrain.workflows.properties.errors_against_dft`) as a row's
    numbers: the error in percent of the Γ optical mode and of the worst of Γ, X and L, the DOS
    overlap, and the errors of a0, B, C11, C12 and C44⁰ in percent."""
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.workflows.properties import errors_against_dft

    e = errors_against_dft(element, CrosstrainCalculator(model))
    return {
        "phonon_gamma_error_pct": e.phonons.error_percent["Γ optical"],
        "phonon_worst_error_pct": max(e.phonons.error_percent.values(), key=abs),
        "phonon_dos_overlap": e.phonons.dos_overlap,
        **{f"elastic_{k}_error_pct": v for k, v in e.error_percent.items()},
    }


def run_active_job(
    spec: StudySpec, data: StudyData, *, start: Path | None, arm: str, budget: int, seed: int, out: Path
) -> dict[str, Any]:
    """One active-learning run of an ``active`` arm (:func:`crosstrain.active.loop.run_active`):
    ``budget`` DFT calls at the test set's DFT setting, from the arm's start, scored on the study's
    test set; resumes a killed run from its folder. Its numbers: the final model's test errors (per
    group too), the learning curve (DFT calls, member 0's test force and energy errors per round)
    and the final model's stability."""
    from dataclasses import replace

    from crosstrain.active.loop import ActiveSettings, Request, run_active
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.study.kinds import data_spec

    a = spec.arm(arm)
    config = training_config(spec, arm, size=max(budget, 1), seed=seed, params={})
    config = replace(config, train=replace(config.train, epochs=1))  # the loop sets its own steps
    if config.transfer.strategy.needs_parent:
        mapping = {spec.target_element: spec.source_element}
        config = replace(config, transfer=replace(config.transfer, parent=str(start), element_map=mapping))
    given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(a.active or ()).items()}
    settings = ActiveSettings(**given, budget=budget, seed=seed, workers=1)
    kind = data_spec(spec.data)  # explored data (checked with the spec)
    dft, explore = kind.dft_settings(), kind.explore_settings()  # type: ignore[union-attr]
    request = Request(spec.target_element, config, dft, settings, explore, list(data.test))
    state = run_active(request, out, log=lambda m: None)
    final = state.final
    assert final is not None and final.test is not None
    row: dict[str, Any] = {"dft_calls": final.dft_calls, "labels": final.labels, "checkpoint": final.checkpoint}
    model = load_checkpoint(final.checkpoint).model.eval()
    m = evaluate(model, Dataset(data.test, model.neighbour_cutoff, "test"), 8, by=spec.by)
    row.update(_metrics("test", m))
    for group, gm in (m.by_group or {}).items():
        row.update(_metrics(f"test_{group}", gm))
    row["curve"] = [[r.dft_calls, r.test.force_mae, r.test.energy_mae] for r in state.rounds if r.test is not None]
    row["md_fraction_stable"] = final.stability.fraction_stable
    return row


def md_numbers(spec: StudySpec, model: Any) -> dict[str, Any]:
    """Long-MD stability of a retrained model (the spec's ``md`` section): per temperature the
    fraction of runs that stayed physical and the mean time to failure of the others."""
    from ase.build import bulk

    from crosstrain.md.replicas import batched
    from crosstrain.md.run import MDSettings
    from crosstrain.md.stability import stability
    from crosstrain.species import lattice_guess

    md = spec.md
    assert md is not None
    element = spec.target_element
    cell = bulk(element, "diamond", a=md.lattice or lattice_guess(element), cubic=True) * ((md.supercell,) * 3)
    settings = MDSettings(steps=int(round(md.ps * 1000 / md.timestep_fs)), timestep_fs=md.timestep_fs, seed=md.seed)
    report = stability(
        cell, None, temperatures=list(md.temperatures), runs=md.runs, settings=settings, model=batched(model)
    )
    row: dict[str, Any] = {"md_fraction_stable": report.fraction_stable}
    for t, v in report.by_temperature.items():
        row[f"md_{t}K_fraction_stable"] = v.fraction_stable
        row[f"md_{t}K_mean_time_to_failure_ps"] = v.mean_time_to_failure_ps
    return row


def _metrics(prefix: str, m: Metrics, test: bool = False) -> dict[str, float | None]:
    keys = ("force_mae", "force_rmse", "energy_mae", "energy_rmse", "stress_mae")
    out = {f"{prefix}_{k}": (None if getattr(m, k) is None else float(getattr(m, k))) for k in keys}
    if not test and prefix != "test" and not prefix.startswith("test_"):
        out.pop(f"{prefix}_stress_mae")  # the stress error is reported on the test set only
    else:
        out[f"{prefix}_n"] = float(m.n_structures)
    return out
