"""What active learning buys: active (``uncertain``), ``stratified`` and ``coverage`` vs random
selection of the same number of DFT calls, all from the same transferred start, and scratch with
random selection, on one GPAW-labelled test set.

The test set never takes part in choosing: its geometries come from Langevin MD with the
Stillinger–Weber Ge potential (matscipy; not any model of the runs) on the explorer's cell kinds
(8-atom bulk and strained cells, a 15-atom vacancy cell, an 8-atom slab) at 300–1800 K, two
frames per run, drawn with a seed no run uses; they are labelled with the runs' DFT settings.
Per arm and seed the learning curve (test force and energy MAE after each round against DFT
calls) is recorded; the summary gives, per arm, the mean ± std over seeds of the final errors and
the DFT calls ``active``, ``stratified`` and ``coverage`` needed to reach ``random``'s force MAE
at the budget (linear interpolation on its curve; "not reached" counts as the full budget), like
with like on member-0 curves (``_member0``) and against random's final model (``_final``; random's
own curve is given too: it reaches its final model's error before the budget). Every run
resumes (``crosstrain active``); ``--saved`` pairs an arm run now with arms saved earlier.

    python benchmarks/active-learning/active_learning.py --seeds 3 --budget 24 --ecut 300 --kpoint-density 2.5
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent
ARMS = {
    "active": ("rescaled", "uncertain"),
    "stratified": ("rescaled", "stratified"),
    "coverage": ("rescaled", "coverage"),
    "random": ("rescaled", "random"),
    "scratch": ("scratch", "random"),
}


def test_geometries(seed: int = 987_654, temperatures=(300.0, 800.0, 1300.0, 1800.0), frames: int = 2) -> list:
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from crosstrain.active.explore import KINDS, ExploreSettings, base_cell
    from crosstrain.analysis.references import sw_calculator
    from crosstrain.structure import Structure

    rng = np.random.default_rng(seed)
    settings = ExploreSettings()
    out = []
    for kind in KINDS:
        for t in temperatures:
            atoms = base_cell(kind, "Ge", 5.654, rng=rng, settings=settings)  # the SW Ge lattice constant
            atoms.calc = sw_calculator("Ge")
            MaxwellBoltzmannDistribution(atoms, temperature_K=t, rng=rng)
            dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=t, friction=0.02 / units.fs, rng=rng, fixcm=False)
            for k in range(frames):
                dyn.run(300)
                s = Structure.from_atoms(atoms, source=f"SW test {kind} {t:g} K frame {k}", read_labels=False)
                out.append(s)
    return out


def run_arm(arm: str, seed: int, args: argparse.Namespace, test: list) -> dict[str, Any]:
    from crosstrain.active.explore import ExploreSettings
    from crosstrain.active.loop import ActiveSettings, Request, run_active
    from crosstrain.config import Strategy, load_config
    from crosstrain.dft.settings import DFTSettings

    strategy, selection = ARMS[arm]
    config = load_config("dft-cpu5")
    parent = None if strategy == "scratch" else args.parent
    transfer = replace(
        config.transfer, strategy=Strategy(strategy), parent=parent, element_map={} if parent is None else {"Ge": "Si"}
    )
    committee = 1 if selection == "random" else 3
    active = ActiveSettings(
        budget=args.budget,
        batch=args.batch,
        initial=args.initial,
        selection=selection,
        seed=seed,
        committee=committee,
        workers=args.workers,
        final_steps=args.final_steps,
    )
    dft = DFTSettings(ecut_ev=args.ecut, kpoint_density=args.kpoint_density)
    request = Request("Ge", replace(config, transfer=transfer), dft, active, ExploreSettings(), test)
    from crosstrain.train.loop import TrainingDiverged

    try:
        state = run_active(request, Path(args.out) / f"{arm}-s{seed}", log=lambda m: print(f"{arm} s{seed}: {m}"))
    except TrainingDiverged as exc:  # counted, never dropped
        return {"curve": [], "final_force_mae": None, "final_energy_mae": None, "stable": None, "diverged": str(exc)}
    assert state.final is not None and state.final.test is not None  # a finished run with a test set
    final = state.final.test
    # per round the committee's member 0 (short rounds); the last point is the final model, the one
    # compared across arms (so reaching random's final error mid-curve is a conservative figure)
    curve = [(r.dft_calls, r.test.force_mae, r.test.energy_mae) for r in state.rounds[:-1] if r.test]
    curve.append((state.final.dft_calls, final.force_mae, final.energy_mae))
    last = state.rounds[-1].test  # member 0 on every label: the final model of --final-steps 0
    by_kind = final_by_kind(Path(state.final.checkpoint), test)
    return {
        "curve": curve,
        "final_force_mae": final.force_mae,
        "final_energy_mae": final.energy_mae,
        "member0_force_mae": last.force_mae if last else None,
        "member0_energy_mae": last.energy_mae if last else None,
        "final_force_mae_by_kind": by_kind,
        "stable": state.final.stability.fraction_stable,
    }


def final_by_kind(checkpoint: Path, test: list) -> dict[str, float]:
    """The final model's test force MAE per kind of cell (the word after "SW test" in the source)."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate

    model = load_checkpoint(checkpoint).model
    tagged = [replace(s, info={**s.info, "group": s.source.split()[2]}) for s in test]
    groups = evaluate(model, Dataset(tagged, model.neighbour_cutoff, "test"), by=("group",)).by_group or {}
    return {kind: m.force_mae for kind, m in groups.items()}


