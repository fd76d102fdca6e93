"""``crosstrain active``: transfer plus active learning with a real DFT code."""

from __future__ import annotations

import argparse
from dataclasses import replace


def _cmd_active(args: argparse.Namespace) -> int:
    from crosstrain.active.explore import ExploreSettings
    from crosstrain.active.loop import ActiveSettings, Request, run_active
    from crosstrain.active.report import write_report
    from crosstrain.config import Strategy, load_config
    from crosstrain.dft.cli import settings_from_args
    from crosstrain.train.transfer import parse_element_map

    element_map = parse_element_map(args.map) or _inferred_map(args.parent, args.element)
    config = load_config(args.recipe, args.set)
    config = replace(
        config,
        transfer=replace(
            config.transfer, strategy=Strategy(args.strategy), parent=args.parent, element_map=element_map
        ),
    )
    explore = ExploreSettings(
        **{
            k: v
            for k, v in {
                "temperatures": args.temperatures and tuple(args.temperatures),
                "kinds": args.kinds and tuple(args.kinds),
                "md_steps": args.md_steps,
            }.items()
            if v
        }
    )
    active = ActiveSettings(
        budget=args.budget,
        batch=args.batch,
        initial=args.initial,
        committee=args.committee,
        steps=args.steps,
        final_steps=args.final_steps,
        selection=args.selection,
        threshold=args.threshold,
        seed=args.seed,
        workers=args.workers,
    )
    request = Request(args.element, config, settings_from_args(args), active, explore, _test_set(args))
    check_request(request)
    state = run_active(request, args.out, log=lambda m: print(m, flush=True))
    print(f"report: {write_report(state, args.out)}")
    return 0


def _inferred_map(parent: str, element: str) -> dict[str, str]:
    """Without ``--map``: a one-element parent maps onto the target element (said in one line)."""
    from crosstrain.io.checkpoint import read_meta
    from crosstrain.pretrained import resolve_model
    from crosstrain.request import infer_map

    found = infer_map(list(read_meta(resolve_model(parent)).species), {element})
    if found is None:
        return {}
    mapping, source = found
    if mapping:
        print(f"crosstrain active: map {', '.join(f'{t}={s}' for t, s in mapping.items())} ({source})", flush=True)
    return mapping


def _test_set(args: argparse.Namespace) -> list | None:
    if not args.test:
        return None
    from crosstrain.data.extxyz import read_structures

    return read_structures(args.test, require=("energy", "forces"), element=args.element)


def check_request(request) -> None:
    """Fail before any DFT call: a parent that cannot serve, a test set with other DFT settings."""
    from ase.data import reference_states

    from crosstrain.errors import ConfigError, SpeciesError
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model
    from crosstrain.species import to_atomic_number

    t = request.config.transfer
    z = to_atomic_number(request.element)
    if (reference_states[z] or {}).get("symmetry") != "diamond":
        raise ConfigError(f"{request.element}: the explorer builds diamond-structure cells only (Si, Ge, C, Sn)")
    if t.strategy.needs_parent:
        if t.parent is None:
            raise ConfigError(f"strategy {t.strategy.value!r} needs a parent model (--from)")
        species = load_checkpoint(resolve_model(t.parent)).model.species
        for target, source in t.element_map.items():
            if to_atomic_number(source) not in species:
                raise SpeciesError(
                    f"--map {target}={source}: the parent has no {source} ({', '.join(species.symbols)})"
                )
        if z not in species and request.element not in t.element_map:
            raise SpeciesError(
                f"the parent knows {', '.join(species.symbols)}, not {request.element}: "
                f"map it, e.g. --map {request.element}={species.symbols[0]}"
            )
    for s in request.test or []:
        sha = s.info.get("dft_settings_sha256")
        if sha is not None and sha != request.dft.sha256:
            raise ConfigError(f"{s.source}: labelled with other DFT settings ({str(sha)[:16]}) than this run's")


def register(sub: argparse._SubParsersAction) -> None:
    from crosstrain.active.explore import KINDS
    from crosstrain.active.select import MODES
    from crosstrain.config import STRATEGIES
    from crosstrain.dft.cli import add_settings_flags

    p = sub.add_parser("active", help="transfer, then choose, compute (DFT) and learn the next structures")
    p.add_argument("--element", required=True, help="the target element, e.g. Ge")
    p.add_argument("--from", dest="parent", help="parent checkpoint or shipped model name (e.g. si-dft5)")
    p.add_argument("--map", nargs="*", help="element map target=source, e.g. Ge=Si (inferred for a one-element parent)")
    p.add_argument("--strategy", default="rescaled", choices=STRATEGIES)
    p.add_argument("--recipe", default="dft-cpu5", help="training recipe (name or YAML)")
    p.add_argument("--set", action="append", default=[], help="recipe override, e.g. train.lr=1e-3")
    p.add_argument("--out", required=True, help="run folder (resumable)")
    p.add_argument("--budget", type=int, default=24, help="DFT calls in all")
    p.add_argument("--initial", type=int, default=4, help="structures labelled before the first committee")
    p.add_argument("--batch", type=int, default=4, help="structures labelled per round")
    p.add_argument("--committee", type=int, default=3, help="models whose disagreement is the uncertainty")
    p.add_argument("--steps", type=int, default=300, help="gradient steps per member per round")
    p.add_argument(
        "--final-steps",
        type=int,
        default=1500,
        dest="final_steps",
        help="more steps for the final model on all labels (0: the last round's member 0 itself; "
        "on transferred runs fewer steps gave lower force and higher energy errors)",
    )
    p.add_argument("--selection", default="coverage", choices=MODES, help="'random' is the baseline")
    p.add_argument("--threshold", type=float, help="stop when no candidate's force deviation exceeds this (eV/Å)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="parallel DFT processes (default: one per core)")
    p.add_argument("--test", help="labelled extxyz test set (same DFT settings), never used for selection")
    p.add_argument("--temperatures", type=float, nargs="+", help="exploration MD temperatures (K)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, help="cells to explore")
    p.add_argument("--md-steps", type=int, dest="md_steps", help="MD steps per exploration run")
    add_settings_flags(p)
    p.set_defaults(func=_cmd_active)
