"""The end-to-end demo behind ``crosstrain demo``: Si -> Ge transfer vs scratch on built-in data.

1. Stillinger-Weber Si and Ge data from LAMMPS (a reduced temperature grid).
2. A Si model trained on the Si data.
3. Ge models from a handful of Ge structures: transfer from Si (``full`` on SW data, ``rescaled``
   on DFT data, as measured best there) and from ``scratch``, with the same data, steps and
   validation (on DFT data each arm at the learning rate chosen for it at n = 22); plus the
   zero-shot errors of ``full`` and ``rescaled``.
4. Test errors on held-out Ge data, per temperature.
5. MD stability runs of the Ge models and their phonon densities of states from MD, next to the
   Stillinger-Weber reference.

A Markdown + HTML report with figures and a JSON of every number; the report's first lines say
how much transfer helped. Every stage is cached in the output folder: a rerun reuses finished
data, models and MD, and a killed run resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crosstrain.config import Strategy, config_from_dict
from crosstrain.data.extxyz import read_structures
from crosstrain.data.sw import SWProtocol
from crosstrain.data.sw_dataset import build_sw_dataset
from crosstrain.errors import SchemaError
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import load_checkpoint
from crosstrain.parallel import run_each
from crosstrain.progress import Say
from crosstrain.provenance import provenance
from crosstrain.report import markdown_table, save_figure, write_report
from crosstrain.structure import Structure
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import evaluate
from crosstrain.train.pipeline import zero_shot_report
from crosstrain.train.records import FitReport, Metrics, ZeroShotReport
from crosstrain.workflows.demo_records import ArmStability, DemoArm, DemoMD, DemoResult, DemoSource, PDOSRun

if TYPE_CHECKING:
    from ase import Atoms


@dataclass(frozen=True)
class DemoScale:
    temperatures: tuple[float, ...]
    per_temperature: int
    n_train: int  # per temperature (training pool)
    n_valid: int
    n_test: int
    ge_samples: int
    parent_epochs: int
    ge_steps: int
    md_temperatures: tuple[float, ...]
    md_runs: int
    md_steps: int
    pdos_steps: int
    compile: bool = True  # the compiled training step of the DFT recipes (pays off from ~1,000 steps)


SCALES = {
    "quick": DemoScale(
        tuple(float(t) for t in range(300, 3601, 300)), 12, 4, 2, 6, 5, 20, 200, (600.0, 1500.0), 2, 250, 1200
    ),
    "tiny": DemoScale((600.0, 1500.0), 6, 2, 1, 3, 2, 2, 6, (600.0,), 1, 20, 60),  # the end-to-end test
}
#: the DFT demo (mlearn data); only the training and MD fields apply, ``n_train`` caps the Si set
DFT_SCALES = {
    "quick": DemoScale((), 0, 10_000, 0, 0, 5, 8, 1800, (600.0, 1500.0), 2, 250, 1200),
    "tiny": DemoScale((), 0, 8, 0, 0, 2, 1, 4, (600.0,), 1, 20, 60, compile=False),
}


def transfer_arm(dft: bool) -> str:
    """The transfer strategy the demo trains: ``rescaled`` on DFT data (best there:
    ``benchmarks/dft-transfer/dft_transfer5_5seeds.json``), the paper's ``full`` on SW data."""
    return "rescaled" if dft else "full"