def calls_to_reach(curve: list, target: float, budget: int) -> float:
    """DFT calls at which ``curve`` (calls, force MAE, ...) first reaches ``target`` (interpolated)."""
    prev = None
    for calls, force, *_ in curve or [(budget, float("inf"))]:
        if force <= target:
            if prev is None:
                return float(calls)
            (c0, f0), (c1, f1) = prev, (calls, force)
            return float(c0 + (c1 - c0) * (f0 - target) / (f0 - f1))
        prev = (calls, force)
    return float(budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parent", default="si-dft5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--only-seeds", type=int, nargs="+", dest="only_seeds", help="these seeds only (e.g. a second process)"
    )
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--initial", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--ecut", type=float, default=350.0)
    parser.add_argument("--kpoint-density", type=float, default=3.5, dest="kpoint_density")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--final-steps",
        type=int,
        default=1500,
        dest="final_steps",
        help="more steps for the final model (crosstrain active's default; the summary "
        "also compares the last round's member 0, the final model of --final-steps 0)",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        default=list(ARMS),
        choices=list(ARMS),
        help="the results file holds the arms of this run only: to add an arm to cached "
        "ones, name them all (finished runs are read back, not rerun)",
    )
    parser.add_argument(
        "--saved",
        nargs="*",
        default=[],
        help="results files of earlier runs of this benchmark (same settings): their arms "
        "join the summary's paired comparisons (arms run now take precedence)",
    )
    parser.add_argument("--out", default="runs/active_bench")
    parser.add_argument("--name", default="active_learning")
    args = parser.parse_args()

    from crosstrain.dft.label import label_structures
    from crosstrain.dft.settings import DFTSettings
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    dft = DFTSettings(ecut_ev=args.ecut, kpoint_density=args.kpoint_density)
    geometries = test_geometries()
    labels = label_structures(geometries, Path(args.out) / "test", dft, workers=args.workers)
    test = [lab.apply(s) for s, lab in zip(geometries, labels.labels) if lab.ok]
    runs: dict[str, dict[int, dict[str, Any]]] = {arm: {} for arm in args.arms}
    saved = saved_runs(args.saved, dft.sha256, args.arms)
    seeds = list(args.only_seeds or range(args.seeds))
    omp = os.environ.get("OMP_NUM_THREADS", "")
    for seed in seeds:  # seed by seed: a partial result is already paired
        for arm in args.arms:
            runs[arm][seed] = run_arm(arm, seed, args, test)
            out = {
                "settings": {**vars(args), "dft_sha256": dft.sha256},
                "test_structures": len(test),
                "test_failed_labels": len(labels.failed),
                "runs": runs,
                "saved": args.saved,
                "summary": summarise({**saved, **runs}, args.budget),
                **provenance().to_json(),
            }
            RESULTS.mkdir(exist_ok=True)
            record = make_record(
                "benchmark", command_line(), out, seeds=tuple(seeds), threads=int(omp) if omp.isdigit() else None
            )
            write_record(RESULTS / f"{args.name}.json", record)
    print(json.dumps(out["summary"], indent=1, default=str))


