"""The element-pairs page: the reverse direction (Si from a Ge parent), the metal pair (Na from a Li
parent, on crosstrain's own DFT labels) and how well the parent chooser (``crosstrain suggest``)
predicts which parent fine-tunes best. Each section appears once its record exists."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, seeds_text


@dataclass(frozen=True)
class Pair:
    """One element pair's section: its n = 22 study (arms ``rescaled`` and ``scratch``), learning
    curve and (optional) crystal properties against DFT, each shown once its record exists."""

    title: str
    parent: str
    intro: tuple[str, ...]
    study: str
    curve: str
    headline: str
    properties: str = ""
    convergence: str = ""  # the crystal reference at other DFT settings


PAIRS = (
    Pair(
        "Si from a Ge parent",
        "ge-dft5",
        (
            "Si models from 22 mlearn Si structures: `rescaled` transfer from the shipped `ge-dft5` parent",
            "against `scratch`, with the start rules of the Ge curve (each arm's recipe, the same draws, budget",
            "and validation). Test: 25 held-out Si structures of the split, which share no family with training.",
        ),
        "benchmarks/reverse-transfer/study_n22.json",
        "benchmarks/reverse-transfer/study_curve.json",
        "Si forces from 22 DFT structures, `rescaled` from `ge-dft5` vs `scratch`",
    ),
    Pair(
        "Na from a Li parent: a metal, labelled by crosstrain",
        "li-dft5",
        (
            "Na models from 22 of the 136 Na structures crosstrain sampled and labelled with GPAW PBE itself",
            "(`benchmarks/metal-pair/`; shipped as `crosstrain/data/mlearn_data/Na`): `rescaled` transfer from",
            "the shipped `li-dft5` parent (mlearn Li) against `scratch`, with the start rules of the Ge curve.",
            "Test: 40 held-out Na structures of the split, which share no family with training.",
        ),
        "benchmarks/metal-pair/study_n22.json",
        "benchmarks/metal-pair/study_curve.json",
        "Na forces from 22 DFT structures, `rescaled` from `li-dft5` vs `scratch`",
        "benchmarks/metal-pair/properties_n22.json",
        "benchmarks/metal-pair/crystal_convergence.json",
    ),
)
CHOICE = tuple(f"benchmarks/parent-choice/rank_agreement_{p}.json" for p in ("si-ge", "ge-si", "li-na"))


def pairs(rec: Records) -> tuple[str, list[Headline]]:
    lines = [
        "# Other element pairs, and choosing a parent",
        "",
        GENERATED,
        "",
        "The Si → Ge results are on [their own page](dft-transfer.md). This page holds the reverse",
        "direction, a metal pair and the check of the parent chooser; a section appears once its record exists.",
    ]
    heads: list[Headline] = []
    for pair in PAIRS:
        section, head = _pair_section(rec, pair)
        lines += section
        heads += head
    for path in CHOICE:
        choice, head = _choice_section(rec, path)
        lines += choice
        heads += head
    return "\n".join(lines) + "\n", heads


def _pair_section(rec: Records, pair: Pair) -> tuple[list[str], list[Headline]]:
    if not (rec.root / pair.study).is_file():
        return [], []
    r = rec[pair.study]
    get = functools.partial(field, r, pair.study)
    transfer, scratch = get("cells", "rescaled n=22"), get("cells", "scratch n=22")
    zero = transfer.get("zero_shot_force_mae")
    lines = [
        "",
        f"## {pair.title}",
        "",
        *pair.intro,
        f"Seeds {seeds_text(r)}; mean ± standard deviation over seeds, diverged runs counted.",
        "",
        f"| | `rescaled` from `{pair.parent}` | `scratch` |",
        "|---|---|---|",
        f"| test force MAE (eV/Å) | {pm(transfer['force_mae'], 4, pair.study)} "
        f"| {pm(scratch['force_mae'], 4, pair.study)} |",
        f"| test energy MAE (meV/atom) | {pm(transfer['energy_mae'], 2, pair.study)} "
        f"| {pm(scratch['energy_mae'], 2, pair.study)} |",
    ]
    if zero is not None:
        lines.append(f"| zero-shot test force MAE (eV/Å) | {pm(zero, 4, pair.study)} | |")
    lines += [
        "",
        f"Forces, paired by seed: {transfer.get('force_mae_vs_scratch_text', 'not recorded')}.",
        "",
        f"Record: {cite(pair.study, r)}",
    ]
    lines += _curve(rec, pair.curve)
    lines += _properties(rec, pair.properties)
    lines += _convergence(rec, pair.convergence)
    head = Headline(
        pair.headline,
        f"{pm(transfer['force_mae'], 4, pair.study)} vs {pm(scratch['force_mae'], 4, pair.study)} eV/Å",
        "pairs.md",
        pair.study,
    )
    return lines, [head]


def _curve(rec: Records, path: str) -> list[str]:
    if not (rec.root / path).is_file():
        return []
    r = rec[path]
    cells: dict[str, Any] = field(r, path, "cells")
    sizes = sorted({int(k.split("n=")[1]) for k in cells})
    lines = [
        "",
        "### Learning curve",
        "",
        "| training structures | `rescaled` (eV/Å) | `scratch` (eV/Å) |",
        "|---|---|---|",
    ]
    for n in sizes:
        t, s = cells.get(f"rescaled n={n}"), cells.get(f"scratch n={n}")
        row = [pm(c["force_mae"], 4, path) if c else "-" for c in (t, s)]
        lines.append(f"| {n} | {row[0]} | {row[1]} |")
    return [*lines, "", f"Seeds {seeds_text(r)}.", "", f"Record: {cite(path, r)}"]


#: the crystal properties of a properties record: key, label, digits of the reference value
PROPERTY_ROWS = (
    ("a0", "lattice constant (Å)", 4),
    ("bulk_modulus", "bulk modulus (GPa)", 2),
    ("C11", "C11 (GPa)", 2),
    ("C12", "C12 (GPa)", 2),
    ("C44", "C44 (GPa)", 2),
    ("vacancy", "vacancy formation, relaxed (eV)", 3),
)


def _convergence(rec: Records, path: str) -> list[str]:
    if not path or not (rec.root / path).is_file():
        return []
    r = rec[path]
    rows = field(r, path, "rows")
    lines = [
        "",
        "How converged is the reference? The same calculation (without the vacancy) at denser k-points:",
        "",
        "| DFT setting | a0 (Å) | B (GPa) | C11 (GPa) | C12 (GPa) | C44 (GPa) | C' = (C11 − C12)/2 (GPa) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        v = row["values"]
        lines.append(
            f"| {row['describe']}, SCF density {row['settings']['density_tolerance']:g} "
            f"| {v['a0']:.4f} | {v['bulk_modulus']:.2f} | {v['C11']:.2f} | {v['C12']:.2f} "
            f"| {v['C44']:.2f} | {v['C_prime']:+.2f} |"
        )
    return [*lines, "", f"Record: {cite(path, r)}"]


def _properties(rec: Records, path: str) -> list[str]:
    if not path or not (rec.root / path).is_file():
        return []
    r = rec[path]
    get = functools.partial(field, r, path)
    reference, arms = get("reference"), get("arms")
    names = sorted(arms)
    lines = [
        "",
        "### Crystal properties against DFT",
        "",
        "Each retrained model's properties by the code and plan of the DFT reference (`crosstrain",
        f"crystal-reference`: {reference['describe']}), in percent of the reference; mean ± standard",
        "deviation over the seeds, the worst seed in brackets.",
        "",
        "| property | DFT | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for key, label, digits in PROPERTY_ROWS:
        cells = []
        for n in names:
            s = arms[n][key]
            cells.append(f"{s['mean']:+.1f} ± {s['std']:.1f} % ({s['worst']:+.1f}, n = {s['n']})")
        lines.append(f"| {label} | {reference['values'][key]:.{digits}f} | " + " | ".join(cells) + " |")
    missing = get("not_evaluated")
    if missing:
        lines += ["", f"Not evaluated (diverged or failed): {', '.join(missing)}."]
    return [*lines, "", f"Record: {cite(path, r)}"]


def _choice_section(rec: Records, path: str) -> tuple[list[str], list[Headline]]:
    if not (rec.root / path).is_file():
        return [], []
    r = rec[path]
    get = functools.partial(field, r, path)
    names, per_seed = get("candidates"), get("per_seed")
    lines = [
        "",
        f"## Does the chooser pick the parent that fine-tunes best? ({get('pair')})",
        "",
        f"`crosstrain suggest` ranked the candidates on each seed's draw of {get('n_train')} training structures",
        "by the zero-shot force error of their `rescaled` start (on those structures); each candidate was then",
        "fine-tuned with `rescaled` on the same draws (same recipe settings, budget, validation) and tested on",
        "the held-out test set. Mean ± standard deviation over the seeds; ranks on the means.",
        "",
        "| parent | zero-shot (eV/Å) | rank | fine-tuned test (eV/Å) | rank |",
        "|---|---|---|---|---|",
    ]
    by_zero, by_tuned = get("chooser_ranking"), get("fine_tuned_ranking")
    for n in names:
        z = [x["zero_shot_force_mae"][n] for x in per_seed]
        t = [x["fine_tuned_force_mae"][n] for x in per_seed]
        lines.append(f"| `{n}` | {_spread(z)} | {by_zero.index(n) + 1} | {_spread(t)} | {by_tuned.index(n) + 1} |")
    agree, seeds = get("first_agrees_seeds"), len(per_seed)
    seconds = max(x["chooser_seconds"] for x in per_seed)
    lines += [
        "",
        f"The chooser's first is the best fine-tuned parent on {agree} of {seeds} seeds "
        f"({'and' if get('first_agrees_on_mean') else 'but not'} on the means); Kendall's tau of the two "
        f"rankings on the means {get('kendall_tau_on_mean'):.2f}. One ranking took at most {seconds:.0f} s "
        f"on this machine.",
        "",
        f"Record: {cite(path, r)}",
        "",
    ]
    lines += [f"- fine-tuned `{n}`: `{p}`" for n, p in get("records").items()]
    head = Headline(
        f"Parent chooser ({get('pair')}): its first choice fine-tunes best",
        f"on {agree} of {seeds} seeds ({len(names)} candidate parents)",
        "pairs.md",
        path,
    )
    return lines, [head]


def _spread(values: list[float]) -> str:
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f} (n = {len(values)})"
