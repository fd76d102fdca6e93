"""The ``crosstrain study`` command family (registered by :mod:`crosstrain.cli`).

crosstrain study --spec sw-quick --dir runs/sw_ge [--workers 2] [--storage URL]
crosstrain study worker --dir runs/sw_ge [--storage URL]     # join from any machine
crosstrain study status --dir runs/sw_ge
crosstrain study report --dir runs/sw_ge
crosstrain study spec sw-paper > my_study.yaml              # a built-in spec, to edit
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from crosstrain.errors import ConfigError
from crosstrain.study.storage import GRACE_SECONDS, HEARTBEAT_SECONDS


def _storage(args: argparse.Namespace) -> str:
    from crosstrain.study.storage import default_storage_url

    return args.storage or default_storage_url(args.dir)


def _storage_kw(args: argparse.Namespace) -> dict[str, Any]:
    return {"heartbeat": args.heartbeat, "grace": args.grace}


def _cmd_study(args: argparse.Namespace) -> int:
    from crosstrain.progress import console as make_console
    from crosstrain.study.runner import run_study
    from crosstrain.study.spec import load_spec

    if not args.spec or not args.dir:
        raise ConfigError(
            "crosstrain study needs --spec (a YAML file or sw-quick, sw-paper, dft-quick, dft-paper) and --dir"
        )
    if args.workers > 1 or args.threads:  # 0: plan only; 1: in this process
        from crosstrain.parallel import plan_workers

        plan_workers(max(1, args.workers), 1, threads=args.threads)  # one line if they oversubscribe
    console = make_console()
    spec = load_spec(args.spec)
    if args.mlearn and spec.data["kind"] == "mlearn":  # SW specs make their data; --mlearn does not apply
        spec = dataclasses.replace(spec, data={**spec.data, "root": args.mlearn})
    doc = run_study(
        spec,
        args.dir,
        args.storage,
        workers=args.workers,
        threads=args.threads,
        log=lambda m: console.print(f"[bold cyan]study[/] {m}"),
        **_storage_kw(args),
    )
    if "wall_seconds_this_run" in doc:
        console.print(f"wall time of this run: {doc['wall_seconds_this_run']:.0f} s")
    if args.record:
        _write_record(args)
    return 0


def _write_record(args: argparse.Namespace) -> None:
    from crosstrain.records import command_line
    from crosstrain.study.results import write_study_record
    from crosstrain.study.worker import attach

    study = attach(args.dir, _storage(args), name=getattr(args, "name", None), **_storage_kw(args))
    print(f"record: {write_study_record(study, args.record, command_line())}")


def _cmd_worker(args: argparse.Namespace) -> int:
    from crosstrain.study.worker import attach, run_worker

    def log(m: str) -> None:
        print(m, flush=True)

    study = attach(args.dir, _storage(args), name=args.name, wait=args.wait, log=log, **_storage_kw(args))
    n = run_worker(study, threads=args.threads, log=log, max_jobs=args.max_trials)
    log(f"worker done: {n} trial(s) run")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from crosstrain.study.progress import status_line, study_status
    from crosstrain.study.worker import attach

    study = attach(args.dir, _storage(args), name=args.name, **_storage_kw(args))
    st = study_status(study)
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(status_line(st))
        for job in st["running"]:
            print(f"  running: {job}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from crosstrain.study.progress import study_status
    from crosstrain.study.results import write_results
    from crosstrain.study.worker import attach

    study = attach(args.dir, _storage(args), name=args.name, **_storage_kw(args))
    write_results(study, study_status(study))
    print(f"wrote {study.folder / 'report.md'}, report.html, results.csv, summary.csv")
    if args.record:
        _write_record(args)
    return 0


def _cmd_spec(args: argparse.Namespace) -> int:
    from crosstrain.study.spec import load_spec

    sys.stdout.write(load_spec(args.name).to_yaml())
    return 0


def _common(p: argparse.ArgumentParser, name: bool = True) -> None:
    p.add_argument("--dir", required=True, help="the study folder (data, models, storage, report)")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///<dir>/optuna.db)")
    if name:
        p.add_argument("--name", help="the study's name in the storage (needed if it holds several)")
    p.add_argument("--heartbeat", type=int, default=HEARTBEAT_SECONDS, help="seconds between a worker's heartbeats")
    p.add_argument(
        "--grace",
        type=int,
        default=GRACE_SECONDS,
        help="seconds without heartbeat after which a trial's worker is taken for dead",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="learning curves: sizes x seeds x strategies with hyperparameter search")
    p.add_argument("--spec", help="study spec: a YAML file or sw-quick, sw-paper, dft-quick, dft-paper")
    p.add_argument("--dir", help="the study folder (data, models, storage, report)")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///<dir>/optuna.db)")
    p.add_argument(
        "--workers", type=int, default=1, help="local worker processes (default 1: in this process; 0: plan only)"
    )
    p.add_argument("--threads", type=int, help="torch threads per worker (default: cores / workers)")
    p.add_argument("--mlearn", help="folder of the mlearn data (DFT specs; default: the copy shipped with crosstrain)")
    p.add_argument(
        "--record", help="also write the results as a record (JSON) here, e.g. benchmarks/<name>/<name>.json"
    )
    p.add_argument("--heartbeat", type=int, default=HEARTBEAT_SECONDS, help=argparse.SUPPRESS)
    p.add_argument("--grace", type=int, default=GRACE_SECONDS, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_study)
    ssub = p.add_subparsers(dest="study_command")
    w = ssub.add_parser("worker", help="join a planned study and work until it is finished")
    _common(w)
    w.add_argument("--threads", type=int, help="torch threads")
    w.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the planner (default 600)")
    w.add_argument("--max-trials", type=int, help="stop after this many trials")
    w.set_defaults(func=_cmd_worker)
    s = ssub.add_parser("status", help="trials done, running and queued; time left")
    _common(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_status)
    r = ssub.add_parser("report", help="(re)write the table, plot and report from the storage")
    _common(r)
    r.add_argument("--record", help="also write the results as a record (JSON) here")
    r.set_defaults(func=_cmd_report)
    sp = ssub.add_parser("spec", help="print a built-in spec as YAML")
    sp.add_argument("name", help="sw-quick, sw-paper, dft-quick or dft-paper")
    sp.set_defaults(func=_cmd_spec)
