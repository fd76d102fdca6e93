"""Long-MD stability of transfer vs scratch, as in the paper: per model and temperature, K seeded
Langevin runs of 50 ps on a 64-atom diamond cell (defaults: K = 1, 2 fs steps, assumed), each model
on its own worker process (``--workers``, default cores // ``--threads``) through one compiled
calculator, runs one after another; ``--no-compile`` batches a model's runs into one eager model
call per step (``crosstrain.md.replicas``; on a CPU about half the compiled rate).

Each ``--arm NAME=PATTERN`` is one arm: a checkpoint path, a glob (``runs/fig4/Ge_full_*.ckpt``:
the paper's several models per arm, e.g. the five one-structure models of ``crosstrain
transferability``) or a shipped model's name. Reports per arm and temperature the fraction of
runs that stayed physical for the whole ``--ps`` (the harness's checks: temperature below 3x the
target, no pair closer than 1.5 Å, forces below 50 eV/Å) and the time to failure of the others,
with a run that survived counted as censored at ``--ps`` (the median is then a lower bound); with
two arms of the same size, models are paired by index (the same training structure) and the
comparison says on how many pairs the first arm was at least as stable. Every model's result is
saved in ``--dir`` as it finishes, so a killed benchmark resumes; a cached result made with other
settings (length, time step, temperatures, runs, seed, cell) is refused with one line. Writes
``benchmarks/md-stability/<name>.json`` with settings, seeds and provenance.

    python benchmarks/md-stability/md_stability.py --arm full='runs/fig4/Ge_full_*.ckpt' \\
        --arm scratch='runs/fig4/Ge_scratch_*.ckpt' --element Ge --temperatures 900 1500 --name md_stability_50ps
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent


def models_of(pattern: str) -> list[str]:
    paths = sorted(glob.glob(pattern))
    return paths or [pattern]  # a single path or a shipped model's name


def run_settings(args: argparse.Namespace, path: str) -> dict[str, Any]:
    """What a model's cached result depends on (a rerun with other settings must not reuse it)."""
    keys = ("element", "lattice", "temperatures", "runs", "ps", "timestep", "seed")
    return {"checkpoint": path, **{k: getattr(args, k) for k in keys}}


