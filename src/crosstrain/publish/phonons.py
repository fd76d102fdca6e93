"""The phonons page: crosstrain's PBE phonon reference, its convergence, and how far the models'
phonons and elastic constants are from DFT. Each section appears once its record exists."""

from __future__ import annotations

from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field, pm, run_sections

MODELS = "benchmarks/phonons-dft/parents_vs_pbe.json"
CONVERGENCE = "benchmarks/phonons-dft/convergence_{}.json"
N22 = "benchmarks/phonons-dft/study_n22.json"
DATA_VS_GPAW = "benchmarks/phonons-dft/data_vs_gpaw_{}.json"
AMPLITUDE = "benchmarks/phonons-dft/amplitude_{}.json"
MODES = ("Γ optical", "X TA", "X LA/LO", "X TO", "L TA", "L LA", "L LO", "L TO")
ELASTIC = (("a0", "a0"), ("bulk_modulus", "B"), ("C11", "C11"), ("C12", "C12"), ("C44_clamped", "C44⁰"))


def phonons(rec: Records) -> tuple[str, list[Headline]]:
    lines = [
        "# Phonons and elastic constants against DFT",
        "",
        GENERATED,
        "",
        "How far the phonons and elastic constants of crosstrain's models are from DFT. The phonon",
        "reference is PBE computed by crosstrain itself (`crosstrain phonon-reference`: GPAW, phonopy finite",
        "displacements, the same phonopy path as the models'); the elastic constants are compared with the",
        "PBE values the mlearn data give (their Elastic group's stresses). Models are compared with the phonon",
        "reference in its own cell and supercell, at the zero-stress PBE lattice constant of the mlearn data.",
        "How to run it: [MD stability, phonons and properties](../how-to/md-properties.md#phonons-against-dft).",
        "A section appears once its record exists.",
    ]
    more, heads = run_sections(rec, (_reference, _convergence, _models, _data, _amplitude, _n22))
    return "\n".join(lines + more) + "\n", heads


