"""A study's results, read from its storage: the tidy table, the learning curve and the report.

``results.csv`` has one row per trained model (search trials and per-seed retraining alike):
stage, strategy, size, seed, every hyperparameter, validation/test errors, time and checkpoint.
``summary.csv`` has mean, standard deviation, median, seeds and diverged runs per (strategy,
size) of the retrained models; ``learning_curve.png`` plots them (log-log, error bars = one standard
deviation over seeds); ``report.md``/``report.html`` put it together.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from crosstrain.io.atomic import write_text
from crosstrain.provenance import provenance
from crosstrain.report import markdown_table, save_figure, write_report
from crosstrain.study.records import HP, METRICS, ROW_FIELDS, CellSummary, Spread, StudyRow
from crosstrain.study.spec import StudySpec
from crosstrain.study.worker import Study

_FIRST = ROW_FIELDS


def collect_rows(study: Study) -> list[StudyRow]:
    """Every trial with a job, search and retraining, as rows (hyperparameters: the searched ones,
    or the selected ones a retraining trial records as ``hp_*`` attributes)."""
    rows = []
    for strategy, size in study.cells():
        for stage in ("hpo", "final"):
            for t in study.load(stage, strategy, size).get_trials(deepcopy=False):
                job = t.user_attrs.get("job")
                if job is None:
                    continue
                attrs = {k: v for k, v in t.user_attrs.items() if k != "job"}
                hps = {k: v for k, v in t.params.items() if k != "seed"}
                hps.update({k.removeprefix(HP): v for k, v in attrs.items() if k.startswith(HP)})
                row = StudyRow(
                    study=study.spec.name,
                    stage=stage,
                    strategy=strategy,
                    n_train=size,
                    seed=int(t.params.get("seed", study.spec.search_seed)),
                    state=t.state.name,
                    trial=t.number,
                    job=job,
                    hyperparameters=hps,
                    values={k: v for k, v in attrs.items() if not k.startswith(HP)},
                    objective=t.value,
                )
                rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], first: tuple[str, ...] = _FIRST) -> Path:
    keys: list[str] = list(first)
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    write_text(path, buf.getvalue())
    return path


def _final_cells(rows: list[StudyRow]) -> dict[tuple[str, int], list[StudyRow]]:
    cells: dict[tuple[str, int], list[StudyRow]] = {}
    for r in rows:
        if r.stage == "final" and r.state == "COMPLETE":
            cells.setdefault((r.strategy, r.n_train), []).append(r)
    return {k: sorted(v, key=lambda r: r.seed) for k, v in cells.items()}


def _spread(values: list[float | None]) -> Spread:
    """Mean and std (ddof=1; 0 for one run) over the runs that finished, and the median counting a
    diverged run as worse than any finished one (see :mod:`crosstrain.analysis.comparison`)."""
    from crosstrain.analysis.comparison import cell

    c = cell(values)
    return Spread(c.mean, c.std if c.std is not None else (0.0 if c.mean is not None else None), c.median)


def summarise(rows: list[StudyRow]) -> list[CellSummary]:
    """Per (strategy, size): seeds, diverged runs, and mean, std (ddof=1), median of each metric;
    then, for a transfer, its zero-shot starts (see :func:`_zero_shot_entry`)."""
    out = []
    for (strategy, n), rs in sorted(_final_cells(rows).items()):
        metrics = {m: _spread([r.metric(m) for r in rs]) for m in METRICS}
        out.append(CellSummary(strategy, n, len(rs), sum(1 for r in rs if r.diverged), metrics))
        if any(r.values.get("zero_shot_test_force_mae") not in (None, "") for r in rs):
            out.append(_zero_shot_entry(strategy, n, rs))
    return out


def _zero_shot_entry(strategy: str, n: int, rs: list[StudyRow]) -> CellSummary:
    """The transferred starts of a cell (no training step; the energy reference and, for
    ``rescaled``, the scales fitted on the n structures) on the same test set: row "<strategy> zero-shot"."""
    metrics = {
        m: _spread([r.metric(f"zero_shot_{m}") for r in rs] if m.startswith("test_") else [None] * len(rs))
        for m in METRICS
    }
    return CellSummary(f"{strategy} zero-shot", n, len(rs), 0, metrics)


def plot_curve(summary: list[CellSummary], path: Path, chemical_accuracy: float | None = None) -> Path:
    from crosstrain.report import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    panels = (("test_force_mae", "test force MAE (eV/Å)"), ("test_energy_mae", "test energy MAE (meV/atom)"))
    for ax, (metric, label) in zip(axes, panels):
        for strategy in sorted({s.strategy for s in summary}):
            pts = [s.metrics[metric] for s in summary if s.strategy == strategy and s.metrics[metric].mean is not None]
            if pts:
                x = [s.n_train for s in summary if s.strategy == strategy and s.metrics[metric].mean is not None]
                ax.errorbar(
                    x,
                    [p.mean for p in pts],
                    yerr=[p.std for p in pts],
                    marker="o",
                    capsize=3,
                    label=strategy,
                )
        if metric == "test_energy_mae" and chemical_accuracy:
            ax.axhline(
                chemical_accuracy, color="grey", ls="--", lw=1, label=f"chemical accuracy ({chemical_accuracy:g})"
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("target-element training structures")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("learning curve: mean ± std over seeds")
    return save_figure(fig, path)


def _fmt(mean: float | None, std: float | None, digits: int) -> str:
    if mean is None:
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def headline(rows: list[StudyRow], strategies: tuple[str, ...], baseline: str = "scratch") -> list[str]:
    """Each arm against the baseline arm per size, seed by seed: the gain of the means, on how
    many seeds the arm was better, the per-seed spread, a paired test and whether spreads overlap."""
    from crosstrain.analysis.comparison import paired

    cells = _final_cells(rows)
    lines = []
    for strategy in (s for s in strategies if s != baseline):
        for n in sorted({k[1] for k in cells}):
            a = {r.seed: r for r in cells.get((strategy, n), [])}
            b = {r.seed: r for r in cells.get((baseline, n), [])}
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            values = [a[s].metric("test_force_mae") for s in seeds], [b[s].metric("test_force_mae") for s in seeds]
            diverged = sum(v is None for v in values[0]), sum(v is None for v in values[1])
            lines.append(
                f"- n = {n}, {len(seeds)} seeds: `{strategy}` against {baseline}, test force MAE "
                f"{paired(*values).text()}"
                + (f" ({diverged[0]} / {diverged[1]} runs diverged)" if any(diverged) else "")
            )
    return lines


def claims(rows: list[StudyRow], strategies: tuple[str, ...]) -> list[str]:
    """The paper's two claims, stated plainly for each transfer strategy: C1, transfer is better than
    scratch at every size (on the mean and on the majority of seeds, a diverged run losing); C2, the
    relative gain grows as the size shrinks (non-increasing in n)."""
    from crosstrain.analysis.comparison import paired

    cells = _final_cells(rows)
    sizes = sorted({k[1] for k in cells})
    lines = []
    for strategy in (s for s in strategies if s != "scratch"):
        gains: dict[int, float] = {}
        losing = []
        for n in sizes:
            a = {r.seed: r for r in cells.get((strategy, n), [])}
            b = {r.seed: r for r in cells.get(("scratch", n), [])}
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            p = paired([a[s].metric("test_force_mae") for s in seeds], [b[s].metric("test_force_mae") for s in seeds])
            if p.relative_mean is not None:
                gains[n] = p.relative_mean
            if p.relative_mean is None or p.relative_mean <= 0 or 2 * p.a_better <= p.n_pairs:
                losing.append(n)
        if len(gains) < 2:
            continue
        c1 = "holds" if not losing else f"does not hold (not better at n = {', '.join(map(str, losing))})"
        ordered = sorted(gains)  # ascending n: the gain should fall (or stay) as n grows
        grows = all(gains[x] >= gains[y] for x, y in zip(ordered, ordered[1:]))
        trend = ", ".join(f"{100 * gains[n]:.0f} % at n = {n}" for n in ordered)
        c2 = "holds" if grows else "does not hold"
        lines.append(
            f"- `{strategy}`: C1 (better than scratch at every n) {c1}; C2 (the gain grows as n shrinks) {c2}: {trend}"
        )
    return lines


def write_results(
    study: Study, status: dict[str, Any] | None = None, wall_seconds: float | None = None
) -> dict[str, Any]:
    """Write ``results.csv``, ``summary.csv``/``summary.json``, the plot and the report."""
    folder, spec = study.folder, study.spec
    rows = collect_rows(study)
    summary = summarise(rows)
    write_csv(folder / "results.csv", [r.to_json() for r in rows])
    write_csv(folder / "summary.csv", [s.to_json() for s in summary], first=("strategy", "n_train", "seeds"))
    doc = {
        "spec": spec.to_dict(),
        "sizes": study.sizes,
        "summary": [s.to_json() for s in summary],
        "status": status,
        "wall_seconds_this_run": wall_seconds,
        **provenance().to_json(),
    }
    write_text(folder / "summary.json", json.dumps(doc, indent=2, default=str))
    figure = None
    if summary:
        figure = plot_curve(summary, folder / "learning_curve.png", spec.chemical_accuracy_mev)
    table = []
    for s in summary:
        force, energy = s.metrics["test_force_mae"], s.metrics["test_energy_mae"]
        median = "–" if force.median is None else f"{force.median:.4f}"
        table.append([s.strategy, s.n_train, s.seeds, s.diverged, _fmt(force.mean, force.std, 4), median])
        table[-1].append(_fmt(energy.mean, energy.std, 2))
        if spec.properties:
            gamma = s.metrics["phonon_gamma_error_pct"]
            table[-1].append(_fmt(gamma.mean, gamma.std, 1))
    lines = [f"# crosstrain study `{spec.name}`", ""]
    lines += headline(rows, spec.strategies, spec.baseline) or ["No retrained models yet."]
    stated = claims(rows, spec.strategies)
    if stated:
        lines += ["", "The paper's claims, on the test force MAE:", "", *stated]
    lines += [
        "",
        f"{spec.data['kind']} data, {spec.source_element} → {spec.target_element}; sizes {study.sizes}; "
        f"{spec.seeds} seeds; {spec.trials} search trials per (strategy, size) on {spec.valid_size} validation "
        f"structures (metric: validation {spec.metric}); test errors below are on the fixed test set.",
        "",
    ]
    if figure is not None:
        lines += [f"![learning curve]({figure.name})", ""]
    header = ["strategy", "n", "seeds", "diverged", "test force MAE (eV/Å)", "median", "test energy MAE (meV/atom)"]
    header += ["Γ optical vs DFT (%)"] if spec.properties else []
    lines += [markdown_table(header, table)]
    lines += ["", "Mean ± std over the seeds that finished; the median counts a diverged run as the worst."]
    if status:
        lines += [
            "",
            f"Trials finished: {status['done']} of {status['total']}; wall time of the trials "
            f"{_hours(status['trial_seconds'])} (sum over workers)"
            + (f"; wall time of the last run {_hours(wall_seconds)}." if wall_seconds else "."),
        ]
    lines += ["", "Every trained model, with its settings: `results.csv`; means and deviations: `summary.csv`."]
    write_report(folder, "report", title=f"crosstrain study {spec.name}", markdown="\n".join(lines) + "\n")
    return doc


#: the record's name of a row's number (``source_*``: the source element's validation set)
_RECORD_METRICS = {"force_mae": "test_force_mae", "energy_mae": "test_energy_mae", "stress_mae": "test_stress_mae"}


def _without(r: StudyRow, group: str) -> float | None:
    """The test energy MAE without one group's structures, from the per-group MAEs and counts
    (the energy MAE is a mean over structures, so this is exact)."""
    n, mae = r.metric("test_n"), r.metric("test_energy_mae")
    ng, mg = r.metric(f"test_{group}_n"), r.metric(f"test_{group}_energy_mae")
    if None in (n, mae, ng, mg) or n == ng:
        return None
    assert n is not None and mae is not None and ng is not None and mg is not None
    return (mae * n - mg * ng) / (n - ng)


def _cell_numbers(rs: list[StudyRow], groups: list[str]) -> dict[str, list[float | None]]:
    """Per metric of the record, the values of a cell's runs in seed order (``None``: diverged)."""
    numbers = {name: [r.metric(key) for r in rs] for name, key in _RECORD_METRICS.items()}
    for g in groups:
        numbers[f"energy_mae_without_{g}"] = [_without(r, g) for r in rs]
        numbers[f"{g}_energy_mae"] = [r.metric(f"test_{g}_energy_mae") for r in rs]
    extra = sorted(
        {
            k
            for r in rs
            for k in r.values
            if k.startswith(("source_", "md_", "extra_", "phonon_", "elastic_"))
            and k.endswith(("mae", "stable", "_pct", "overlap"))
        }
    )
    numbers.update({k: [r.metric(k) for r in rs] for k in extra})
    zero = [r.metric("zero_shot_test_force_mae") for r in rs]
    if any(v is not None for v in zero):
        numbers["zero_shot_force_mae"] = zero
        numbers["zero_shot_energy_mae"] = [r.metric("zero_shot_test_energy_mae") for r in rs]
    return numbers


