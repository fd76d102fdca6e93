"""The element-pairs page: the reverse direction (Si from a Ge parent) and how well the parent
chooser (``crosstrain suggest``) predicts which parent fine-tunes best. Each section appears once its
record exists."""

from __future__ import annotations

import functools
from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, seeds_text

REVERSE = "benchmarks/reverse-transfer/study_n22.json"
REVERSE_CURVE = "benchmarks/reverse-transfer/study_curve.json"
CHOICE = ("benchmarks/parent-choice/rank_agreement_si-ge.json",)


def pairs(rec: Records) -> tuple[str, list[Headline]]:
    lines = [
        "# Other element pairs, and choosing a parent",
        "",
        GENERATED,
        "",
        "The Si → Ge results are on [their own page](dft-transfer.md). This page holds the reverse",
        "direction and the check of the parent chooser; a section appears once its record exists.",
    ]
    heads: list[Headline] = []
    reverse, head = _reverse_section(rec)
    lines += reverse
    heads += head
    for path in CHOICE:
        choice, head = _choice_section(rec, path)
        lines += choice
        heads += head
    return "\n".join(lines) + "\n", heads


def _reverse_section(rec: Records) -> tuple[list[str], list[Headline]]:
    if not (rec.root / REVERSE).is_file():
        return [], []
    r = rec[REVERSE]
    get = functools.partial(field, r, REVERSE)
    transfer, scratch = get("cells", "rescaled n=22"), get("cells", "scratch n=22")
    zero = transfer.get("zero_shot_force_mae")
    lines = [
        "",
        "## Si from a Ge parent",
        "",
        "Si models from 22 mlearn Si structures: `rescaled` transfer from the shipped `ge-dft5` parent",
        "against `scratch`, with the start rules of the Ge curve (each arm's recipe, the same draws, budget",
        "and validation). Test: 25 held-out Si structures of the split, which share no family with training.",
        f"Seeds {seeds_text(r)}; mean ± standard deviation over seeds, diverged runs counted.",
        "",
        "| | `rescaled` from `ge-dft5` | `scratch` |",
        "|---|---|---|",
        f"| test force MAE (eV/Å) | {pm(transfer['force_mae'], 4, REVERSE)} | {pm(scratch['force_mae'], 4, REVERSE)} |",
        f"| test energy MAE (meV/atom) | {pm(transfer['energy_mae'], 2, REVERSE)} "
        f"| {pm(scratch['energy_mae'], 2, REVERSE)} |",
    ]
    if zero is not None:
        lines.append(f"| zero-shot test force MAE (eV/Å) | {pm(zero, 4, REVERSE)} | |")
    lines += [
        "",
        f"Forces, paired by seed: {transfer.get('force_mae_vs_scratch_text', 'not recorded')}.",
        "",
        f"Record: {cite(REVERSE, r)}",
    ]
    lines += _reverse_curve(rec)
    head = Headline(
        "Si forces from 22 DFT structures, `rescaled` from `ge-dft5` vs `scratch`",
        f"{pm(transfer['force_mae'], 4, REVERSE)} vs {pm(scratch['force_mae'], 4, REVERSE)} eV/Å",
        "pairs.md",
        REVERSE,
    )
    return lines, [head]


def _reverse_curve(rec: Records) -> list[str]:
    if not (rec.root / REVERSE_CURVE).is_file():
        return []
    r = rec[REVERSE_CURVE]
    cells: dict[str, Any] = field(r, REVERSE_CURVE, "cells")
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
        row = [pm(c["force_mae"], 4, REVERSE_CURVE) if c else "-" for c in (t, s)]
        lines.append(f"| {n} | {row[0]} | {row[1]} |")
    return [*lines, "", f"Seeds {seeds_text(r)}.", "", f"Record: {cite(REVERSE_CURVE, r)}"]


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
