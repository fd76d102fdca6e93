"""The architectures page: DimeNet++ and MACE side by side on the same Ge split, test set and Si parent
data. Each section appears once its MACE record exists."""

from __future__ import annotations

from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, run_sections, seeds_text

DIMENET_N22 = "benchmarks/dft-transfer/study_n22.json"
MACE_N22 = "benchmarks/mace/study_n22.json"
DIMENET_ALL = "benchmarks/dft-transfer/dft_transfer5_all.json"
MACE_ALL = "benchmarks/mace/study_all_scratch.json"
DIMENET_MD = "benchmarks/mace/md_speed_dimenet.json"
MACE_MD = "benchmarks/mace/md_speed.json"
NO_SLAB = "energy_mae_without_Surface"


def architectures(rec: Records) -> tuple[str, list[Headline]]:
    lines = [
        "# DimeNet++ and MACE",
        "",
        GENERATED,
        "",
        "The same questions for both architectures crosstrain runs: Ge from a Si parent with 22 DFT",
        "structures, Ge from all its training data, and MD speed. Both on the mlearn Ge split of the",
        "[DFT page](dft-transfer.md) (split seed 0: 22 validation and 25 leak-free test structures), each",
        "Si parent trained on the mlearn Si data with its own recipe. How to use MACE:",
        "[Use MACE](../how-to/mace.md). A section appears once its MACE record exists.",
    ]
    more, heads = run_sections(rec, (_n22, _all_data, _md_speed))
    return "\n".join(lines + more) + "\n", heads


