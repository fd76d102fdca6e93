"""Physics validation of several models of one element, next to the Stillinger-Weber reference.

``crosstrain validate`` runs, for every model (a crosstrain checkpoint, or ``sw``):

- harmonic phonons with phonopy at the model's own lattice constant (band structure Γ-X-U|K-Γ-L
  and DOS), with the DOS overlap and band RMS difference to the reference;
- NVT (Langevin) MD of the 64-atom diamond cell at the reference lattice constant at several
  temperatures: whether it stays physical, and the radial and angular distribution functions
  over the production frames, with their distance to the reference's;
- with ``test`` structures (carrying ``temperature``), the per-structure force error at each
  temperature as box plots (paper Figure 4).

Outputs in ``out``: ``validation.json`` (every number), ``phonons.png``, ``rdf.png``, ``adf.png``,
``force_by_temperature.png``, ``report.md``/``report.html`` and the MD trajectories (extxyz).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from crosstrain.io.atomic import write_text
from crosstrain.provenance import provenance
from crosstrain.structure import Structure

REFERENCE = "SW"


@dataclass(frozen=True)
class ValidationSettings:
    temperatures: tuple[float, ...] = (600.0, 1200.0, 1800.0)
    md_steps: int = 3000  # per temperature, 1 fs steps
    equilibration_steps: int = 1000  # discarded before RDF/ADF frames
    frame_every: int = 20
    supercell: int = 2  # conventional cells per edge: 2 -> 64 atoms
    rmax: float = 5.0  # Å, RDF range (half the 64-atom cell edge is ~5.4-5.6 Å)
    bond_cutoff: float = 2.9  # Å, ADF bonds (between the first and second shells of Si and Ge)
    seed: int = 0


def calculator_factories(models: dict[str, str], element: str) -> dict[str, Callable[[], Any]]:
    """``{name: factory}``: ``sw`` is the SW reference of ``element``, anything else a checkpoint."""
    from crosstrain.analysis.references import sw_calculator
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.species import to_atomic_number

    out: dict[str, Callable[[], Any]] = {REFERENCE: lambda: sw_calculator(element)}
    for name, path in models.items():
        if path.lower() == "sw":
            continue
        model = load_checkpoint(path).model  # fails early, naming the file
        model.species.check(np.array([to_atomic_number(element)]), source=path)
        out[name] = functools.partial(CrosstrainCalculator, path)
    return out


def _structure_md(
    name: str, factory: Callable[[], Any], element: str, a0: float, t: float, s: ValidationSettings, folder: Path
) -> dict[str, Any]:
    from ase.build import bulk
    from ase.io import read

    from crosstrain.analysis.structure import adf, rdf
    from crosstrain.md.run import MDSettings, run_md

    atoms = bulk(element, "diamond", a=a0, cubic=True) * ((s.supercell,) * 3)
    traj = folder / f"md_{name}_{t:g}K.extxyz"
    settings = MDSettings(
        temperature=t, steps=s.md_steps, seed=s.seed, trajectory=str(traj), trajectory_every=s.frame_every
    )
    r = run_md(atoms, factory(), settings)
    out: dict[str, Any] = {"stable": r.stable, "reason": r.reason, "time_ps": r.time_ps}
    if not r.stable:
        return out
    frames: list[Atoms] = list(read(traj, index=f"{s.equilibration_steps // s.frame_every}:"))
    rr, g = rdf(frames, s.rmax)
    theta, h = adf(frames, s.bond_cutoff)
    out.update(
        {
            "r": rr.tolist(),
            "rdf": g.tolist(),
            "angle": theta.tolist(),
            "adf": h.tolist(),
            "frames": len(frames),
            "mean_temperature": float(np.mean(r.temperatures[len(r.temperatures) // 3 :])),
        }
    )
    return out


def _distances(md: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Add to each run its RDF L1 distance and ADF overlap with the reference run at that temperature."""
    from crosstrain.analysis.pdos import overlap

    ref = md.get(REFERENCE, {})
    for runs in md.values():
        for t, run in runs.items():
            base = ref.get(t)
            if not run.get("stable") or not base or not base.get("stable"):
                continue
            r, g, g0 = np.array(run["r"]), np.array(run["rdf"]), np.array(base["rdf"])
            run["rdf_l1_to_reference"] = float(np.trapezoid(np.abs(g - g0), r) / np.trapezoid(g0, r))
            a = np.array(run["angle"])
            run["adf_overlap_with_reference"] = overlap(a, np.array(run["adf"]), np.array(base["adf"]))


def _lattice_constant(element: str, factory: Callable[[], Any], guess: float, span: float = 0.03) -> float:
    """The EOS minimum, refitted around the first estimate when that lies near the scan's edge."""
    from crosstrain.analysis.crystal import equation_of_state

    for _ in range(3):
        with warnings.catch_warnings():  # "minimum not in your volumes": handled by refitting
            warnings.simplefilter("ignore", UserWarning)
            a0 = equation_of_state(element, factory, guess, span=span)["a0"]
        if abs(a0 / guess - 1) < 0.6 * span:
            break
        guess = a0
    return float(a0)