def _reference(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(MODELS):
        return [], []
    refs: dict[str, Any] = field(rec[MODELS], MODELS, "references")
    lines = [
        "",
        "## The PBE phonon reference",
        "",
        "Frequencies in THz at Γ, X and L (exact for the supercell's force constants: all three are",
        "commensurate with it). `own a0` is the lattice constant of the same DFT setting from an equation of",
        "state; the phonons are computed at the mlearn cell `a0`.",
        "",
        "| element | a0 (Å) | own a0 (Å) | " + " | ".join(MODES) + " | CPU hours |",
        "|---|---|---|" + "---|" * len(MODES) + "---|",
    ]
    from crosstrain.analysis.phonons import named_modes

    for element, ref in refs.items():
        modes = named_modes(ref["frequencies_THz"])
        own = "not computed" if ref.get("own_a0") is None else f"{ref['own_a0']:.4f}"
        lines.append(
            f"| {element} | {ref['a0']:.4f} | {own} | "
            + " | ".join(f"{modes[m]:.3f}" for m in MODES)
            + f" | {ref['cpu_seconds'] / 3600:.1f} |"
        )
    lines += [""] + [f"- {element}: {ref['describe']}; made by `{ref['command']}`" for element, ref in refs.items()]
    return lines, []


def _convergence(rec: Records) -> tuple[list[str], list[Headline]]:
    paths = [CONVERGENCE.format(e) for e in ("Si", "Ge") if rec.exists(CONVERGENCE.format(e))]
    if not paths:
        return [], []
    lines = [
        "",
        "## Convergence of the reference's settings",
        "",
        "The Γ optical frequency in the 2-atom cell (exact there), one setting varied at a time around the",
        "reference's base setting; the change is relative to the base.",
    ]
    for path in paths:
        result = rec[path].result
        k = result["base_settings"]["kpoint_density"]
        base = next(r for r in result["rows"] if r["varied"] == "kpoint_density" and r["value"] == k)
        lines += [
            "",
            f"**{result['element']}** (a0 = {result['a0']:.4f} Å)",
            "",
            "| setting | value | Γ optical (THz) | change |",
        ]
        lines.append("|---|---|---|---|")
        for r in result["rows"]:
            if "failed" in r:
                lines.append(f"| {r['varied']} | {r['value']:g} | failed: {r['failed']} | |")
                continue
            change = 100 * (r["gamma_optical_THz"] / base["gamma_optical_THz"] - 1)
            lines.append(f"| {r['varied']} | {r['value']:g} | {r['gamma_optical_THz']:.3f} | {change:+.2f} % |")
        lines += ["", f"Record: {cite(path, rec[path])}"]
    return lines, []


def _models(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(MODELS):
        return [], []
    rows: list[dict[str, Any]] = field(rec[MODELS], MODELS, "rows")
    lines = [
        "",
        "## Models against DFT",
        "",
        "Phonon frequencies: the model minus PBE, in percent of PBE, in the reference's cell. Elastic",
        "constants: at the model's own lattice constant, against the mlearn PBE values (C44⁰ with clamped ions,",
        "the one the data give). `scales`: the element's length and energy scales s_L, s_E (1 unless a",
        "`rescaled` start fitted them; a rescaled model's force constants are its parent's at s_L r times",
        "s_E s_L²). `300 K slope`: the least-squares slope of the model's forces against the mlearn PBE forces",
        "on the element's coldest (300 K) AIMD snapshots (nearly harmonic displacements; training and test",
        "snapshots alike): below 1, the model is softer than its own data.",
        "",
        "| model | group | element | Γ optical | worst mode | DOS overlap | "
        + " | ".join(label for _, label in ELASTIC)
        + " | scales s_L, s_E | 300 K slope |",
        "|---|---|---|---|---|---|" + "---|" * len(ELASTIC) + "---|---|",
    ]
    for r in rows:
        ph = r["phonons"]["error_percent"]
        worst = max(ph.values(), key=abs)
        worst_name = next(k for k, v in ph.items() if v == worst)
        elastic = " | ".join(f"{r['error_percent'][k]:+.1f} %" for k, _ in ELASTIC)
        lines.append(
            f"| {r['model']} | {r['group']} | {r['element']} | {ph['Γ optical']:+.1f} % "
            f"| {worst:+.1f} % ({worst_name}) "
            f"| {r['phonons']['dos_overlap']:.3f} | {elastic} | {r['length_scale']:.3f}, {r['energy_scale']:.3f} "
            f"| {r['harmonic_forces']['slope']:.3f} |"
        )
    lines += ["", *_reading(rows), "", f"Record: {cite(MODELS, rec[MODELS])}"]
    return lines, []


def _reading(rows: list[dict[str, Any]]) -> list[str]:
    """What the table says about where the softness sits, read off its rows: models trained on all
    their data (no parent) against those transferred from a parent."""

    def span(values: list[float], fmt: str) -> str:
        lo, hi = min(values), max(values)
        return format(lo, fmt) if lo == hi else f"{format(lo, fmt)} to {format(hi, fmt)}"

    out = []
    for label in dict.fromkeys(r["group"] for r in rows):
        group = [r for r in rows if r["group"] == label]
        slopes = [r["harmonic_forces"]["slope"] for r in group]
        gamma = [r["phonons"]["error_percent"]["Γ optical"] for r in group]
        bulk = [r["error_percent"]["bulk_modulus"] for r in group]
        out.append(
            f"- {label} ({len(group)} models): 300 K force slope {span(slopes, '.3f')}, "
            f"Γ optical {span(gamma, '+.1f')} % against PBE, bulk modulus {span(bulk, '+.1f')} % against the data's."
        )
    return [
        "Where the softness sits, read off the rows above, by group (a slope near 1 with a low Γ says the model",
        "follows its data and the data's curvature is below the converged PBE reference's; a slope below 1",
        "says the model is softer than its own data):",
        "",
        *out,
    ]


def _data(rec: Records) -> tuple[list[str], list[Headline]]:
    paths = [DATA_VS_GPAW.format(e) for e in ("Si", "Ge") if rec.exists(DATA_VS_GPAW.format(e))]
    if not paths:
        return [], []
    lines = [
        "",
        "## Are the data soft?",
        "",
        "GPAW forces (the reference's cutoff and SCF tolerance, the k-point density below) on the mlearn data's own",
        "coldest AIMD snapshots, against the data's VASP forces: the slope of the data's forces against GPAW's",
        "(below 1: the data are softer than GPAW at these displacements) and the mean absolute difference.",
        "",
        "| element | snapshots | k-points per Å⁻¹ | slope data vs GPAW | force MAE (eV/Å) | GPAW force RMS (eV/Å) |",
        "|---|---|---|---|---|---|",
    ]
    for path in paths:
        r = rec[path].result
        lines.append(
            f"| {r['element']} | {r['structures']} at {r['temperature']:g} K | {r['settings']['kpoint_density']:g} "
            f"| {r['slope_data_vs_gpaw']:.3f} | {r['force_mae']:.4f} | {r['gpaw_force_rms']:.3f} |"
        )
    lines += [""] + [f"Record: {cite(path, rec[path])}" for path in paths]
    return lines, []


def _amplitude(rec: Records) -> tuple[list[str], list[Headline]]:
    paths = [AMPLITUDE.format(e) for e in ("Si", "Ge") if rec.exists(AMPLITUDE.format(e))]
    if not paths:
        return [], []
    lines = [
        "",
        "## Soft only near the minimum?",
        "",
        "The Γ optical mode frozen at growing amplitude u (the two atoms of the primitive cell moved apart along",
        "[100] by u, at the mlearn PBE lattice constant): the effective frequency sqrt(2F/(m u))/2π from the",
        "restoring force F, PBE (GPAW at the phonon reference's setting) and each model, the model's error in percent.",
        "It tends to the harmonic Γ optical frequency as u → 0.",
    ]
    for path in paths:
        r = rec[path].result
        names = list(r["models"])
        lines += [
            "",
            f"**{r['element']}**",
            "",
            "| u (Å) | PBE (THz) | " + " | ".join(f"{n} (THz, %)" for n in names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for row in r["rows"]:
            cells = [f"{row[f'omega_{n}_THz']:.2f} ({row[f'error_{n}_pct']:+.1f} %)" for n in names]
            lines.append(f"| {row['u']:g} | {row['omega_pbe_THz']:.2f} | " + " | ".join(cells) + " |")
    lines += [""] + [f"Record: {cite(path, rec[path])}" for path in paths]
    return lines, []


def _n22(rec: Records) -> tuple[list[str], list[Headline]]:
    if not rec.exists(N22):
        return [], []
    cells: dict[str, Any] = field(rec[N22], N22, "cells")
    base = field(rec[N22], N22, "spec", "report", "baseline")
    keys = [("phonon_gamma_error_pct", "Γ optical (%)"), ("phonon_worst_error_pct", "worst mode (%)")]
    keys += [("phonon_dos_overlap", "DOS overlap")]
    keys += [(f"elastic_{k}_error_pct", f"{label} (%)") for k, label in ELASTIC[1:]]
    keys += [("force_mae", "forces (eV/Å)"), ("energy_mae_without_Surface", "energy w/o slabs (meV/atom)")]
    lines = [
        "",
        "## Ge from 22 structures",
        "",
        "Each retrained model of the study (`report.properties`), mean ± standard deviation over seeds; the",
        "test errors on the 25 leak-free test structures, energies without the surface slabs (the totals",
        "with them are in the record).",
        "",
        "| arm | " + " | ".join(label for _, label in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, cell in cells.items():
        values = [pm(cell[k], _digits(k), N22) if k in cell else "–" for k, _ in keys]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    paired = [
        (name, text) for name, cell in cells.items() for k, text in cell.items() if k == f"force_mae_vs_{base}_text"
    ]
    lines += [""] + [f"- `{name}` against `{base}`, test forces paired by seed: {text}." for name, text in paired]
    lines += ["", f"Record: {cite(N22, rec[N22])}"]
    return lines, []


def _digits(key: str) -> int:
    return 4 if key == "force_mae" else 3 if "overlap" in key else 2 if key.startswith("energy") else 1
