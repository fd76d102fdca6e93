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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms

from crosstrain.analysis.phonons import PhononBands
from crosstrain.io.atomic import write_text
from crosstrain.provenance import Provenance, provenance
from crosstrain.schema import FLAT, OMIT_NONE, JSONRecord
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


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class StructureMD(JSONRecord):
    """One NVT run of the diamond cell at one temperature: whether it stayed physical; when it did,
    the RDF (``r``, ``rdf``) and ADF (``angle``, ``adf``) over the production frames, and their
    distance to the reference's run (RDF L1 distance, ADF overlap)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    stable: bool
    reason: str
    time_ps: float
    r: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)
    rdf: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)
    angle: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)
    adf: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)
    frames: int | None = field(default=None, metadata=OMIT_NONE)
    mean_temperature: float | None = field(default=None, metadata=OMIT_NONE)
    rdf_l1_to_reference: float | None = field(default=None, metadata=OMIT_NONE)
    adf_overlap_with_reference: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class ValidationResult(JSONRecord):
    """What :func:`validate_models` measured (``validation.json``): the models, the settings, each
    model's phonons, its MD runs by temperature (K, as text) and, with test structures, its
    per-structure force errors by temperature."""

    SCHEMA_VERSION: ClassVar[int] = 1

    element: str
    models: dict[str, str]  # name -> checkpoint path, or "sw"
    settings: ValidationSettings
    phonons: dict[str, PhononBands]
    md: dict[str, dict[str, StructureMD]]
    force_by_temperature: dict[str, dict[str, tuple[float, ...]]] | None = field(default=None, metadata=OMIT_NONE)
    provenance: Provenance = field(kw_only=True, metadata=FLAT)


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
) -> StructureMD:
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
    if not r.stable:
        return StructureMD(stable=r.stable, reason=r.reason, time_ps=r.time_ps)
    frames: list[Atoms] = list(read(traj, index=f"{s.equilibration_steps // s.frame_every}:"))
    rr, g = rdf(frames, s.rmax)
    theta, h = adf(frames, s.bond_cutoff)
    return StructureMD(
        stable=r.stable,
        reason=r.reason,
        time_ps=r.time_ps,
        r=_floats(rr),
        rdf=_floats(g),
        angle=_floats(theta),
        adf=_floats(h),
        frames=len(frames),
        mean_temperature=float(np.mean(r.temperatures[len(r.temperatures) // 3 :])),
    )


def _distances(md: dict[str, dict[str, StructureMD]]) -> dict[str, dict[str, StructureMD]]:
    """Each run with its RDF L1 distance and ADF overlap with the reference run at that temperature."""
    from crosstrain.analysis.pdos import overlap

    ref = md.get(REFERENCE, {})

    def compared(t: str, run: StructureMD) -> StructureMD:
        base = ref.get(t)
        if not run.stable or base is None or not base.stable:
            return run
        r, g, g0 = np.array(run.r), np.array(run.rdf), np.array(base.rdf)
        return replace(
            run,
            rdf_l1_to_reference=float(np.trapezoid(np.abs(g - g0), r) / np.trapezoid(g0, r)),
            adf_overlap_with_reference=overlap(np.array(run.angle), np.array(run.adf), np.array(base.adf)),
        )

    return {name: {t: compared(t, run) for t, run in runs.items()} for name, runs in md.items()}


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
    *,
    test: Sequence[Structure] | None = None,
    settings: ValidationSettings | None = None,
    log: Callable[[str], None] = print,
) -> ValidationResult:
    """Run every analysis above; returns the numbers (also in ``validation.json``)."""
    from crosstrain.analysis.pdos import overlap
    from crosstrain.analysis.phonons import band_rms_difference, phonons
    from crosstrain.species import lattice_guess

    s = settings or ValidationSettings()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    factories = calculator_factories(models, element)
    ph: dict[str, PhononBands] = {}
    for name, factory in factories.items():
        log(f"phonons: {name}")
        try:
            a0 = _lattice_constant(element, factory, lattice_guess(element))
        except Exception as exc:  # no minimum at all: a result, reported; phonons at the guess
            log(f"{name}: no equation-of-state minimum ({exc}); phonons at {lattice_guess(element):.3f} Å")
            a0 = lattice_guess(element)
        ph[name] = phonons(element, factory, a0)
    ref = ph[REFERENCE]
    ph = {
        name: replace(
            p,
            dos_overlap_with_reference=overlap(np.array(p.dos_frequencies), np.array(p.dos), np.array(ref.dos)),
            band_rms_to_reference_THz=band_rms_difference(p, ref),
        )
        for name, p in ph.items()
    }
    md: dict[str, dict[str, StructureMD]] = {}
    for name, factory in factories.items():
        for t in s.temperatures:
            log(f"MD: {name} at {t:g} K")
            md.setdefault(name, {})[f"{t:g}"] = _structure_md(name, factory, element, ref.a0, t, s, folder)
    force_by_temperature = None
    if test:
        from crosstrain.analysis.transferability import by_temperature
        from crosstrain.io.checkpoint import load_checkpoint

        log(f"force errors on {len(test)} test structures by temperature")
        nets = {n: load_checkpoint(p).model for n, p in models.items() if p.lower() != "sw"}
        errors = by_temperature(nets, test)
        force_by_temperature = {n: {t: _floats(v) for t, v in by_t.items()} for n, by_t in errors.items()}
    result = ValidationResult(
        element=element,
        models={REFERENCE: "sw", **models},
        settings=s,
        phonons=ph,
        md=_distances(md),
        force_by_temperature=force_by_temperature,
        provenance=provenance(),
    )
    _plots(result, folder)
    write_text(folder / "validation.json", json.dumps(result.to_json(), default=float))
    _report(result, folder)
    return result


def _plots(result: ValidationResult, folder: Path) -> None:
    from crosstrain.report import pyplot

    plt = pyplot()

    from crosstrain.analysis.phonons import plot_phonons
    from crosstrain.report import save_figure

    plot_phonons(result.phonons, folder / "phonons.png", f"{result.element}: harmonic phonons (phonopy)")
    temps = list(next(iter(result.md.values())))
    for kind, x, y, xlabel in (("rdf", "r", "rdf", "r (Å)"), ("adf", "angle", "adf", "bond angle (deg)")):
        fig, axes = plt.subplots(1, len(temps), figsize=(4 * len(temps), 3.2), squeeze=False, constrained_layout=True)
        for ax, t in zip(axes[0], temps):
            for k, (name, runs) in enumerate(result.md.items()):
                run = runs[t]
                if run.stable:
                    xs, ys = getattr(run, x), getattr(run, y)
                    ax.plot(xs, ys, color=f"C{k}", lw=1.8 if name == REFERENCE else 1.1, label=name)
            ax.set_title(f"{t} K")
            ax.set_xlabel(xlabel)
        axes[0][0].set_ylabel("g(r)" if kind == "rdf" else "density")
        axes[0][0].legend(fontsize=8)
        save_figure(fig, folder / f"{kind}.png")
        plt.close(fig)
    if result.force_by_temperature:
        from crosstrain.analysis.transferability import boxplot

        boxplot(
            result.force_by_temperature,
            folder / "force_by_temperature.png",
            f"{result.element}: force error per structure by temperature",
        )


def _number(value: float | None, digits: int) -> str:
    return f"{float('nan') if value is None else value:.{digits}f}"


def _report(result: ValidationResult, folder: Path) -> None:
    from crosstrain.report import markdown_table, write_report

    rows = [
        [
            n,
            f"{p.a0:.4f}",
            f"{p.max_frequency:.2f}",
            _number(p.dos_overlap_with_reference, 3),
            _number(p.band_rms_to_reference_THz, 3),
        ]
        for n, p in result.phonons.items()
    ]
    lines = [
        f"# Physics validation: {result.element}",
        "",
        markdown_table(["model", "a0 (Å)", "max frequency (THz)", "DOS overlap with SW", "band RMS vs SW (THz)"], rows),
        "",
        "![phonons](phonons.png)",
        "",
    ]
    md_rows = []
    for name, runs in result.md.items():
        for t, r in runs.items():
            md_rows.append(
                [
                    name,
                    t,
                    "yes" if r.stable else f"no: {r.reason}",
                    _number(r.rdf_l1_to_reference, 3),
                    _number(r.adf_overlap_with_reference, 3),
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
    if result.force_by_temperature:
        fb = result.force_by_temperature
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
    write_report(folder, "report", title=f"crosstrain validation {result.element}", markdown="\n".join(lines))