def run_model(path: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    from ase.build import bulk

    from crosstrain.io.atomic import write_text
    from crosstrain.md.replicas import batched
    from crosstrain.md.run import MDSettings
    from crosstrain.md.stability import stability
    from crosstrain.pretrained import resolve_model
    from crosstrain.workflows.properties import lattice_guess

    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("settings", run_settings(args, path)) != run_settings(args, path):  # older caches lack them
            raise SystemExit(f"{cache}: made with other settings ({cached['settings']}); use another --name or --dir")
        return cached
    a = args.lattice or lattice_guess(args.element)
    cell = bulk(args.element, "diamond", a=a, cubic=True) * (2, 2, 2)
    settings = MDSettings(steps=int(round(args.ps * 1000 / args.timestep)), timestep_fs=args.timestep, seed=args.seed)
    t0 = time.perf_counter()
    if args.compile:  # one compiled calculator for all of this model's runs, one run after another
        import torch

        from crosstrain.calculator import CrosstrainCalculator

        torch._dynamo.reset()  # one compiled model per process at a time (crosstrain.model.compiled)
        calc = CrosstrainCalculator(resolve_model(path), compile=True)
        report = stability(cell, lambda: calc, args.temperatures, args.runs, settings)
    else:
        report = stability(cell, None, args.temperatures, args.runs, settings, model=batched(path))
    result = {
        "checkpoint": path,
        "fraction_stable": report.fraction_stable,
        "runs": {
            t: [{"stable": r.stable, "time_ps": r.time_ps, "reason": r.reason} for r in v.runs]
            for t, v in report.by_temperature.items()
        },
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "run_steps_per_second": round(
            len(args.temperatures) * args.runs * settings.steps / (time.perf_counter() - t0), 1
        ),
        "mode": "compiled, sequential" if args.compile else "eager, batched replicas",
        "settings": run_settings(args, path),
    }
    write_text(cache, json.dumps(result, indent=1))
    return result


def _report(job: tuple[str, int, str, Path], result: dict[str, Any]) -> None:
    name, k, path, _ = job
    speed = f"{result['wall_seconds']:.0f} s, {result.get('run_steps_per_second', 0):.0f} run-steps/s"
    print(f"{name} {k} ({path}): fraction stable {result['fraction_stable']:.2f} ({speed})", flush=True)


def run_all(jobs: list[tuple[str, int, str, Path]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every model's runs, on ``args.workers`` spawned processes of ``args.threads`` threads each
    (one model per process at a time; a finished model's cached result is read, not rerun)."""
    from crosstrain.parallel import spawn_pool

    results: dict[int, dict[str, Any]] = {}
    todo = [i for i, job in enumerate(jobs) if not job[3].exists()]
    for i in set(range(len(jobs))) - set(todo):
        results[i] = run_model(jobs[i][2], args, jobs[i][3])
        _report(jobs[i], results[i])
    workers = max(1, min(args.workers, len(todo) or 1))
    print(f"{len(todo)} of {len(jobs)} models to run on {workers} workers x {args.threads} threads", flush=True)
    if workers == 1:
        for i in todo:
            results[i] = run_model(jobs[i][2], args, jobs[i][3])
            _report(jobs[i], results[i])
        return [results[i] for i in range(len(jobs))]
    with spawn_pool(workers, args.threads) as pool:
        futures = {i: pool.submit(run_model, jobs[i][2], args, jobs[i][3]) for i in todo}
        for i, future in futures.items():
            results[i] = future.result()
            _report(jobs[i], results[i])
    return [results[i] for i in range(len(jobs))]


def summarise(models: list[dict[str, Any]], temperatures: list[str], length_ps: float) -> dict[str, Any]:
    out: dict[str, Any] = {"models": len(models), "by_temperature": {}}
    for t in temperatures:
        runs = [r for m in models for r in m["runs"][t]]
        times = [r["time_ps"] if not r["stable"] else length_ps for r in runs]
        failed = [r["time_ps"] for r in runs if not r["stable"]]
        out["by_temperature"][t] = {
            "runs": len(runs),
            "fraction_stable": float(np.mean([r["stable"] for r in runs])),
            "failed": len(failed),
            "median_time_ps_censored": float(np.median(times)),
            "mean_time_to_failure_ps": float(np.mean(failed)) if failed else None,
        }
    all_runs = [r for m in models for t in temperatures for r in m["runs"][t]]
    out["fraction_stable"] = float(np.mean([r["stable"] for r in all_runs]))
    out["per_model_fraction_stable"] = [m["fraction_stable"] for m in models]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", action="append", required=True, help="NAME=PATTERN (path, glob or shipped name)")
    parser.add_argument("--element", default="Ge")
    parser.add_argument("--lattice", type=float, help="lattice constant (Å); default: ASE's reference value")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[900.0, 1500.0])
    parser.add_argument("--runs", type=int, default=1, help="seeded runs per temperature and model")
    parser.add_argument("--ps", type=float, default=50.0, help="length of each run in ps (the paper's long MD: 50)")
    parser.add_argument("--timestep", type=float, default=2.0, help="MD time step (fs; 2 fs assumed)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compiled calculator, runs one after another (on a CPU ~2x the batched eager rate); "
        "--no-compile: eager, a model's runs batched as replicas in one model call per step",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--workers", type=int, help="models run at once (default: cores // threads)")
    parser.add_argument("--dir", default="runs/md_stability", help="per-model results (resume)")
    parser.add_argument("--name", default="md_stability")
    args = parser.parse_args()
    from crosstrain.parallel import available_cores

    cores = available_cores()
    if args.threads < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--threads and --workers must be at least 1")
    args.workers = args.workers or max(1, cores // args.threads)
    if args.workers * args.threads > cores:
        parser.error(f"--workers {args.workers} x --threads {args.threads} oversubscribes the {cores} cores available")

    import torch

    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(args.threads)
    temps = [f"{t:g}" for t in args.temperatures]
    out: dict[str, Any] = {"settings": {**vars(args), "steps": int(round(args.ps * 1000 / args.timestep))}, "arms": {}}
    jobs = [
        (name, k, path, Path(args.dir) / args.name / f"{name}-{k}.json")
        for name, pattern in (item.split("=", 1) for item in args.arm)
        for k, path in enumerate(models_of(pattern))
    ]
    t0 = time.perf_counter()
    results = run_all(jobs, args)
    out["wall_seconds_this_run"] = round(time.perf_counter() - t0, 1)  # cached models cost nothing here
    per_arm: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in jobs}
    for (name, _, _, _), result in zip(jobs, results):
        per_arm[name].append(result)
    for name, models in per_arm.items():
        out["arms"][name] = {**summarise(models, temps, args.ps), "per_model": models}
    names = list(per_arm)
    if len(names) == 2 and len(per_arm[names[0]]) == len(per_arm[names[1]]):
        a, b = ([m["fraction_stable"] for m in per_arm[n]] for n in names)
        out["paired"] = {
            "pairs": len(a),
            f"{names[0]}_at_least_as_stable": int(sum(x >= y for x, y in zip(a, b))),
            f"{names[0]}_more_stable": int(sum(x > y for x, y in zip(a, b))),
        }
    out.update(provenance())
    RESULTS.mkdir(exist_ok=True)
    record = make_record("benchmark", command_line(), out, seeds=(args.seed,), threads=args.threads)
    write_record(RESULTS / f"{args.name}.json", record)
    for name in names:
        arm = out["arms"][name]
        by_t = arm["by_temperature"].items()
        cells = ", ".join(f"{t} K {v['fraction_stable']:.2f} ({v['runs']} runs)" for t, v in by_t)
        print(f"{name}: {arm['models']} models, fraction stable {arm['fraction_stable']:.2f}: {cells}")
    if "paired" in out:
        print(f"paired: {out['paired']}")


if __name__ == "__main__":
    main()