def record_cells(rows: list[StudyRow], spec: StudySpec) -> dict[str, Any]:
    """The retrained models as the benchmarks' cells (``"<arm> n=<size>"``): per metric the values
    seed by seed with mean, std and median (:func:`crosstrain.analysis.comparison.cell`), and each arm
    against the baseline arm on their shared seeds (:func:`~crosstrain.analysis.comparison.paired`)."""
    from crosstrain.analysis.comparison import cell, paired

    cells = _final_cells(rows)
    keys = {k for r in rows for k in r.values if k.startswith("test_") and k.endswith("_n") and k != "test_n"}
    groups = sorted(k.removeprefix("test_").removesuffix("_n") for k in keys)
    out: dict[str, Any] = {}
    for (arm, n), rs in sorted(cells.items(), key=lambda kv: (kv[0][1], spec.strategies.index(kv[0][0]))):
        numbers = _cell_numbers(rs, groups)
        entry: dict[str, Any] = {key: cell(values).to_dict() for key, values in numbers.items()}
        base = {r.seed: r for r in cells.get((spec.baseline, n), [])}
        mine = {r.seed: r for r in rs}
        shared = sorted(set(base) & set(mine))
        if arm != spec.baseline and shared:
            base_numbers = _cell_numbers([base[s] for s in shared], groups)
            my_numbers = _cell_numbers([mine[s] for s in shared], groups)
            for key in ("force_mae", "energy_mae", *(f"energy_mae_without_{g}" for g in groups)):
                p = paired(my_numbers[key], base_numbers[key])
                entry[f"{key}_vs_{spec.baseline}"] = p.to_dict()
                entry[f"{key}_vs_{spec.baseline}_text"] = p.text()
        if any("curve" in r.values for r in rs):  # active-learning runs: (DFT calls, force, energy) per round
            entry["curves"] = [r.values.get("curve") for r in rs]
        entry["seeds"] = [r.seed for r in rs]
        entry["seconds_mean"] = float(sum(float(r.values.get("seconds") or 0.0) for r in rs) / len(rs))
        out[f"{arm} n={n}"] = entry
    return out


def write_study_record(study: Study, path: str | Path, command: str) -> Path:
    """The study's result as a record (:mod:`crosstrain.records`, kind ``study``): the spec, the
    sizes and the cells of :func:`record_cells`; what ``crosstrain results`` publishes from."""
    from crosstrain.records import make_record, write_record

    spec = study.spec
    result = {"spec": spec.to_dict(), "sizes": study.sizes, "cells": record_cells(collect_rows(study), spec)}
    record = make_record("study", command, result, seeds=tuple(range(spec.seeds)))
    return write_record(Path(path), record)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"