def _named_cell(rec: Records, path: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """The name and contents of the record's cell whose name starts with ``prefix`` (``scratch n=``)."""
    cells: dict[str, Any] = field(rec[path], path, "cells")
    for name, cell in cells.items():
        if name.startswith(prefix):
            return name, dict(cell)
    return prefix, dict(field(rec[path], path, "cells", prefix))  # one line naming the missing cell


def _cell(rec: Records, path: str, prefix: str) -> dict[str, Any]:
    return _named_cell(rec, path, prefix)[1]


def _steps(rec: Records, path: str) -> str:
    """The gradient-step budget of a run: a study's grid, or an older benchmark's settings."""
    result = rec[path].result
    steps = result.get("spec", {}).get("grid", {}).get("steps") or result.get("settings", {}).get("steps")
    return str(steps) if steps else "not recorded"


def _minutes(cell: dict[str, Any]) -> str:
    seconds = cell.get("seconds_mean")
    return f"{seconds / 60:.1f}" if isinstance(seconds, (int, float)) else "not recorded"


def _no_slab(cell: dict[str, Any], path: str) -> str:
    return pm(cell[NO_SLAB], 2, path) if NO_SLAB in cell else "not recorded"


def _n22(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(MACE_N22):
        return [], []
    rows = []
    found: dict[str, dict[str, Any]] = {}
    for name, path in (("DimeNet++", DIMENET_N22), ("MACE", MACE_N22)):
        transfer, scratch = _cell(rec, path, "rescaled n=22"), _cell(rec, path, "scratch n=22")
        found[name] = transfer
        zero = transfer.get("zero_shot_force_mae")
        rows.append(
            f"| {name} | {pm(transfer['force_mae'], 4, path)} | {pm(scratch['force_mae'], 4, path)} "
            f"| {transfer.get('force_mae_vs_scratch_text', 'not recorded')} "
            f"| {_no_slab(transfer, path)} | {_no_slab(scratch, path)} "
            f"| {pm(zero, 4, path) if zero else 'not recorded'} | {_minutes(transfer)} / {_minutes(scratch)} |"
        )
    mace = rec[MACE_N22]
    lines = [
        "",
        "## Ge from 22 structures, transferred from Si",
        "",
        "`rescaled` from each architecture's Si parent (DimeNet++ `si-dft5`, MACE `si-dft-mace`) against",
        "`scratch`, the same 22 training structures per seed for both arms and both architectures. The",
        "budgets differ by architecture (each spec says its steps and learning rates). Energies without the",
        "surface slabs, whose mlearn labels sit far from the bulk ones ([test sets](../concepts/test-sets.md));",
        "the totals with the slabs are in the records. Mean ± standard deviation over seeds",
        f"(MACE seeds {seeds_text(mace)}); diverged runs counted.",
        "",
        "| architecture | `rescaled` forces (eV/Å) | `scratch` forces (eV/Å) | paired by seed "
        "| `rescaled` energy w/o slabs (meV/atom) | `scratch` energy w/o slabs | zero-shot forces "
        "| CPU minutes per run (rescaled / scratch) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        _verdict(found),
        "",
        f"Records: {cite(DIMENET_N22, rec[DIMENET_N22])}; {cite(MACE_N22, mace)}",
    ]
    head = Headline(
        "MACE Ge forces from 22 DFT structures, `rescaled` from `si-dft-mace` vs `scratch`",
        f"{pm(found['MACE']['force_mae'], 4, MACE_N22)} vs "
        f"{pm(_cell(rec, MACE_N22, 'scratch n=22')['force_mae'], 4, MACE_N22)} eV/Å",
        "architectures.md",
        MACE_N22,
    )
    return lines, [head]


def _verdict(transfer: dict[str, dict[str, Any]]) -> str:
    """Which architecture's transferred model has the lower mean test force error, read off the records."""
    means = {name: float(cell["force_mae"]["mean"]) for name, cell in transfer.items()}
    best, other = sorted(means, key=means.__getitem__)
    lower = 100 * (1 - means[best] / means[other])
    text = (
        f"With these CPU presets and budgets, the transferred {best} model has the lower mean test force "
        f"error at n = 22 ({means[best]:.4f} vs {means[other]:.4f} eV/Å, {lower:.0f} % lower)"
    )
    if all(NO_SLAB in cell for cell in transfer.values()):
        energy = {name: float(cell[NO_SLAB]["mean"]) for name, cell in transfer.items()}
        low, high = sorted(energy, key=energy.__getitem__)
        pair = f"{energy[low]:.2f} vs {energy[high]:.2f} meV/atom"
        text += f"; the transferred {low} model the lower energy error without the slabs ({pair})"
    return text + "."


def _all_data(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(MACE_ALL):
        return [], []
    rows = []
    for name, path in (("DimeNet++", DIMENET_ALL), ("MACE", MACE_ALL)):
        cell_name, cell = _named_cell(rec, path, "scratch n=")
        rows.append(
            f"| {name} | {cell_name.split('n=')[-1]} | {_steps(rec, path)} | {pm(cell['force_mae'], 4, path)} "
            f"| {_no_slab(cell, path)} "
            f"| {pm(cell['energy_mae'], 2, path)} | {_minutes(cell)} |"
        )
    return [
        "",
        "## Ge from all its training data, from scratch",
        "",
        "Every training structure of the split, no parent; each architecture with its own recipe and",
        "budget of gradient steps (batches of 4). Test: the same 25 structures. CPU minutes are wall time",
        "on one thread (DimeNet++ compiled, MACE eager), with whatever else ran on the machine then.",
        "",
        "| architecture | training structures | steps | forces (eV/Å) | energy w/o slabs (meV/atom) "
        "| energy with slabs | CPU minutes per run |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Records: {cite(DIMENET_ALL, rec[DIMENET_ALL])}; {cite(MACE_ALL, rec[MACE_ALL])}",
    ], []


def _md_speed(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(MACE_MD):
        return [], []
    lines = [
        "",
        "## MD speed",
        "",
        "ASE velocity-Verlet MD of 64 Si atoms on one thread with each architecture's 5 Å Si parent",
        "(`si-dft5`, `si-dft-mace`), measured back to back on the same machine; `compiled` is",
        "`CrosstrainCalculator(compile=True)` (for MACE, torch.compile breaks its graph inside e3nn).",
        "",
        "| architecture | mode | steps/s | ms/step |",
        "|---|---|---|---|",
    ]
    for name, path in (("DimeNet++", DIMENET_MD), ("MACE", MACE_MD)):
        for row in field(rec[path], path, "rows"):
            if row.get("atoms") == 64 and "steps_per_second" in row:
                lines.append(f"| {name} | {row['mode']} | {row['steps_per_second']:.1f} | {row['ms_per_step']:.1f} |")
    lines += ["", f"Records: {cite(DIMENET_MD, rec[DIMENET_MD])}; {cite(MACE_MD, rec[MACE_MD])}"]
    return lines, []
