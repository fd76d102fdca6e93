"""What an active-learning run did, for a reader: the learning curve in DFT calls, the structures
chosen and why, where the time went, and whether the final model runs stable MD."""

from __future__ import annotations

from pathlib import Path

from crosstrain.active.records import ActiveState
from crosstrain.io.atomic import write_text


def markdown(state: ActiveState) -> str:
    s = state.settings
    a = s["active"]
    committee = "one model per round (no committee)" if a["selection"] == "random" else f"committee of {a['committee']}"
    lines = [
        f"# Active learning of {s['element']}",
        "",
        f"Selection `{a['selection']}`, budget {a['budget']} DFT calls ({a['initial']} to start, then {a['batch']} "
        f"per round), {committee}, seed {a['seed']}; DFT settings {s['dft_sha256'][:16]} "
        f"({s['dft']['code']} {s['dft']['xc']}, {s['dft']['ecut_ev']:g} eV, k-point density "
        f"{s['dft']['kpoint_density']:g}/Å⁻¹). Stopped: {state.stopped or 'not yet'}.",
        "",
        "| round | DFT calls | labels | test force MAE (eV/Å) | test energy MAE (meV/atom) | "
        "largest deviation in pool (eV/Å) | explore (s) | DFT wall (s) | train (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in state.rounds:
        choice = r.choice or {}
        lines.append(
            f"| {r.round} | {r.dft_calls} | {r.labels} | {_fmt(r.test.force_mae if r.test else None, 4)} | "
            f"{_fmt(r.test.energy_mae if r.test else None, 2)} | {_fmt(choice.get('largest_deviation'), 3)} | "
            f"{_fmt(choice.get('explore_seconds'), 0)} | {_fmt(choice.get('dft_wall_seconds'), 0)} | "
            f"{_fmt(r.train_seconds, 0)} |"
        )
    lines += ["", "Chosen in each round (a round's labels are those its committee was trained on):", ""]
    for r in state.rounds:
        picks = (r.choice or {}).get("picks", [])
        text = "; ".join(
            (f"{p['what']}: " if p.get("what") else "")
            + p["source"]
            + ("" if p["uncertainty"] is None else f" ({p['uncertainty']:.3f} eV/Å)")
            for p in picks
        )
        why = picks[0]["why"].split(", ")[0] if picks else ""  # per pick: whose turn (stratified)
        if any("turn" in p["why"] for p in picks):
            why += ", in turns over the kinds of cell"
        lines.append(f"- round {r.round}: {text or 'nothing'}{f' — {why}' if why else ''}")
    final = state.final
    if final is not None:
        test, stab = final.test, final.stability
        force, energy = (test.force_mae, test.energy_mae) if test else (None, None)
        lines += [
            "",
            f"Final model `{final.checkpoint}`: {final.labels} labels from {final.dft_calls} DFT calls; "
            f"test force MAE {_fmt(force, 4)} eV/Å, energy MAE {_fmt(energy, 2)} "
            f"meV/atom; MD stable in {_fmt(100 * stab.fraction_stable, 0)} % of runs "
            f"(64 atoms, {', '.join(stab.report.by_temperature)} K).",
        ]
    return "\n".join(lines) + "\n"


def _fmt(x: float | None, digits: int) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def write_report(state: ActiveState, out: Path) -> Path:
    path = Path(out) / "report.md"
    write_text(path, markdown(state))
    return path