def saved_runs(files: list[str], sha256: str, skip: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    """The arms of earlier results files (not those run now); a file with other DFT settings stops."""
    from crosstrain.records import read_record

    out: dict[str, dict[int, dict[str, Any]]] = {}
    for name in files:
        path = Path(name) if Path(name).exists() else RESULTS / name
        data = read_record(path).result
        if data["settings"].get("dft_sha256") != sha256:
            raise SystemExit(f"{path}: its DFT settings differ from this run's (dft_sha256); not comparable")
        for arm, by_seed in data["runs"].items():
            if arm not in skip:
                out.setdefault(arm, {}).update({int(s): r for s, r in by_seed.items()})
    return out


def summarise(runs: dict[str, dict[int, dict[str, Any]]], budget: int) -> dict[str, Any]:
    """Per arm mean ± std over the seeds done; paired comparisons over the seeds both arms have."""
    from dataclasses import asdict

    from crosstrain.analysis.comparison import cell, paired

    summary: dict[str, Any] = {}
    for arm, by_seed in runs.items():
        summary[arm] = {
            k: asdict(cell([r.get(k) for r in by_seed.values()]))
            for k in ("final_force_mae", "final_energy_mae", "member0_force_mae", "stable")
        }
    pairs = (
        ("active", "random"),
        ("stratified", "random"),
        ("stratified", "active"),
        ("coverage", "random"),
        ("coverage", "active"),
        ("random", "scratch"),
        ("active", "scratch"),
    )
    for arm, base in pairs:
        common = sorted(set(runs.get(arm, {})) & set(runs.get(base, {})))
        for key, suffix in (("final_force_mae", ""), ("member0_force_mae", "_member0")):
            if common:
                a, b = ([runs[x][s].get(key) for s in common] for x in (arm, base))
                summary[f"{arm}_vs_{base}{suffix}"] = paired(a, b).text()
    for arm in ("active", "stratified", "coverage", "random"):
        common = sorted(set(runs.get(arm, {})) & set(runs.get("random", {})))
        for suffix, curve_of, key in (
            ("final", lambda r: r["curve"], "final_force_mae"),
            ("member0", member0_curve, "member0_force_mae"),
        ):
            if arm == "random" and suffix == "member0":
                continue  # random against its own member 0 at the budget: the budget, by definition
            needed = [
                calls_to_reach(curve_of(runs[arm][s]), runs["random"][s][key], budget)
                for s in common
                if runs["random"][s].get(key) is not None
            ]
            if needed:
                mean = float(np.mean(needed))
                summary[f"{arm}_calls_to_reach_random_{suffix}"] = {
                    "per_seed": needed,
                    "mean": mean,
                    "saving": 1 - mean / budget,
                }
    return summary


def member0_curve(run: dict[str, Any]) -> list:
    """The run's curve with member 0 at every point: the rounds' member 0 and, at the budget, the
    last round's member 0 (trained on every label) in place of the final model. Like with like
    against random's member 0; random's final model (+``--final-steps``) is worse on forces than its
    member 0, so reaching *it* early is partly the extra steps' doing (random's own member-0 curve
    reaches it before the budget)."""
    curve = run.get("curve") or []
    if not curve or run.get("member0_force_mae") is None:
        return curve
    return [*curve[:-1], (curve[-1][0], run["member0_force_mae"], run.get("member0_energy_mae"))]


if __name__ == "__main__":
    main()
