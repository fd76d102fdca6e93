"""``crosstrain sample``, ``crosstrain label``, ``crosstrain phonon-reference`` and ``crosstrain
crystal-reference``: structures for DFT, their labels, DFT phonons and DFT crystal properties."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosstrain.data.cli import temperature_list
from crosstrain.dft.settings import DFTSettings

if TYPE_CHECKING:
    from crosstrain.dft.label import Label
    from crosstrain.structure import Structure


def settings_from_args(args: argparse.Namespace) -> DFTSettings:
    """Settings from a ``--settings`` JSON file, then any flag given on the command line."""
    data = {}
    if args.settings:
        path = Path(args.settings)
        from crosstrain.errors import ConfigError

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: settings file not found") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        data.pop("sha256", None)  # a label folder's settings.json can be passed back
    for f in fields(DFTSettings):
        value = getattr(args, f.name, None)
        if value is not None:
            data[f.name] = value
    return DFTSettings.from_dict(data)


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", help="DFT settings as JSON (e.g. an earlier run's settings.json)")
    p.add_argument("--xc", help="exchange-correlation functional (default PBE)")
    p.add_argument("--ecut", type=float, dest="ecut_ev", help="plane-wave cutoff in eV (default 350)")
    p.add_argument("--kpoint-density", type=float, dest="kpoint_density", help="k-points per 1/Å (default 3.5)")
    p.add_argument("--smearing", type=float, dest="smearing_ev", help="Fermi-Dirac width in eV (default 0.1)")
    p.add_argument("--max-scf-steps", type=int, dest="max_scf_steps", help="SCF iterations before giving up")
    p.add_argument(
        "--setups", type=setup_pairs, help="PAW setups per element, e.g. Na=1 (GPAW's 1-electron Na; default: GPAW's)"
    )


def setup_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"Na=1,K=1"`` as ((element, setup), ...)."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep or not e.strip() or not n.strip() for e, sep, n in pairs):
        raise argparse.ArgumentTypeError(f"setups must look like Na=1 or Na=1,K=1, got {text!r}")
    return tuple((e.strip(), n.strip()) for e, _, n in pairs)


def _cmd_label(args: argparse.Namespace) -> int:
    from crosstrain.data.extxyz import read_structures
    from crosstrain.dft.label import label_structures

    settings = settings_from_args(args)
    structures = read_structures(args.data)

    def report(done: int, total: int, structure: Structure, label: Label) -> None:
        what = f"{(label.energy or 0.0) / len(structure):.5f} eV/atom" if label.ok else f"failed: {label.reason}"
        print(
            f"[{done}/{total}] {structure.source} ({len(structure)} atoms, {label.seconds:.1f} s): {what}", flush=True
        )

    run = label_structures(
        structures, args.out, settings, workers=args.workers, retry_failed=args.retry_failed, report=report
    )
    print(
        f"{len(run.labels) - len(run.failed)} of {len(run.labels)} structures labelled "
        f"({run.computed} computed, {run.reused} from the cache; settings {settings.sha256[:16]}; "
        f"{run.workers} workers x {run.threads} threads on {run.cores} cores) -> {Path(args.out) / 'labelled.extxyz'}"
    )
    for label in run.failed:
        print(f"failed {label.key}: {label.reason}")
    return 1 if run.failed else 0


#: phonons need tighter forces than training labels: the SCF density to 1e-6 and denser k-points
#: (benchmarks/phonons-dft/convergence.json shows what each setting changes)
PHONON_DEFAULTS = {"kpoint_density": 10.0, "density_tolerance": 1e-6}


def _cmd_phonon_reference(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from crosstrain.dft.phonons import compute_reference

    defaults = {k: v for k, v in PHONON_DEFAULTS.items() if getattr(args, k, None) is None}
    settings = settings_from_args(args)
    settings = DFTSettings.from_dict({**settings.to_dict(), **({} if args.settings else defaults)})
    if args.a0 is not None:
        a0, source = args.a0, "given on the command line"
    else:
        from crosstrain.analysis.dft_reference import elastic_reference
        from crosstrain.data.mlearn import find_mlearn_root, mlearn_file, read_mlearn
        from crosstrain.errors import DataFileError

        try:
            data = read_mlearn(mlearn_file(find_mlearn_root(args.mlearn), args.element), element=args.element)
        except DataFileError as exc:
            raise DataFileError(
                f"{exc}: no mlearn data for {args.element}, give the lattice constant with --a0"
            ) from None
        a0, source = elastic_reference(data).a0, "the mlearn PBE data's zero-stress lattice constant"

    def report(done: int, total: int, structure: Structure, label: Label) -> None:
        what = "ok" if label.ok else f"failed: {label.reason}"
        print(
            f"[{done}/{total}] {structure.source} ({len(structure)} atoms, {label.seconds:.0f} s): {what}", flush=True
        )

    ref = compute_reference(
        args.element,
        a0,
        args.out,
        settings=settings,
        a0_source=source,
        supercell=args.supercell,
        cell=args.cell,
        displacement=args.displacement,
        workers=args.workers,
        eos=not args.no_eos,
        command=shlex.join(["crosstrain", *sys.argv[1:]]),
        report=report,
    )
    from crosstrain.analysis.phonons import named_modes

    print(f"{ref.element} phonons: {ref.describe()}")
    modes = ", ".join(f"{name} {value:.3f}" for name, value in named_modes(ref.frequencies_THz).items())
    print(f"  {modes} THz -> {Path(args.out) / 'phonon_reference.json'}")
    return 0


def _cmd_crystal_reference(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from crosstrain.dft.crystal_reference import REFERENCE_FILE, compute_crystal_reference
    from crosstrain.species import lattice_guess

    settings = settings_from_args(args)

    def report(done: int, structure: Structure, label: Label) -> None:
        what = "ok" if label.ok else f"failed: {label.reason}"
        print(f"[{done}] {structure.source} ({len(structure)} atoms, {label.seconds:.0f} s): {what}", flush=True)

    ref = compute_crystal_reference(
        args.element,
        args.out,
        settings=settings,
        a_guess=args.a_guess or lattice_guess(args.element),
        vacancy=not args.no_vacancy,
        command=shlex.join(["crosstrain", *sys.argv[1:]]),
        report=report,
    )
    p = ref.properties
    vacancy = p.vacancy_formation_energy
    print(f"{ref.element} ({ref.crystal}), {ref.describe()}:")
    print(f"  a0 {p.a0:.4f} Å, B {p.bulk_modulus:.2f} GPa, C11 {p.C11:.2f}, C12 {p.C12:.2f}, C44 {p.C44:.2f} GPa")
    if vacancy is not None:
        print(f"  vacancy formation {vacancy.relaxed:.3f} eV (unrelaxed {vacancy.unrelaxed:.3f} eV)")
    print(f"  {ref.calculations} calculations -> {Path(args.out) / REFERENCE_FILE}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from crosstrain.data.extxyz import write_structures
    from crosstrain.dft.sampling import SamplePlan, sample_structures
    from crosstrain.records import command_line, make_record, write_record

    given = ("frames", "vacancy_frames", "elastic", "surfaces", "surface_frames", "repeat", "layers", "interval_ps")
    kwargs: dict[str, Any] = {f: getattr(args, f) for f in given if getattr(args, f) is not None}
    if "surfaces" in kwargs:
        kwargs["surfaces"] = tuple(kwargs["surfaces"])
    plan = SamplePlan(temperatures=args.temperatures, **kwargs)
    calc_factory, driver = _driver(args.driver, args.element)
    a0, a0_source = _sample_lattice(args)
    structures, log = sample_structures(
        args.element,
        calc_factory,
        a0,
        plan=plan,
        seed=args.seed,
        report=lambda what, n: print(f"{what}: {n} frames", flush=True),
    )
    out = Path(args.out)
    write_structures(out / "structures.extxyz", structures)
    groups = {
        g: sum(s.info["group"] == g for s in structures) for g in dict.fromkeys(s.info["group"] for s in structures)
    }
    result = {
        "element": args.element,
        "a0": a0,
        "a0_source": a0_source,
        "driver": driver,
        "plan": asdict(plan),
        "structures": len(structures),
        "groups": groups,
        "dropped": log.dropped,
        "failed_runs": log.failed_runs,
    }
    write_record(out / "sample.json", make_record("sample", command_line(), result, seeds=(args.seed,)))
    print(
        f"{len(structures)} structures ({', '.join(f'{g} {n}' for g, n in groups.items())}) at a0 {a0:.4f} Å "
        f"({a0_source}), driver {driver} -> {out / 'structures.extxyz'}"
    )
    for line in log.failed_runs:
        print(f"stopped early: {line}")
    return 0


def _driver(name: str, element: str) -> tuple[Callable[[], Any], str]:
    """(calculator factory, description) of the MD driver: ``meam`` or a checkpoint / shipped model."""
    if name == "meam":
        from crosstrain.data.lammps import MissingDependencyError, meam_calculator, meam_elements

        if element not in meam_elements():  # one line now, before any MD
            raise MissingDependencyError(
                f"the LAMMPS MEAM library has no {element} (it has {', '.join(meam_elements())})"
            )
        return (lambda: meam_calculator(element)), f"LAMMPS MEAM ({element} of library.meam, Baskes)"
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.pretrained import resolve_model

    path = resolve_model(name)
    calc = CrosstrainCalculator(path)
    return (lambda: calc), f"crosstrain model {name}"


def _sample_lattice(args: argparse.Namespace) -> tuple[float, str]:
    """``--a0``, else the DFT setting's own lattice constant (an equation of state, labels cached)."""
    if args.a0 is not None:
        return float(args.a0), "given (--a0)"
    from crosstrain.dft.lattice import own_lattice_constant
    from crosstrain.species import lattice_guess

    settings = settings_from_args(args)
    a0, _ = own_lattice_constant(args.element, lattice_guess(args.element), Path(args.out) / "dft", settings=settings)
    return a0, f"the DFT setting's own (equation of state, settings {settings.sha256[:16]})"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="DFT energies, forces and stress for structures (GPAW; cached, resumable)")
    p.add_argument("data", help="extxyz file of structures (labels in it are ignored)")
    p.add_argument("--out", required=True, help="label folder: cache, labelled.extxyz, failed.json, settings.json")
    p.add_argument("--workers", type=int, help="parallel DFT processes, one thread each (default: one per core)")
    p.add_argument("--retry-failed", action="store_true", dest="retry_failed", help="compute failed labels again")
    add_settings_flags(p)
    p.set_defaults(func=_cmd_label)

    p = sub.add_parser("phonon-reference", help="DFT phonons of a diamond element (GPAW + phonopy; cached, resumable)")
    p.add_argument("element", help="a diamond-structure element: C, Si, Ge or Sn")
    p.add_argument("--out", required=True, help="folder: label cache, phonon_reference.json")
    p.add_argument("--a0", type=float, help="lattice constant in Å (default: the mlearn PBE data's zero-stress one)")
    p.add_argument("--mlearn", help="mlearn data folder (default: the shipped copy)")
    p.add_argument("--supercell", type=int, default=2, help="supercell of the --cell along each axis (default 2)")
    p.add_argument("--cell", default="primitive", choices=["primitive", "conventional"], help="the cell repeated")
    p.add_argument("--displacement", type=float, default=0.01, help="phonopy displacement in Å (default 0.01)")
    p.add_argument("--no-eos", action="store_true", dest="no_eos", help="skip the setting's own lattice constant")
    p.add_argument("--workers", type=int, help="parallel DFT processes, one thread each (default: one per core)")
    add_settings_flags(p)
    p.add_argument("--density-tolerance", type=float, dest="density_tolerance", help="SCF density tolerance")
    p.set_defaults(func=_cmd_phonon_reference)
    p = sub.add_parser(
        "crystal-reference", help="DFT lattice constant, B, C11/C12/C44, vacancy of a cubic element (cached, resumable)"
    )
    p.add_argument("element", help="an element whose reference crystal is bcc, fcc or diamond (e.g. Na)")
    p.add_argument("--out", required=True, help="folder: label cache, crystal_reference.json")
    p.add_argument("--a-guess", type=float, dest="a_guess", help="start of the equation of state (default: ASE's a0)")
    p.add_argument("--no-vacancy", action="store_true", dest="no_vacancy", help="skip the vacancy (the slow part)")
    p.add_argument("--density-tolerance", type=float, dest="density_tolerance", help="SCF density tolerance")
    add_settings_flags(p)
    p.set_defaults(func=_cmd_crystal_reference)

    p = sub.add_parser("sample", help="structures of mlearn's kinds for a new element, to label with DFT")
    p.add_argument("element", help="an element whose reference crystal is bcc, fcc or diamond (e.g. Na)")
    p.add_argument("--out", required=True, help="folder: structures.extxyz, sample.json (and dft/ for the a0 fit)")
    p.add_argument(
        "--temperatures", type=temperature_list, required=True, help="bulk MD temperatures, e.g. 100,300,600"
    )
    p.add_argument("--driver", default="meam", help="'meam' (LAMMPS's MEAM library) or a checkpoint / model name")
    p.add_argument("--a0", type=float, help="lattice constant in Å (default: the DFT setting's own, by GPAW)")
    p.add_argument("--frames", type=int, help="frames per bulk temperature (16)")
    p.add_argument("--vacancy-frames", type=int, dest="vacancy_frames", help="per vacancy temperature (8)")
    p.add_argument("--elastic", type=int, help="strained cubic cells (20)")
    p.add_argument("--surfaces", nargs="*", help="Miller indices of slabs (100 110); none: no slabs")
    p.add_argument("--surface-frames", type=int, dest="surface_frames", help="frames per surface (6)")
    p.add_argument("--repeat", type=int, help="cubic cells per axis of the bulk supercell (2)")
    p.add_argument("--layers", type=int, help="cubic-cell layers per slab (3)")
    p.add_argument("--interval-ps", type=float, dest="interval_ps", help="MD time between frames (0.5)")
    p.add_argument("--seed", type=int, default=0)
    add_settings_flags(p)
    p.set_defaults(func=_cmd_sample)