def validate_models(
    models: dict[str, str],
    element: str,
    out: str | Path,
    test: Sequence[Structure] | None = None,
    settings: ValidationSettings | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every analysis above; returns the numbers (also in ``validation.json``)."""
    from crosstrain.analysis.pdos import overlap
    from crosstrain.analysis.phonons import band_rms_difference, phonons
    from crosstrain.workflows.properties import lattice_guess

    s = settings or ValidationSettings()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    factories = calculator_factories(models, element)
    result: dict[str, Any] = {"element": element, "models": {REFERENCE: "sw", **models}, "settings": asdict(s)}
    ph: dict[str, Any] = {}
    for name, factory in factories.items():
        log(f"phonons: {name}")
        try:
            a0 = _lattice_constant(element, factory, lattice_guess(element))
        except Exception as exc:  # no minimum at all: a result, reported; phonons at the guess
            log(f"{name}: no equation-of-state minimum ({exc}); phonons at {lattice_guess(element):.3f} Å")
            a0 = lattice_guess(element)
        ph[name] = phonons(element, factory, a0)
    for p in ph.values():
        f = np.array(p["dos_frequencies"])
        p["dos_overlap_with_reference"] = overlap(f, np.array(p["dos"]), np.array(ph[REFERENCE]["dos"]))
        p["band_rms_to_reference_THz"] = band_rms_difference(p, ph[REFERENCE])
    result["phonons"] = ph
    a_ref = ph[REFERENCE]["a0"]
    md: dict[str, dict[str, Any]] = {}
    for name, factory in factories.items():
        for t in s.temperatures:
            log(f"MD: {name} at {t:g} K")
            md.setdefault(name, {})[f"{t:g}"] = _structure_md(name, factory, element, a_ref, t, s, folder)
    _distances(md)
    result["md"] = md
    if test:
        from crosstrain.analysis.transferability import by_temperature
        from crosstrain.io.checkpoint import load_checkpoint

        log(f"force errors on {len(test)} test structures by temperature")
        nets = {n: load_checkpoint(p).model for n, p in models.items() if p.lower() != "sw"}
        result["force_by_temperature"] = by_temperature(nets, test)
    _plots(result, folder)
    result.update(provenance())
    write_text(folder / "validation.json", json.dumps(result, default=float))
    _report(result, folder)
    return result


def _plots(result: dict[str, Any], folder: Path) -> None:
    from crosstrain.report import pyplot

    plt = pyplot()

    from crosstrain.analysis.phonons import plot_phonons
    from crosstrain.report import save_figure

    plot_phonons(result["phonons"], folder / "phonons.png", f"{result['element']}: harmonic phonons (phonopy)")
    temps = list(next(iter(result["md"].values())))
    for kind, x, y, xlabel in (("rdf", "r", "rdf", "r (Å)"), ("adf", "angle", "adf", "bond angle (deg)")):
        fig, axes = plt.subplots(1, len(temps), figsize=(4 * len(temps), 3.2), squeeze=False, constrained_layout=True)
        for ax, t in zip(axes[0], temps):
            for k, (name, runs) in enumerate(result["md"].items()):
                run = runs[t]
                if run.get("stable"):
                    ax.plot(run[x], run[y], color=f"C{k}", lw=1.8 if name == REFERENCE else 1.1, label=name)
            ax.set_title(f"{t} K")
            ax.set_xlabel(xlabel)
        axes[0][0].set_ylabel("g(r)" if kind == "rdf" else "density")
        axes[0][0].legend(fontsize=8)
        save_figure(fig, folder / f"{kind}.png")
        plt.close(fig)
    if result.get("force_by_temperature"):
        from crosstrain.analysis.transferability import boxplot

        boxplot(
            result["force_by_temperature"],
            folder / "force_by_temperature.png",
            f"{result['element']}: force error per structure by temperature",
        )


def _report(result: dict[str, Any], folder: Path) -> None:
    from crosstrain.report import markdown_table, write_report

    ph = result["phonons"]
    rows = [
        [
            n,
            f"{p['a0']:.4f}",
            f"{p['max_frequency']:.2f}",
            f"{p['dos_overlap_with_reference']:.3f}",
            f"{p['band_rms_to_reference_THz']:.3f}",
        ]
        for n, p in ph.items()
    ]
    lines = [
        f"# Physics validation: {result['element']}",
        "",
        markdown_table(["model", "a0 (Å)", "max frequency (THz)", "DOS overlap with SW", "band RMS vs SW (THz)"], rows),
        "",
        "![phonons](phonons.png)",
        "",
    ]
    md_rows = []
    for name, runs in result["md"].items():
        for t, r in runs.items():
            md_rows.append(
                [
                    name,
                    t,
                    "yes" if r["stable"] else f"no: {r['reason']}",
                    f"{r.get('rdf_l1_to_reference', float('nan')):.3f}",
                    f"{r.get('adf_overlap_with_reference', float('nan')):.3f}",
                ]
            )
    lines += [
        "NVT MD of 64 atoms at the SW lattice constant; RDF distance = ∫|g − g_SW| dr / ∫ g_SW dr "
        "(0 identical); ADF overlap = ∫ min(p, p_SW) (1 identical).",
        "",
        markdown_table(["model", "T (K)", "stable", "RDF distance to SW", "ADF overlap with SW"], md_rows),
        "",
        "![rdf](rdf.png)",
        "",
        "![adf](adf.png)",
        "",
    ]
    if result.get("force_by_temperature"):
        fb = result["force_by_temperature"]
        temps = list(next(iter(fb.values())))
        rows = [[t] + [f"{np.median(fb[n][t]):.4f}" for n in fb] for t in temps]
        lines += [
            "Median per-structure force MAE (eV/Å) by temperature:",
            "",
            markdown_table(["T (K)", *fb], rows),
            "",
            "![force errors](force_by_temperature.png)",
            "",
        ]
    write_report(folder, "report", f"crosstrain validation {result['element']}", "\n".join(lines))
