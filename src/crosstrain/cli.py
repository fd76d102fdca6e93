"""Command-line interface: a thin dispatcher over library functions.

Every user error is a :class:`~crosstrain.errors.CrosstrainError`; it is printed as one line on
standard error and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import crosstrain
from crosstrain.config import STRATEGIES
from crosstrain.errors import ConfigError, CrosstrainError

if TYPE_CHECKING:
    from crosstrain.train.records import FitReport, Metrics


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.smoke:
        from crosstrain.workflows.smoke import print_smoke, smoke

        print_smoke(smoke(args.out or "crosstrain-demo", preset_name=args.preset, seed=args.seed))
        return 0
    from crosstrain.progress import Say
    from crosstrain.progress import console as make_console
    from crosstrain.request import SMOKE_ENV, smoke_mode
    from crosstrain.workflows.demo import headline, run_demo

    console = make_console()  # in a log: whole lines, not wrapped at 80 columns
    out = args.out or ("crosstrain-demo-dft" if args.dft else "crosstrain-demo")
    if args.scale is None:
        args.scale = "tiny" if smoke_mode() else "quick"
        if smoke_mode():
            console.print(f"{SMOKE_ENV}: the demo at its tiny scale (a quick check, not a result)")
    result = run_demo(
        out,
        scale=args.scale,
        log=Say("[bold cyan]demo[/] "),  # a worker's lines too
        dft=args.dft,
        mlearn_root=args.mlearn,
    )
    console.print(f"\n[bold]{headline(result)}[/bold]")
    console.print(f"report: {out}/report.md and report.html; numbers: {out}/demo.json; {result.wall_seconds:.0f} s")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    import torch

    from crosstrain.io.checkpoint import save_checkpoint
    from crosstrain.model import build_model, preset
    from crosstrain.species import SpeciesMap

    torch.manual_seed(args.seed)
    model = build_model(preset(args.preset), SpeciesMap.from_elements(args.elements))
    if args.dtype == "float64":
        model = model.to(torch.float64)
    path = save_checkpoint(model, args.out, training={"seed": args.seed, "preset": args.preset})
    print(f"wrote {path}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from crosstrain.pretrained import HERE, index, recipes

    models = index()
    if args.json:
        print(json.dumps({name: e.to_json() for name, e in models.items()}, indent=2, ensure_ascii=False))
        return 0
    for name, e in models.items():
        errs = e.errors or {}
        err = ", ".join(f"{k} {v}" for k, v in errs.items()) + (f" on {e.errors_on}" if errs else "")
        print(f"{name}: {e.description} ({HERE / e.file})")
        print(f"    {err}" if err else "    (no recorded test errors)")
        print(f"    regenerate: {e.command}")
        if e.finetune is not None:
            ft = e.finetune
            print(f"    transfer --from {name}: recipe {ft.recipe}, strategy {ft.strategy} ({ft.evidence})")
    if not models:
        print("no shipped models in this installation")
    print("recipes (crosstrain train --config NAME): " + ", ".join(recipes()))
    return 0


def _cmd_models_build(args: argparse.Namespace) -> int:
    from crosstrain.workflows.build_models import build

    print(f"wrote {build(args.name, args.out, install=args.install)}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from crosstrain.publish import publish

    changed = publish(args.root, check=args.check)
    if args.check and changed:
        names = ", ".join(str(p) for p in changed)
        print(
            f"crosstrain results: {len(changed)} generated file(s) differ from their records: {names}; "
            "run 'crosstrain results'",
            file=sys.stderr,
        )
        return 1
    print(f"results: {len(changed)} file(s) {'would change' if args.check else 'written'}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from crosstrain.io.checkpoint import read_meta

    print(json.dumps(read_meta(args.checkpoint).to_json(), indent=2, ensure_ascii=False))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from crosstrain.io.checkpoint import export_model, load_checkpoint

    model = load_checkpoint(args.checkpoint).model
    try:
        path = export_model(model, args.out, args.format, elements=args.elements)
    except ConfigError as exc:
        raise ConfigError(f"{args.checkpoint}: {exc}") from None
    print(f"wrote {path} ({args.format}; {', '.join(args.elements or model.species.symbols)})")
    return 0


def _print_report(report: FitReport, as_json: str | None) -> None:
    from crosstrain.io.atomic import write_text

    def fmt(m: Metrics) -> str:
        parts = []
        if m.force_mae is not None:
            parts.append(f"force MAE {m.force_mae:.4f} eV/Å")
        if m.energy_mae is not None:
            parts.append(f"energy MAE {m.energy_mae:.2f} meV/atom")
        if m.stress_mae is not None:
            parts.append(f"stress MAE {m.stress_mae:.3f} GPa")
        return ", ".join(parts)

    labels = {
        "zero-shot (before training, on the " + report.selected_on + ")": report.zero_shot,
        "validation": report.valid,
        "source element (retention)": report.retention,
    }
    for label, m in labels.items():
        if m is not None:
            print(f"{label}: {fmt(m)}")
    print(
        f"best epoch {report.best_epoch} on the {report.selected_on} ({report.stopped}); {report.seconds:.0f} s; "
        f"wrote {report.checkpoint}"
    )
    if as_json:
        write_text(as_json, json.dumps(report.to_json(), indent=2, default=str))


def _overrides(args: argparse.Namespace) -> list[str]:
    return list(args.set or []) + list(args.overrides or [])


def _cmd_train(args: argparse.Namespace) -> int:
    from crosstrain.request import resolve
    from crosstrain.train.pipeline import fit
    from crosstrain.train.transfer import parse_element_map

    request = resolve(
        args.data,
        valid=args.valid,
        config=args.config,
        overrides=_overrides(args),
        parent=getattr(args, "parent", None),
        strategy=getattr(args, "strategy", None),
        element_map=parse_element_map(getattr(args, "map", None)) or None,
    )
    first = os.environ.get("RANK", "0") == "0"  # under torchrun only the first process reports
    if first:
        print(f"crosstrain {args.command}: {request.describe()}", flush=True)
    if getattr(args, "zero_shot", False):
        from crosstrain.train.pipeline import zero_shot_report

        data = list(request.data) + (
            list(request.valid or ()) if args.valid is None else []
        )  # no training: no share held out
        report = zero_shot_report(request.config, data, args.out, test=args.test)
        report = report.with_request(request.to_json())
        if report.test is not None:
            m = report.test
            print(
                f"zero-shot on the test data: force MAE {m.force_mae or float('nan'):.4f} eV/Å, "
                f"energy MAE {m.energy_mae or float('nan'):.2f} meV/atom"
            )
        print(f"wrote {args.out} (no training step)")
        if args.json:
            from crosstrain.io.atomic import write_text

            write_text(args.json, json.dumps(report.to_json(), indent=2, default=str))
        return 0
    _, fitted = fit(
        request.config,
        list(request.data),
        args.out,
        valid=list(request.valid) if request.valid else None,
        source_valid=getattr(args, "source_valid", None),
        resume=args.resume,
        replay_data=getattr(args, "replay_data", None),
    )
    fitted = fitted.with_request(request.to_json())
    if first:
        _print_report(fitted, args.json)
    return 0


def _cmd_transfer(args: argparse.Namespace) -> int:
    return _cmd_train(args)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from crosstrain.train.pipeline import evaluate_checkpoint

    report = evaluate_checkpoint(args.checkpoint, args.data, args.batch_size)
    for path, m in report.files.items():
        line = f"{path}: {m.n_structures:.0f} structures, force MAE {m.force_mae:.4f} eV/Å"
        line += f" (RMSE {m.force_rmse:.4f})"
        if m.energy_mae is not None:
            line += f", energy MAE {m.energy_mae:.2f} meV/atom (RMSE {m.energy_rmse:.2f})"
        if m.stress_mae is not None:
            line += f", stress MAE {m.stress_mae:.3f} GPa"
        print(line)
        for key, groups in (("group", m.by_group), ("temperature", m.by_temperature)):
            for name, g in (groups or {}).items():
                e = f", energy {g.energy_mae:.2f} meV/atom" if g.energy_mae is not None else ""
                print(f"    {key} {name}: force MAE {g.force_mae:.4f} eV/Å{e} ({g.n_structures:.0f})")
    if args.json:
        from crosstrain.io.atomic import write_text

        write_text(args.json, json.dumps(report.to_json(), indent=2))
    return 0


def _cmd_properties(args: argparse.Namespace) -> int:
    from crosstrain.io.atomic import write_text
    from crosstrain.io.checkpoint import read_meta
    from crosstrain.workflows.properties import format_table, properties_table

    if args.checkpoint:
        from crosstrain.pretrained import resolve_model

        args.checkpoint = str(resolve_model(args.checkpoint))  # a path or a shipped model's name
    elements = args.elements or (read_meta(args.checkpoint).species if args.checkpoint else ["Si", "Ge"])
    from crosstrain.request import SMOKE_ENV, smoke_mode

    if smoke_mode():
        print(f"{SMOKE_ENV}: no relaxed vacancy and no phonons (a quick check, not a result)")
    table = properties_table(
        args.checkpoint,
        elements,
        reference=not args.no_reference,
        dft=args.dft,
        mlearn_root=args.mlearn,
        quick=smoke_mode(),
        phonon_references=_references(args.phonon_reference or [], elements, "phonon"),
        crystal_references=_references(args.crystal_reference or [], elements, "crystal"),
        plot=args.plot,
    )
    print(format_table(table))
    for element, entry in table.elements.items():
        if args.dft and entry.dft is None and entry.gpaw is None:
            print(f"no DFT reference for {element}: make one with crosstrain crystal-reference {element}")
    if args.json:
        write_text(args.json, json.dumps(table.to_json(), indent=2))
    return 0


def _references(paths: list[str], elements: list[str], kind: str) -> dict[str, Any]:
    """``--phonon-reference`` or ``--crystal-reference`` files (``kind``) by element; one for an
    element not asked for is refused."""
    from crosstrain.dft.crystal_reference import read_crystal_reference
    from crosstrain.dft.phonons import read_reference

    read = read_reference if kind == "phonon" else read_crystal_reference
    refs = {}
    for path in paths:
        ref = read(path)
        if ref.element not in elements:
            raise ConfigError(f"{path}: a {kind} reference for {ref.element}, not one of {', '.join(elements)}")
        refs[ref.element] = ref
    return refs


def _cmd_validate(args: argparse.Namespace) -> int:
    from crosstrain.data.extxyz import read_structures
    from crosstrain.errors import ConfigError
    from crosstrain.workflows.validation import ValidationSettings, validate_models

    models = {}
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--model {item!r}: give NAME=CHECKPOINT (e.g. transfer=ge_full.ckpt)")
        models[name] = path
    test = read_structures(args.test, require=("forces",)) if args.test else None
    settings = ValidationSettings(
        temperatures=tuple(args.temperatures), md_steps=args.md_steps, equilibration_steps=min(args.md_steps // 3, 1000)
    )
    validate_models(models, args.element, args.out, test=test, settings=settings)
    print(f"wrote {args.out}/report.md, report.html, validation.json and plots")
    return 0


def _cmd_transferability(args: argparse.Namespace) -> int:
    from crosstrain.parallel import plan_workers
    from crosstrain.workflows.temperature_transfer import temperature_transfer

    r = temperature_transfer(
        args.data,
        args.source,
        args.out,
        element=args.element,
        source_element=args.source_element,
        train_temperature=args.train_temperature,
        per_temperature=args.per_temperature,
        steps=args.steps,
        seed=args.seed,
        reference=args.reference,
        models=args.models,
        workers=plan_workers(args.workers, 2 * args.models),
    )
    print(f"full transfer has the lower median force error at {r.full_better_at}; report in {args.out}/report.md")
    return 0


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        nargs="+",
        help="training data (extxyz with forces; default: the data section of --config, "
        "e.g. {kind: mlearn, element: Ge, train: 22})",
    )
    p.add_argument(
        "--valid",
        nargs="+",
        help="validation data for early stopping and model selection (default: a seeded 10 %% share of --data)",
    )
    p.add_argument("--out", required=True, help="checkpoint to write (its .state.pt and .log.csv sit beside it)")
    p.add_argument(
        "--config",
        help="YAML config or a shipped recipe's name (default: the parent's fine-tuning recipe; "
        "for train, dft-cpu5 on data with energies)",
    )
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a config value")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its .state.pt")
    p.add_argument("--json", help="also write the report as JSON here")
    p.add_argument("overrides", nargs="*", metavar="SECTION.KEY=VALUE", help="more overrides")


def _add_analysis_parsers(sub: argparse._SubParsersAction) -> None:
    """``properties``, ``validate`` and ``transferability``."""
    p = sub.add_parser("properties", help="crystal properties of a model next to the SW reference")
    p.add_argument(
        "checkpoint", nargs="?", help="model checkpoint or a shipped model's name (omit for the SW reference alone)"
    )
    p.add_argument("--elements", nargs="+", help="default: the model's elements")
    p.add_argument("--no-reference", action="store_true", dest="no_reference", help="skip the SW reference (Si, Ge)")
    p.add_argument(
        "--dft",
        action="store_true",
        help="add the PBE values the mlearn data give (a0, C11, C12, C44⁰, B) and the model's phonons against "
        "the PBE phonon reference (shipped for Si and Ge, or --phonon-reference)",
    )
    p.add_argument("--mlearn", help="mlearn data folder (default: the copy shipped with crosstrain)")
    p.add_argument(
        "--crystal-reference",
        action="append",
        dest="crystal_reference",
        help="crystal_reference.json of crosstrain crystal-reference: the DFT column with --dft "
        "(shipped for Na; default: the shipped one, else the mlearn data's values)",
    )
    p.add_argument(
        "--phonon-reference",
        action="append",
        dest="phonon_reference",
        help="a phonon_reference.json from 'crosstrain phonon-reference' (repeatable; replaces the shipped one)",
    )
    p.add_argument("--plot", help="with --dft: the model's bands and DOS over the DFT reference's, as this image")
    p.add_argument("--json", help="write every number as JSON here")
    p.set_defaults(func=_cmd_properties)

    p = sub.add_parser("validate", help="phonons, RDF/ADF from MD and force errors by temperature vs SW")
    p.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT, repeatable")
    p.add_argument("--element", default="Ge")
    p.add_argument("--out", required=True)
    p.add_argument("--test", help="extxyz test structures with a temperature (box plots)")
    p.add_argument("--temperatures", nargs="+", type=float, default=[600.0, 1200.0, 1800.0])
    p.add_argument("--md-steps", type=int, default=3000, dest="md_steps")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("transferability", help="paper Figure 4: train on one structure at one temperature, test at all")
    p.add_argument("--data", required=True, help="a 'crosstrain data sw' folder")
    p.add_argument("--source", required=True, help="source-element checkpoint")
    p.add_argument("--out", required=True)
    p.add_argument("--element", default="Ge")
    p.add_argument("--source-element", default="Si", dest="source_element")
    p.add_argument("--train-temperature", type=float, default=2000.0, dest="train_temperature")
    p.add_argument("--per-temperature", type=int, default=50, dest="per_temperature")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", help="a model trained on the large data set, shown alongside")
    p.add_argument("--models", type=int, default=5, help="models per arm, each on its own structure (paper: 5)")
    p.add_argument("--workers", type=int, help="models trained and evaluated at once (default: the cores)")
    p.set_defaults(func=_cmd_transferability)


def _add_transfer_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transfer", help="initialise a model from a parent and fine-tune it")
    p.add_argument("--from", dest="parent", required=True, help="parent checkpoint, or a shipped model's name (si-dft)")
    p.add_argument(
        "--map", action="append", metavar="TARGET=SOURCE", help="e.g. Ge=Si (inferred for one-element parent and data)"
    )
    p.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        help="how the model starts (default: the one the parent names, else rescaled; see 'crosstrain models')",
    )
    p.add_argument(
        "--replay-data",
        nargs="+",
        dest="replay_data",
        help="replay: the parent element's training data (default: a shipped parent's own)",
    )
    p.add_argument(
        "--zero-shot",
        action="store_true",
        dest="zero_shot",
        help="no training: save the transferred start (its strategy's fits on --data done) and evaluate it on --test",
    )
    p.add_argument("--test", nargs="+", help="with --zero-shot: test data to evaluate on")
    p.add_argument(
        "--source-valid",
        nargs="+",
        dest="source_valid",
        help="the parent element's validation data, to report what the transfer cost it",
    )
    _add_train_arguments(p)
    p.set_defaults(func=_cmd_transfer)


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the shipped parent models and training recipes (or build one again)")
    p.add_argument("--json", action="store_true", help="print the index as JSON")
    p.set_defaults(func=_cmd_models)
    msub = p.add_subparsers(dest="models_command")
    b = msub.add_parser("build", help="train a shipped model again from its recorded data and recipe (resumable)")
    b.add_argument("name", help="e.g. si-dft")
    b.add_argument("--out", default="crosstrain-models", help="folder for the checkpoint and its data")
    b.add_argument("--install", action="store_true", help="maintainers: copy it into the package, record its errors")
    b.set_defaults(func=_cmd_models_build)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosstrain", description="Transfer learning of interatomic potentials across chemical elements."
    )
    parser.add_argument("--version", action="version", version=f"crosstrain {crosstrain.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the end-to-end demo on built-in data")
    p.add_argument("--out", help="output folder (default: crosstrain-demo, or crosstrain-demo-dft with --dft)")
    p.add_argument("--dft", action="store_true", help="the DFT demo on the mlearn Si and Ge data")
    p.add_argument("--mlearn", help="folder with Si/ and Ge/training.json (default: the copy shipped with crosstrain)")
    p.add_argument(
        "--scale", choices=["quick", "tiny"], help="quick (default; tiny under CROSSTRAIN_SMOKE) or tiny (a test)"
    )
    p.add_argument("--smoke", action="store_true", help="only the core smoke run (fresh model on a Si cell)")
    p.add_argument("--preset", default="cpu", help="model preset for --smoke: cpu or paper")
    p.add_argument("--seed", type=int, default=0, help="seed for --smoke")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("init", help="write a freshly initialised model checkpoint")
    p.add_argument("--elements", nargs="+", required=True, help="element symbols, e.g. Si Ge")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_init)

    from crosstrain.data.cli import register as register_data

    register_data(sub)

    p = sub.add_parser("train", help="train a model from scratch")
    _add_train_arguments(p)
    p.set_defaults(func=_cmd_train)

    _add_transfer_parser(sub)

    from crosstrain.suggest import register as register_suggest

    register_suggest(sub)

    p = sub.add_parser("evaluate", help="errors of a model on data (per group and temperature)")
    p.add_argument("checkpoint")
    p.add_argument("data", nargs="+")
    p.add_argument("--batch-size", type=int, default=8, dest="batch_size")
    p.add_argument("--json", help="write all numbers as JSON here")
    p.set_defaults(func=_cmd_evaluate)

    from crosstrain.md.cli import register as register_md

    register_md(sub)
    _add_analysis_parsers(sub)

    _add_models_parser(sub)

    p = sub.add_parser("results", help="regenerate the docs' results pages and the README's table from the records")
    p.add_argument("--root", default=".", help="the repository's root (default: here)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is out of date")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("info", help="print a checkpoint's metadata")
    p.add_argument("checkpoint")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("export", help="write a checkpoint as another code's model file (MACE: a mace-torch model)")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="the model file to write (e.g. ge.model)")
    p.add_argument("--format", default="mace-torch", help="the file format (default: mace-torch)")
    p.add_argument("--elements", nargs="+", help="write these elements only (default: all the model knows)")
    p.set_defaults(func=_cmd_export)

    from crosstrain.active.cli import register as register_active
    from crosstrain.dft.cli import register as register_dft
    from crosstrain.study.cli import register

    register(sub)
    register_dft(sub)
    register_active(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CrosstrainError as exc:
        print(f"crosstrain: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crosstrain: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
