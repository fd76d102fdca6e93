"""The DFT transfer page: the Ge learning curve from si-dft5, energies without the slab, the defaults."""

from __future__ import annotations

from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, seeds_text


def dft_transfer(rec: Records) -> tuple[str, list[Headline]]:
    lr_path = "benchmarks/dft-transfer/dft_lr_search.json"
    slab_path = "benchmarks/dft-energies/slab_relabelled.json"
    lr, slab = rec[lr_path], rec[slab_path]

    def forces(arm: str) -> str:
        return pm(field(lr, lr_path, "by_size", "22", arm, "test_force_mae"), 4, lr_path)

    def energies(arm: str, kind: str) -> dict[str, Any]:
        cell: dict[str, Any] = field(slab, slab_path, "cells", arm, kind)
        return cell

    def chosen(arm: str) -> str:
        return str(field(lr, lr_path, "by_size", "22", arm, "chosen_lr"))

    def e_pm(arm: str, kind: str) -> str:
        return pm(energies(arm, kind), 2, slab_path)

    lines = [
        "# Ge from 22 DFT structures: transfer against scratch",
        "",
        GENERATED,
        "",
        "Ge DimeNet++ models (CPU preset, 5 Å) trained on 22 mlearn Ge structures: `rescaled` transfer from the",
        "shipped `si-dft5` parent against `scratch`, same draws, same validation set, same budget, the",
        "peak learning rate of each arm chosen on validation from the same two values. Test: the 25 held-out",
        "structures of the `crosstrain data mlearn` split (seed 0), which share no family with training.",
        f"Seeds {seeds_text(lr)}: each seed draws the training structures and initialises the model, the",
        "same draw for both arms; statistics are mean ± standard deviation over seeds, diverged runs counted.",
        "",
        "| | `rescaled` from `si-dft5` | `scratch` |",
        "|---|---|---|",
        f"| test force MAE (eV/Å) | {forces('rescaled')} | {forces('scratch')} |",
        f"| test energy MAE without the slab (meV/atom) | {e_pm('rescaled', 'without_slab')} "
        f"| {e_pm('scratch', 'without_slab')} |",
        f"| test energy MAE, mlearn labels (meV/atom) | {e_pm('rescaled', 'measured')} "
        f"| {e_pm('scratch', 'measured')} |",
        f"| chosen peak learning rate | {chosen('rescaled')} | {chosen('scratch')} |",
        "",
        f"Forces, paired by seed: {field(lr, lr_path, 'by_size', '22', 'rescaled', 'force_mae_vs_scratch')}.",
        "",
        "Energies without the slab, paired by seed: "
        f"{field(slab, slab_path, 'pairs', 'rescaled_vs_scratch', 'without_slab')}.",
        "",
        "Why energies are stated without the surface slab: see [test sets](../concepts/test-sets.md).",
        "",
        "Records:",
        "",
        f"- {cite(lr_path, lr)}",
        f"- {cite(slab_path, slab)}",
    ]
    lines += _slab_section(rec)
    lines += _defaults_section(rec)
    lines += _engine_section(rec)
    mean = {
        (a, k): float(energies(a, k)["mean"]) for a in ("rescaled", "scratch") for k in ("without_slab", "measured")
    }
    heads = [
        Headline(
            "Ge forces from 22 DFT structures, `rescaled` from `si-dft5` vs `scratch`",
            f"{forces('rescaled')} vs {forces('scratch')} eV/Å",
            "dft-transfer.md",
            lr_path,
        ),
        Headline(
            "Ge energies from 22 DFT structures, without the slab (mlearn labels), 5 seeds",
            f"{mean['rescaled', 'without_slab']:.1f} vs {mean['scratch', 'without_slab']:.1f} meV/atom "
            f"({mean['rescaled', 'measured']:.1f} vs {mean['scratch', 'measured']:.1f})",
            "dft-transfer.md",
            slab_path,
        ),
    ]
    return "\n".join(lines) + "\n", heads


def _slab_section(rec: Records) -> list[str]:
    """The evidence that the mlearn Ge slab labels sit apart from the bulk cells."""
    path = "benchmarks/dft-energies/slab_energies.json"
    r = rec[path]
    shifts = field(r, path, "gpaw_slab_minus_bulk_meV")
    values = [float(v) for v in shifts.values()]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    lines = [
        "",
        "## The mlearn Ge surface slabs",
        "",
        "Each slab recomputed with GPAW at one consistent PBE setting, relative to the bulk cells, minus",
        "the same difference on its mlearn labels (meV/atom; positive: GPAW places the slab higher):",
        "",
        "| slab | GPAW − mlearn (meV/atom) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {float(v):.1f} |" for name, v in shifts.items()]
    lines += [
        f"| mean ± std (n = {len(values)}) | {mean:.0f} ± {std:.0f} |",
        "",
        f"Record: {cite(path, r)}",
    ]
    return lines