def _config(strategy: str, epochs: int, batch: int, lr: float = 2e-3, dft: bool = False, compile: bool = True) -> Any:
    if dft:  # DFT data: dft-cpu5 (energies, forces, stress), fine-tuning at its smaller step; ~60 validations
        from crosstrain.config import load_config

        every = max(1, epochs // 60)
        overrides = [
            f"train.epochs={epochs}",
            f"train.batch_size={batch}",
            "train.seed=0",
            f"train.valid_every={every}",
            f"train.patience={10 * every}",
            "train.threads=null",
            f"transfer.strategy={strategy}",
            f"train.compile={str(compile).lower()}",
        ]
        return load_config("dft-cpu5-finetune" if Strategy(strategy).needs_parent else "dft-cpu5", overrides)
    return config_from_dict(
        {
            "model": {"preset": "cpu"},
            "train": {"epochs": epochs, "batch_size": batch, "lr": lr, "seed": 0},
            "transfer": {"strategy": strategy},
        }
    )


def _source_model(
    models: Path, sc: DemoScale, scale: str, dft: bool, si_train, si_valid, log
) -> tuple[Path, DemoSource]:
    """The shipped Si parent (``si-dft5`` / ``si-sw``) at the quick scale, else one trained here."""
    from crosstrain.pretrained import index, resolve_model

    name = "si-dft5" if dft else "si-sw"
    if scale == "quick" and name in index():
        path = resolve_model(name)
        log(f"2/5 Si model: the shipped parent {name} ({path.name}); its validation errors on the demo's Si set")
        model = load_checkpoint(path).model
        valid = evaluate(model, Dataset(si_valid, model.neighbour_cutoff, "Si valid"), 8, by=())
        return path, DemoSource(checkpoint=str(path), valid=valid, shipped=name)
    log(f"2/5 Si model on {len(si_train)} Si structures")
    config = _config("scratch", sc.parent_epochs, 4, dft=dft, compile=sc.compile)  # the Ge models' architecture
    report = _train("Si", models / "si.ckpt", log, config=config, data=si_train, valid=si_valid)
    return models / "si.ckpt", DemoSource(checkpoint=report.checkpoint, valid=report.valid, report=report)


def _picklable(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` where it can go to a worker process (a :class:`~crosstrain.progress.Say`), else a
    plain printer."""
    return log if isinstance(log, Say) else Say()


def _train(name: str, ckpt: Path, log, *, config: Any, data: list[Structure], **kwargs: Any) -> FitReport:
    """Train one demo model, or reuse it when the folder holds a finished run of the same request
    (:mod:`crosstrain.train.reuse`: a folder from an older version or scale is trained again), and
    log the finished model's validation errors: the progress lines show no energy error where the
    loss has no energies (the force-only SW demo), as energies are fixed by the shift fitted after
    training."""
    from crosstrain.train.reuse import fit_or_reuse

    report = fit_or_reuse(config, data, ckpt, log=lambda m: log(f"{name}: {m}"), **kwargs)
    if report.valid is not None and report.valid.force_mae is not None:
        v = report.valid
        energy = "" if v.energy_mae is None else f", energy MAE {v.energy_mae:.1f} meV/atom"
        log(
            f"{name}: the finished model (best epoch {report.best_epoch}, energy shift fitted) on the validation data: "
            f"force MAE {v.force_mae:.4f} eV/Å{energy}"
        )
    return report


def _data_stage(d: Path, sc: DemoScale, dft: bool, mlearn_root: str | Path | None, log) -> tuple[list, ...]:
    """Stage 1: the SW data (LAMMPS) or the mlearn DFT data; returns the Si and Ge splits."""
    if dft:
        from crosstrain.data.mlearn_dataset import build_mlearn_dataset

        log("1/5 DFT data: the mlearn Si and Ge sets")
        if not (d / "manifest.json").exists():  # Si split as the shipped si-dft5 parent's (no Si test set)
            build_mlearn_dataset(d, root=mlearn_root, elements=("Si", "Ge"), n_test={"Si": 0, "Ge": 25})
    else:
        log("1/5 Stillinger-Weber data from LAMMPS")
        protocol = SWProtocol(
            temperatures=sc.temperatures,
            per_temperature=sc.per_temperature,
            equilibration_ps=2.0,
            interval_ps=0.5,
            n_train=sc.n_train,
            n_valid=sc.n_valid,
            n_test=sc.n_test,
            seed=1,  # other trajectories than the default protocol's (seed 0), which trained the shipped si-sw
        )
        build_sw_dataset(d, ("Si", "Ge"), protocol, progress=True)
    si_train, si_valid = read_structures(d / "Si.train.extxyz"), read_structures(d / "Si.valid.extxyz")
    ge_pool, ge_valid = read_structures(d / "Ge.train.extxyz"), read_structures(d / "Ge.valid.extxyz")
    ge_test = read_structures(d / "Ge.test.extxyz")
    if dft:
        si_train = si_train[: sc.n_train]
    return si_train, si_valid, ge_pool, ge_valid, ge_test


def run_demo(
    out_dir: str | Path = "crosstrain-demo",
    *,
    scale: str = "quick",
    log=print,
    dft: bool = False,
    mlearn_root: str | Path | None = None,
) -> DemoResult:
    """Run (or finish) the demo in ``out_dir``; returns all numbers (also in ``demo.json``)."""
    sc = (DFT_SCALES if dft else SCALES)[scale]
    out = Path(out_dir)
    t0 = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - t0 - sum(stages.values()), 1)

    si_train, si_valid, ge_pool, ge_valid, ge_test = _data_stage(out / "data", sc, dft, mlearn_root, log)
    lap("data")
    models = out / "models"
    si_ckpt, si_report = _source_model(models, sc, scale, dft, si_train, si_valid, log)
    lap("parent")
    rng = np.random.default_rng(0)
    ge_train = [ge_pool[i] for i in sorted(rng.permutation(len(ge_pool))[: sc.ge_samples])]
    reports, tests = _ge_stage(models, sc, dft, si_ckpt, si_valid, ge_train, ge_valid, ge_test, log)
    lap("ge_models")
    log("5/5 MD stability and phonon density of states of Ge (transfer, scratch, SW reference)")
    # the data's own equilibrium: SW's lattice constant, or the mean cell of the DFT 64-atom MD runs
    a0 = 5.654 if not dft else _dft_lattice_constant(ge_pool + ge_valid + ge_test)
    md = _md_stage(out, models, sc, transfer_arm(dft), reference=not dft, a0=a0, compile_md=dft and sc.compile, pbe=dft)
    lap("md")
    md_settings = (
        f"{sc.md_runs} Langevin runs of {sc.md_steps} fs at each of "
        f"{', '.join(f'{t:g}' for t in sc.md_temperatures)} K; PDOS from {sc.pdos_steps} fs of NVE at 300 K"
    )
    result = DemoResult(
        scale=scale,
        data="mlearn DFT (PBE)" if dft else "Stillinger-Weber (LAMMPS)",
        transfer=transfer_arm(dft),
        n_si_train=len(si_train),
        n_ge_train=len(ge_train),
        n_ge_test=len(ge_test),
        si=si_report,
        ge=reports,
        ge_test=tests,
        md=md,
        md_settings=md_settings,
        wall_seconds=round(time.perf_counter() - t0, 1),
        provenance=provenance(),
        stage_seconds=stages,
    )
    write_text(out / "demo.json", json.dumps(result.to_json(), indent=2, default=str))
    _write_demo_report(out, result)
    return result


def _ge_stage(
    models: Path,
    sc: DemoScale,
    dft: bool,
    si_ckpt: Path,
    si_valid: list[Structure],
    ge_train: list[Structure],
    ge_valid: list[Structure],
    ge_test: list[Structure],
    log: Callable[[str], None],
) -> tuple[dict[str, DemoArm], dict[str, Metrics]]:
    """Stages 3 and 4: the Ge models (transfer and scratch) and their zero-shot starts, all
    evaluated on the same test set."""
    batch = min(4 if dft else 2, len(ge_train))
    epochs = max(1, sc.ge_steps // int(np.ceil(len(ge_train) / batch)))
    arm = transfer_arm(dft)
    log(f"3/5 Ge models from {len(ge_train)} Ge structures: transfer ({arm}) and scratch, {epochs} epochs each")
    # the two arms train side by side (one worker each where there are two cores); scratch ignores
    # the parent: same data, steps and validation
    jobs = {
        strategy: dict(
            name=f"Ge {strategy}",
            ckpt=models / f"ge_{strategy}.ckpt",
            log=_picklable(log),
            config=_config(strategy, epochs, batch, dft=dft, compile=sc.compile),
            data=ge_train,
            valid=ge_valid,
            parent=si_ckpt,
            element_map={"Ge": "Si"},
            source_valid=si_valid if Strategy(strategy).needs_parent else None,
        )
        for strategy in (arm, "scratch")
    }
    trained: dict[str, FitReport] = run_each(_train, jobs)
    log(f"4/5 evaluation on {len(ge_test)} held-out Ge structures; zero-shot starts on the same test set")
    zero: dict[str, ZeroShotReport] = {}
    for strategy in ("full", "rescaled"):  # the transferred starts, no training step, tested like the rest
        zero[strategy] = zero_shot_report(
            _config(strategy, 1, batch, dft=dft),
            ge_train,
            models / f"ge_{strategy}_zero_shot.ckpt",
            parent=si_ckpt,
            element_map={"Ge": "Si"},
            test=ge_test,
        )
    reports = {s: DemoArm(report=trained.get(s), zero_shot_test=zero.get(s)) for s in (*trained, *zero)}
    tests = {}
    for strategy in (arm, "scratch"):
        model = load_checkpoint(models / f"ge_{strategy}.ckpt").model
        key = "group" if dft else "temperature"
        tests[strategy] = evaluate(model, Dataset(ge_test, model.neighbour_cutoff, "Ge test"), 8, by=(key,))
    return reports, tests


def _md_stage(
    out: Path,
    models: Path,
    sc: DemoScale,
    arm: str,
    reference: bool = True,
    a0: float = 5.654,
    compile_md: bool = False,
    pbe: bool = False,
) -> DemoMD:
    """Stability test and MD phonon DOS for the Ge models; cached in ``md.json`` (``pbe``: the plot
    also shows the shipped PBE phonon reference's harmonic DOS). ``compile_md``: the
    calculators run compiled (pays for the 5 Å DFT models: 2,200 steps each at 28 instead of 15
    steps/s, after a ~40 s compile; for the 4.2 Å SW models the compile costs what it saves)."""
    from ase.build import bulk

    from crosstrain.analysis.pdos import overlap

    cache = out / "md.json"
    if cache.exists():
        try:
            cached = DemoMD.from_json(json.loads(cache.read_text()))
        except SchemaError:  # from an older version: run again
            cached = None
        if cached and set(cached.stability) == {arm, "scratch"} and cached.models == _model_stamps(models, arm):
            return cached
    cell = bulk("Ge", "diamond", a=a0, cubic=True) * (2, 2, 2)
    ckpts: dict[str, Path | None] = {name: models / f"ge_{name}.ckpt" for name in (arm, "scratch")}
    if reference:
        ckpts["SW reference"] = None
    # each model's runs in one worker (side by side where there are two cores), compiled once
    jobs = {name: dict(ckpt=ckpt, cell=cell, sc=sc, compile_md=compile_md) for name, ckpt in ckpts.items()}
    done = run_each(_model_md, jobs)
    stable = {name: d[0] for name, d in done.items() if d[0] is not None}
    pdos: dict[str, PDOSRun] = {name: d[1] for name, d in done.items()}
    spectra = {name: d[2] for name, d in done.items() if d[2] is not None}
    if "SW reference" in spectra:
        f, ref = spectra["SW reference"]
        for name, (_, dos) in spectra.items():
            pdos[name] = replace(pdos[name], overlap_with_sw=overlap(f, dos, ref))
    _plot_pdos(out, {**spectra, **(_pbe_dos(a0) if pbe else {})})
    result = DemoMD(stability=stable, pdos=pdos, lattice_constant=a0, models=_model_stamps(models, arm))
    write_text(cache, json.dumps(result.to_json(), indent=2))
    return result


def _model_md(
    ckpt: Path | None, cell: Atoms, sc: DemoScale, compile_md: bool
) -> tuple[ArmStability | None, PDOSRun, tuple[np.ndarray, np.ndarray] | None]:
    """One model's MD (a worker's job): its stability runs, then its 300 K NVE run for the phonon
    DOS, with one calculator; ``ckpt=None`` is the Stillinger-Weber reference (the PDOS run only)."""
    from crosstrain.analysis.pdos import pdos_from_velocities
    from crosstrain.analysis.references import sw_calculator
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.md.run import MDSettings, run_md
    from crosstrain.md.stability import stability

    calc = sw_calculator("Ge") if ckpt is None else CrosstrainCalculator(ckpt, compile=compile_md)
    stable = None
    if ckpt is not None:
        temperatures = list(sc.md_temperatures)
        report = stability(cell, lambda: calc, temperatures, runs=sc.md_runs, settings=MDSettings(steps=sc.md_steps))
        by_t = {t: v.fraction_stable for t, v in report.by_temperature.items()}
        stable = ArmStability(fraction_stable=report.fraction_stable, by_temperature=by_t)
    settings = MDSettings(temperature=300, steps=sc.pdos_steps, ensemble="nve", velocities_every=2, seed=1)
    r = run_md(cell, calc, settings)
    if r.velocities is None or r.masses is None:
        return stable, PDOSRun(stable=False, reason=r.reason), None
    interval_fs = settings.timestep_fs * settings.velocities_every
    freqs, dos = pdos_from_velocities(r.velocities, r.masses, interval_fs, max_lag_ps=sc.pdos_steps / 1000)
    return stable, PDOSRun(stable=True, peak_THz=float(freqs[dos.argmax()])), (freqs, dos)


def _pbe_dos(a0: float) -> dict[str, tuple[Any, Any]]:
    """The shipped PBE phonon reference's harmonic DOS of Ge (if shipped and in the MD's cell)."""
    from crosstrain.analysis.pdos import harmonic_dos
    from crosstrain.dft.phonons import reference_phonopy, shipped_reference

    ref = shipped_reference("Ge")
    if ref is None or abs(ref.a0 - a0) > 1e-3:
        return {}
    freqs = np.linspace(0.0, 20.0, 401)
    return {"PBE, harmonic (GPAW)": (freqs, harmonic_dos(reference_phonopy(ref), freqs))}


def _plot_pdos(out: Path, spectra: dict[str, tuple[Any, Any]]) -> None:
    from crosstrain.report import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, (f, dos) in spectra.items():
        ref = name == "SW reference" or name.startswith("PBE")
        ax.plot(
            f,
            dos,
            label=name,
            lw=2 if ref else 1.2,
            color="k" if ref else None,
            ls=":" if name.startswith("PBE") else "-",
        )
    ax.set_xlim(0, 14)
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("phonon DOS (1/THz)")
    ax.set_title("Ge at 300 K, from the velocity autocorrelation")
    ax.legend()
    save_figure(fig, out / "pdos.png")
    plt.close(fig)


def _model_stamps(models: Path, arm: str) -> dict[str, str]:
    """The checkpoints the MD ran on (their creation time), so that retrained models rerun the MD."""
    from crosstrain.io.checkpoint import read_meta

    return {name: read_meta(models / f"ge_{name}.ckpt").created for name in (arm, "scratch")}


def _dft_lattice_constant(structures: list[Any]) -> float:
    """PBE Ge at zero stress, from the data's Elastic group (see analysis.dft_reference)."""
    from crosstrain.analysis.dft_reference import elastic_reference

    return elastic_reference(structures).a0


def _md_table(result: DemoResult) -> str:
    md = result.md
    rows = []
    for name in (result.arm, "scratch", "SW reference"):
        if name not in md.pdos and name not in md.stability:
            continue
        pd = md.pdos.get(name)
        status = "stable" if pd is not None and pd.stable else (pd.reason if pd is not None and pd.reason else "-")
        st = md.stability.get(name)
        rows.append(
            [
                name,
                "-" if st is None else st.fraction_stable,
                status,
                "-" if pd is None or pd.overlap_with_sw is None else pd.overlap_with_sw,
                "-" if pd is None or pd.peak_THz is None else pd.peak_THz,
            ]
        )
    header = ["model", "fraction of stable MD runs", "300 K NVE run", "PDOS overlap with SW", "PDOS peak (THz)"]
    return f"Cell: 64-atom diamond Ge at a = {md.lattice_constant:.3f} Å.\n\n" + markdown_table(header, rows)


def _mae(value: float | None) -> float:
    return float("nan") if value is None else value


def headline(result: DemoResult) -> str:
    arm = result.arm
    full, scratch = result.ge_test[arm], result.ge_test["scratch"]
    gain = 100 * (1 - _mae(full.force_mae) / _mae(scratch.force_mae))
    verdict = "lower" if gain > 0 else "higher"
    return (
        f"With {result.n_ge_train} Ge training structures, transfer from Si (`{arm}`) gives a Ge test force "
        "error of "
        f"{_mae(full.force_mae):.3f} eV/Å against {_mae(scratch.force_mae):.3f} eV/Å from scratch: "
        f"{abs(gain):.0f}% {verdict}. Energy error {_mae(full.energy_mae):.1f} vs "
        f"{_mae(scratch.energy_mae):.1f} meV/atom."
    )


def _plot_force_errors(out: Path, result: DemoResult) -> None:
    from crosstrain.report import pyplot

    plt = pyplot()

    tests = result.ge_test
    arm = result.arm
    numeric = tests[arm].by_temperature is not None
    key = "by_temperature" if numeric else "by_group"
    breakdown = {s: getattr(tests[s], key) or {} for s in (arm, "scratch")}
    labels = list(breakdown[arm])
    xs = [float(t) for t in labels] if numeric else list(range(len(labels)))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for strategy, style in ((arm, "o-" if numeric else "o"), ("scratch", "s--" if numeric else "s")):
        ax.plot(
            xs,
            [_mae(breakdown[strategy][t].force_mae) for t in labels],
            style,
            label=f"{strategy} (mean {_mae(tests[strategy].force_mae):.3f})",
        )
    if numeric:
        ax.set_xlabel("temperature (K)")
    else:
        ax.set_xticks(xs)
        ax.set_xticklabels(labels)
        ax.set_xlabel("structure group")
    ax.set_ylabel("Ge test force MAE (eV/Å)")
    ax.legend()
    ax.set_title(f"Ge from {result.n_ge_train} structures: transfer vs scratch")
    save_figure(fig, out / "force_mae_by_temperature.png")
    plt.close(fig)


def _or_dash(m: Metrics | None) -> Any:
    return "-" if m is None or m.force_mae is None else m.force_mae


def _write_demo_report(out: Path, result: DemoResult) -> None:
    tests = result.ge_test
    _plot_force_errors(out, result)
    ge = result.ge
    rows = [
        [
            s,
            tests[s].force_mae,
            tests[s].force_rmse,
            tests[s].energy_mae,
            _or_dash(_zero_shot_test(ge[s])),
            _or_dash(None if (report := ge[s].report) is None else report.retention),
        ]
        for s in (result.arm, "scratch")
    ]
    md = "\n".join(
        [
            "# crosstrain demo: Si → Ge transfer learning",
            "",
            headline(result),
            "",
            _zero_shot_line(result),
            "",
            "## Ge test errors",
            "",
            markdown_table(
                [
                    "model",
                    "force MAE (eV/Å)",
                    "force RMSE (eV/Å)",
                    "energy MAE (meV/atom)",
                    "zero-shot test force MAE",
                    "Si force MAE after transfer",
                ],
                rows,
            ),
            "",
            "![force MAE by temperature or group](force_mae_by_temperature.png)",
            "",
            "## MD stability and phonon density of states (Ge, 64 atoms)",
            "",
            _md_table(result),
            "",
            "![phonon DOS](pdos.png)",
            "",
            "## What was done",
            "",
            *_what_was_done(result),
        ]
    )
    write_report(out, "report", title="crosstrain demo", markdown=md + "\n")


def _zero_shot_test(arm: DemoArm) -> Metrics | None:
    return None if arm.zero_shot_test is None else arm.zero_shot_test.test


def _zero_shot_mae(arm: DemoArm) -> float:
    test = _zero_shot_test(arm)
    return _mae(None if test is None else test.force_mae)


def _zero_shot_line(result: DemoResult) -> str:
    zero = result.ge
    scales = zero["rescaled"].init["scales"]["Ge"]
    return (
        f"Zero-shot on the same test set (no Ge training step; energy reference and, for `rescaled`, the "
        f"scales fitted on the {result.n_ge_train} training structures): "
        f"`full` {_zero_shot_mae(zero['full']):.3f} eV/Å, "
        f"`rescaled` {_zero_shot_mae(zero['rescaled']):.3f} eV/Å (length and energy scales "
        f"{scales['length_scale']:.3f}, "
        f"{scales['energy_scale']:.3f})."
    )


def _what_was_done(result: DemoResult) -> list[str]:
    si_valid = _mae(None if result.si.valid is None else result.si.valid.force_mae)
    return [
        f"- {result.data} data: {result.n_si_train} Si training structures; "
        f"{result.n_ge_train} Ge training structures; {result.n_ge_test} Ge test structures.",
        f"- Si model{' (shipped: ' + result.si.shipped + ')' if result.si.shipped else ''} "
        f"validation force MAE: {si_valid:.3f} eV/Å.",
        (
            "- CPU preset DimeNet++ with a 5 Å cutoff: the dft-cpu5 recipe (energies, forces and stress; cosine "
            "decay), the transfer at its fine-tuning step (dft-cpu5-finetune, lr 5e-4: each arm at the rate chosen "
            "on validation at n = 22 in benchmarks/dft-transfer/dft_lr_search.py), the same steps, validation set "
            "and least-squares energy reference at the start for transfer and scratch."
            if result.data.startswith("mlearn")
            else "- CPU preset DimeNet++, force matching, Adam with 100x exponential decay, identical settings "
            "and the same least-squares energy reference at the start for transfer and scratch."
        ),
        f"- MD stability: {result.md_settings}.",
        f"- Wall time {result.wall_seconds:.0f} s"
        + (
            " (" + ", ".join(f"{k} {v:.0f} s" for k, v in result.stage_seconds.items()) + ")"
            if result.stage_seconds
            else ""
        )
        + ". All numbers: demo.json.",
    ]
