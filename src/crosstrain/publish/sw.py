"""The Stillinger-Weber page: the learning curve of the SW demo's setting."""

from __future__ import annotations

from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, seeds_text


def sw_demo(rec: Records) -> tuple[str, list[Headline]]:
    path = "benchmarks/sw-learning-curve/study_sw_quick.json"
    r = rec[path]
    rows = field(r, path, "summary")
    cells = {(row["strategy"], row["n_train"]): row for row in rows}
    sizes = sorted({n for s, n in cells if s == "scratch"})
    lines = [
        "# Stillinger–Weber: the learning curve",
        "",
        GENERATED,
        "",
        "Ge models trained on Stillinger–Weber MD data (LAMMPS), `full` transfer from the shipped `si-sw`",
        "parent against `scratch`, test force MAE on held-out Ge structures, mean ± std over seeds.",
        "",
        "| training structures | `full` (eV/Å) | `scratch` (eV/Å) |",
        "|---|---|---|",
    ]
    for n in sizes:
        full, scratch = cells[("full", n)], cells[("scratch", n)]
        lines.append(f"| {n} | {_row(full)} | {_row(scratch)} |")
    lines += ["", f"Seeds {seeds_text(r)}, the same draws for both arms.", "", f"Record: {cite(path, r)}"]
    lines += _sw_engine_section(rec, cells, sizes)
    n0 = sizes[0]
    head = Headline(
        f"SW Ge forces from {n0} structure(s), `full` from `si-sw` vs `scratch`",
        f"{_row(cells[('full', n0)])} vs {_row(cells[('scratch', n0)])} eV/Å",
        "sw-demo.md",
        path,
    )
    return "\n".join(lines) + "\n", [head]


def _sw_engine_section(rec: Records, before: dict[tuple[str, int], Any], sizes: list[int]) -> list[str]:
    """The same built-in spec rerun by today's study engine, beside the published run."""
    path = "benchmarks/sw-learning-curve/study_sw_quick_engine.json"
    if not (rec.root / path).is_file():
        return []
    new = rec[path]
    lines = [
        "",
        "## The same study rerun by today's engine",
        "",
        "`sw-quick` again, after the study engine gained arms, stages and records (same spec, data",
        "protocol, search and seeds; test force MAE in eV/Å):",
        "",
        "| training structures | `full`, published | `full`, rerun | `scratch`, published | `scratch`, rerun |",
        "|---|---|---|---|---|",
    ]
    for n in sizes:
        now = {arm: field(new, path, "cells", f"{arm} n={n}", "force_mae") for arm in ("full", "scratch")}
        lines.append(
            f"| {n} | {_row(before[('full', n)])} | {pm(now['full'], 4, path)} "
            f"| {_row(before[('scratch', n)])} | {pm(now['scratch'], 4, path)} |"
        )
    return [*lines, "", f"Record: {cite(path, new)}"]


def _row(row: dict[str, Any]) -> str:
    text = f"{row['test_force_mae_mean']:.4f} ± {row['test_force_mae_std']:.4f} (n = {row['seeds']}"
    return text + (f", {row['diverged']} diverged)" if row.get("diverged") else ")")