def _train_default_lines(rec: Records, cell: dict[str, Any], path: str) -> list[str]:
    """``crosstrain train`` with no --config on every training structure, beside the recipe's own record."""
    ref_path = "benchmarks/dft-recipe/dft_recipe.json"
    ref = rec[ref_path]
    test = field(ref, ref_path, "rows", "cpu5-150ep", "test")
    seeds = ", ".join(str(x) for x in cell.get("seeds", []))
    return [
        "",
        "`crosstrain train` with no `--config` on every training structure (`train-default`, seeds "
        f"{seeds}; it resolves to the `dft-cpu5` recipe): test forces {pm(cell['force_mae'], 4, path)} eV/Å, "
        f"energies on the mlearn labels {pm(cell['energy_mae'], 2, path)} meV/atom. The recipe's own record "
        f"(`{ref_path}`, row `cpu5-150ep`, `--config dft-cpu5` on the same split): forces "
        f"{float(test['force_mae']):.4f} eV/Å, energies {float(test['energy_mae']):.2f} meV/atom.",
    ]


def _engine_section(rec: Records) -> list[str]:
    """The n = 22 cell rerun through the study engine (``benchmarks/dft-transfer/n22.yaml``) beside
    the retired grid script's record of the same cell: same recipe, draws, budget and sets."""
    path, old_path = "benchmarks/dft-transfer/study_n22.json", "benchmarks/dft-transfer/dft_transfer5_5seeds.json"
    if not (rec.root / path).is_file():
        return []
    new, old = rec[path], rec[old_path]
    rows = []
    for arm in ("rescaled", "scratch"):
        cell = field(new, path, "cells", f"{arm} n=22")
        before = field(old, old_path, "cells", f"{arm} n=22")
        rows.append(
            f"| `{arm}` | {pm(before['force_mae'], 4, old_path)} | {pm(cell['force_mae'], 4, path)} "
            f"| {pm(cell['energy_mae_without_Surface'], 2, path)} | {pm(before['energy_mae'], 2, old_path)} "
            f"| {pm(cell['energy_mae'], 2, path)} |"
        )
    gain = field(new, path, "cells", "rescaled n=22", "force_mae_vs_scratch_text")
    zero = field(new, path, "cells", "rescaled n=22", "zero_shot_force_mae")
    return [
        "",
        "## The same cell through the study engine",
        "",
        "The n = 22 cell rerun as a study spec (`benchmarks/dft-transfer/n22.yaml`: the `dft-cpu5` recipe for",
        "both arms, the same draws, budget, validation and test sets as the retired grid script):",
        "",
        "| arm | test force MAE, script (eV/Å) | test force MAE, engine (eV/Å) "
        "| energy MAE without the slab, engine (meV/atom) | energy MAE, mlearn labels, script "
        "| energy MAE, mlearn labels, engine |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Engine, forces paired by seed: {gain}. The zero-shot start of `rescaled` on the same test set:",
        f"{pm(zero, 4, path)} eV/Å.",
        "",
        f"Records: {cite(path, new)}; {cite(old_path, old)}.",
    ]


def _defaults_section(rec: Records) -> list[str]:
    path = "benchmarks/defaults/defaults.json"
    if not (rec.root / path).is_file():
        return []
    r = rec[path]
    summary = field(r, path, "summary")
    lines = [
        "",
        "## The shortest command gives the same result",
        "",
        "`crosstrain transfer --from si-dft5 --data ... --valid ... --out ge.ckpt` (no `--config`, no `--strategy`,",
        "no `--map`) against the explicit best recipe, on the same draws of 22 structures:",
        "",
        "| arm | test forces (eV/Å) | energies without slab (meV/atom) | mlearn labels (meV/atom) |",
        "|---|---|---|---|",
    ]
    for arm, cell in summary.items():
        if not arm.startswith("transfer-"):  # the 22-structure arms; train-default follows below
            continue
        cells = [field(r, path, "summary", arm, key) for key in ("force_mae", "energy_mae_without_slabs", "energy_mae")]
        seeds = ", ".join(str(x) for x in cell.get("seeds", []))
        lines.append(
            f"| `{arm}` (seeds {seeds}) | {pm(cells[0], 4, path)} | {pm(cells[1], 2, path)} | {pm(cells[2], 2, path)} |"
        )
    if "train-default" in summary:
        lines += _train_default_lines(rec, field(r, path, "summary", "train-default"), path)
    rows = field(r, path, "rows")
    by_seed: dict[int, dict[str, float]] = {}
    for row in rows:
        by_seed.setdefault(int(row["seed"]), {})[row["arm"]] = float(row["test"]["force_mae"])
    both = sorted(seed for seed, arms in by_seed.items() if len(arms) == 2)
    same = all(len(set(by_seed[seed].values())) == 1 for seed in both)
    if both:
        verdict = "identical to every digit" if same else "not identical"
        seeds = ", ".join(str(x) for x in both)
        lines += ["", f"On the seeds both arms ran ({seeds}) their test force errors are {verdict}."]
    return [*lines, "", f"Record: {cite(path, r)}"]
