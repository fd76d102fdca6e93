"""The active-learning loop: explore, choose, label with DFT, retrain; resumable at every step.

Round 0 labels ``initial`` structures chosen for diversity among rattled and strained seed cells
(bulk, strained, vacancy, surface at the element's reference lattice constant): no model has
seen the target element yet. Then each round

1. trains the committee on every label so far (member 0 from the transfer request in round 0,
   then every member warm-started from its previous round; see :mod:`.committee`),
2. evaluates member 0 on the test set if one is given (the learning curve: error vs DFT calls),
3. stops if the budget of DFT calls is spent, else explores with member 0 (:mod:`.explore`),
4. chooses ``batch`` candidates (:mod:`.select`; ``random`` for the baseline) and stops instead
   if the largest committee force deviation in the pool is below ``threshold``,
5. labels them (:mod:`crosstrain.dft.label`: cached, so nothing is ever computed twice).

Every stage writes its result atomically before the next starts (pool, choice, labels,
checkpoints, the round's record in ``active.json``), so a killed run resumes where it stopped.
The final model is the last round's member 0 (trained on every label) trained ``final_steps``
more (``final_steps=0``: that member itself); then it runs a short MD stability test. The extra
steps trade forces for energies: in the transferred benchmark runs of
``benchmarks/active-learning/active_learning.py`` they raised the test force error a little and lowered the
energy error more (the records ``benchmarks/active-learning/active_learning*.json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.active.committee import committee_forces, force_deviation, train_member
from crosstrain.active.explore import KINDS, ExploreSettings, base_cell, explore, stability_of
from crosstrain.active.records import ActiveState, FinalModel, RoundRecord
from crosstrain.active.select import MODES, Pick, finite_deviation, select
from crosstrain.config import Config
from crosstrain.data.extxyz import read_structures, write_structures
from crosstrain.dft.label import label_structures
from crosstrain.dft.settings import DFTSettings
from crosstrain.errors import ConfigError, CrosstrainError
from crosstrain.io.atomic import write_text
from crosstrain.structure import Structure
from crosstrain.train.records import Metrics


@dataclass(frozen=True)
class ActiveSettings:
    budget: int = 24  # DFT calls in all (failed ones count: they cost)
    batch: int = 4
    initial: int = 4
    committee: int = 3
    steps: int = 300  # gradient steps per member per round
    final_steps: int = 1500  # 0: the final model is the last round's member 0 itself
    # the best measured committee selection (benchmarks/active-learning/active_learning_coverage5.json);
    # "uncertain" before 2026-11-30
    selection: str = "coverage"
    threshold: float | None = None  # eV/Å: stop when no candidate's force deviation exceeds it
    seed: int = 0
    workers: int | None = None  # DFT processes (default: one per core)
    stability_temperatures: tuple[float, ...] = (600.0, 1200.0)
    stability_ps: float = 2.0

    @property
    def members_per_round(self) -> int:
        """Models trained per round: the committee for every selection that reads its deviation;
        one for ``random``, which reads none."""
        return 1 if self.selection == "random" else self.committee

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ConfigError(f"the DFT budget must be at least 1 call (got {self.budget})")
        if self.selection not in MODES:
            raise ConfigError(f"unknown selection {self.selection!r} (choose from {', '.join(MODES)})")
        if min(self.batch, self.initial, self.committee, self.steps) < 1:
            raise ConfigError("batch, initial, committee and steps must be >= 1")
        if self.final_steps < 0:
            raise ConfigError(f"final_steps must be >= 0 (got {self.final_steps})")
        if self.selection != "random" and self.committee < 2:
            raise ConfigError(f"selection {self.selection!r} needs a committee of at least 2 models")


@dataclass
class Request:
    """What to learn: the target element, the transfer start and the DFT settings."""

    element: str
    config: Config  # recipe with its transfer request (parent, element map, strategy)
    dft: DFTSettings
    active: ActiveSettings
    explore: ExploreSettings
    test: list[Structure] | None = None


Log = Callable[[str], None]


def seed_pool(
    element: str, *, rng: np.random.Generator, settings: ExploreSettings, per_kind: int = 3
) -> list[Structure]:
    """Rattled cells of every kind at the element's reference lattice constant (round 0)."""
    from crosstrain.species import reference_crystal

    _, a = reference_crystal(element)
    if not a:
        raise ConfigError(f"no reference lattice constant for {element} in ASE; the explorer cannot build its cells")
    out = []
    for kind in settings.kinds:
        for k in range(per_kind):
            atoms = base_cell(kind, element, a, rng=rng, settings=settings)
            atoms.rattle(0.1, seed=int(rng.integers(2**31)))
            s = Structure.from_atoms(atoms, source=f"{kind} seed cell {k}", read_labels=False)
            out.append(
                Structure(
                    s.positions, s.numbers, s.cell, s.pbc, info={"kind": kind, "temperature": 0.0}, source=s.source
                )
            )
    return out


def run_active(request: Request, out: str | Path, log: Log = print) -> ActiveState:
    """Run (or resume) the loop into ``out``; returns the record also written to ``active.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = _load_state(out, request)
    chosen: list[Structure] = []
    members: list[Path] | None = None
    for r in range(request.active.budget + 1):
        folder = out / f"round-{r:02d}"
        more = _choose_and_label(request, out, folder, r, chosen, members, log)
        if len(more) == len(chosen):
            choice = json.loads((folder / "choice.json").read_text())
            state = replace(state, stopped=choice.get("stop") or "nothing left to choose")
            break
        chosen = more
        labelled = _labelled(out, len(chosen))
        t0 = time.perf_counter()
        members = _train_round(request, folder, labelled, members, log)
        if len(state.rounds) <= r:
            record = _round_record(request, r, folder, labelled, len(chosen), members, t0)
            state = replace(state, rounds=(*state.rounds, record))
            _save_state(out, state)
        if len(chosen) >= request.active.budget:
            state = replace(state, stopped=f"the budget of {request.active.budget} DFT calls is spent")
            break
    done = state.final
    if not (done and done.dft_calls == len(chosen) and Path(done.checkpoint).is_file()):  # never redone
        state = replace(state, final=_final(request, out, chosen, members, log))
        _save_state(out, state)
    return state


def _choose_and_label(
    request: Request, out: Path, folder: Path, r: int, chosen: list[Structure], members: list[Path] | None, log: Log
) -> list[Structure]:
    """Pool, choice and labels of round ``r`` (each reused from disk when already there);
    returns every chosen structure so far."""
    a = request.active
    rng = np.random.default_rng([a.seed, r])
    folder.mkdir(parents=True, exist_ok=True)
    pool_file, choice_file = folder / "pool.extxyz", folder / "choice.json"
    if not choice_file.exists():
        t0 = time.perf_counter()
        if pool_file.exists():  # explored before a kill: the same candidates, not a new draw
            pool = read_structures(pool_file)
        else:
            if members is None:
                pool = seed_pool(request.element, rng=rng, settings=request.explore)
            else:
                pool = _explore_with(members[0], request, rng, folder)
            if pool:
                write_structures(pool_file, pool)
                pool = read_structures(pool_file)  # the stored geometry is the one labelled
        # its own generator: the choice does not depend on whether the pool was read back after a kill
        choice = _choose(request, pool, chosen, members, np.random.default_rng([a.seed, r, 1]))
        choice["explore_seconds"] = time.perf_counter() - t0
        write_text(choice_file, json.dumps(choice, indent=1))
    choice = json.loads(choice_file.read_text())
    pool = read_structures(pool_file) if choice["picks"] else []
    new = [_tagged(pool[p["index"]], r, p) for p in choice["picks"]]
    everything = chosen + new
    if new:
        t0 = time.perf_counter()
        run = label_structures(everything, out / "dft", request.dft, workers=a.workers)
        choice["dft_wall_seconds"] = choice.get("dft_wall_seconds", time.perf_counter() - t0)
        choice["dft_cpu_seconds"] = float(sum(x.seconds for x in run.labels[len(chosen) :]))
        choice["failed"] = [x.reason for x in run.labels[len(chosen) :] if not x.ok]
        write_text(choice_file, json.dumps(choice, indent=1))
        write_structures(out / "chosen.extxyz", everything)
        log(f"round {r}: labelled {len(new)} of a pool of {choice['pool']} ({len(everything)} DFT calls so far)")
    return everything


def _labelled(out: Path, calls: int) -> list[Structure]:
    path = out / "dft" / "labelled.extxyz"
    if not path.exists():
        raise CrosstrainError(f"{out}: none of the {calls} DFT calls succeeded; see {out / 'dft' / 'failed.json'}")
    return read_structures(path)


def _choose(
    request: Request,
    pool: list[Structure],
    chosen: list[Structure],
    members: list[Path] | None,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The round's choice as JSON: picks (index into the pool, deviation, why) or why none."""
    a = request.active
    if not pool:
        return {"picks": [], "pool": 0, "largest_deviation": None, "stop": "exploration produced no candidates"}
    k = min(a.initial if members is None else a.batch, a.budget - len(chosen))
    picks, deviation = _pick(request, pool, chosen, members, k, rng)
    largest = None if deviation is None else float(deviation.max())
    stop = None
    if a.threshold is not None and largest is not None and largest < a.threshold:
        picks, stop = [], f"no candidate's committee force deviation exceeds {a.threshold:g} eV/Å"
    return {
        "picks": [{**asdict(p), "source": pool[p.index].source, "what": _what(pool[p.index])} for p in picks],
        "pool": len(pool),
        "largest_deviation": largest,
        "stop": stop,
    }


def _what(s: Structure) -> str:
    """The candidate in words: its kind of cell and the MD temperature it came from (0 K: a seed cell)."""
    kind, t = s.info.get("kind"), s.info.get("temperature")
    return f"{kind} cell, {float(t):g} K" if kind is not None and t is not None else ""


def _tagged(s: Structure, r: int, pick: dict[str, Any]) -> Structure:
    info = {**s.info, "round": r, "uncertainty": pick["uncertainty"] if pick["uncertainty"] is not None else -1.0}
    return Structure(s.positions, s.numbers, s.cell, s.pbc, info=info, source=s.source)


def _pick(
    request: Request,
    pool: list[Structure],
    chosen: list[Structure],
    members: list[Path] | None,
    k: int,
    rng: np.random.Generator,
) -> tuple[list[Pick], np.ndarray | None]:
    a = request.active
    if members is None:  # round 0: diversity only (random for the baseline)
        return select(pool, k, mode=a.selection, rng=rng, labelled=chosen), None
    deviation = None
    if len(members) > 1:
        deviation = finite_deviation(np.array([force_deviation(f) for f in committee_forces(members, pool)]))
    return select(pool, k, mode=a.selection, rng=rng, labelled=chosen, uncertainty=deviation), deviation


def _explore_with(member: Path, request: Request, rng: np.random.Generator, folder: Path) -> list[Structure]:
    from crosstrain.calculator import CrosstrainCalculator

    return explore(
        request.element,
        lambda: CrosstrainCalculator(member),
        settings=request.explore,
        seed=int(rng.integers(2**31)),
        workdir=folder / "md",
    )


def _train_round(
    request: Request, folder: Path, labelled: list[Structure], previous: list[Path] | None, log: Log
) -> list[Path]:
    a = request.active
    n = a.members_per_round
    t0 = time.perf_counter()
    members = [
        train_member(
            request.config,
            labelled,
            folder / f"member-{m}.ckpt",
            member=m,
            seed=a.seed,
            steps=a.steps,
            previous=previous[m] if previous else None,
        )
        for m in range(n)
    ]
    seconds = time.perf_counter() - t0
    if seconds > 1:
        log(f"{folder.name}: trained {n} committee member(s) on {len(labelled)} labels in {seconds:.0f} s")
    return members


def _round_record(
    request: Request, r: int, folder: Path, labelled: list[Structure], n_calls: int, members: list[Path], t0: float
) -> RoundRecord:
    """The round's record; its ``train_seconds`` count from ``t0`` (the committee's training) to
    the end of member 0's test evaluation."""
    choice_file = folder / "choice.json"
    choice = json.loads(choice_file.read_text()) if choice_file.exists() else None
    test = _evaluate(members[0], request.test) if request.test else None
    return RoundRecord(
        round=r,
        dft_calls=n_calls,
        labels=len(labelled),
        choice=choice,
        test=test,
        train_seconds=time.perf_counter() - t0,
    )


def _evaluate(checkpoint: Path, test: list[Structure]) -> Metrics:
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate

    model = load_checkpoint(checkpoint).model
    return evaluate(model, Dataset(test, model.neighbour_cutoff, "test data"), by=())


def _final(request: Request, out: Path, chosen: list[Structure], previous: list[Path] | None, log: Log) -> FinalModel:
    labelled = _labelled(out, len(chosen))
    path = out / f"final-{len(chosen):03d}calls.ckpt"
    if request.active.final_steps > 0 or not previous:
        final = train_member(
            request.config,
            labelled,
            path,
            member=0,
            seed=request.active.seed,
            steps=request.active.final_steps,
            previous=previous[0] if previous else None,
        )
    else:  # the last round's member 0 has seen every label: it is the final model, under its own name
        final = _copy_atomic(previous[0], path)
    test = _evaluate(final, request.test) if request.test else None
    active = request.active
    # the recipe's compile switch (members train eagerly whatever it says: their rounds are short)
    stability = stability_of(
        final,
        request.element,
        temperatures=active.stability_temperatures,
        ps=active.stability_ps,
        compile=request.config.train.compile,
    )
    log(f"final model {final}: {len(labelled)} labels, stable MD {stability.fraction_stable:.0%}")
    return FinalModel(
        checkpoint=str(final), dft_calls=len(chosen), labels=len(labelled), test=test, stability=stability
    )


def _copy_atomic(source: Path, target: Path) -> Path:
    import shutil

    from crosstrain.io.atomic import atomic_path

    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def _load_state(out: Path, request: Request) -> ActiveState:
    path = out / "active.json"
    settings = {
        "active": asdict(request.active),
        "explore": asdict(request.explore),
        "dft": request.dft.to_dict(),
        "dft_sha256": request.dft.sha256,
        "element": request.element,
        "config": request.config.to_dict(),
    }
    if path.exists():
        state = ActiveState.from_json(json.loads(path.read_text()))
        old = json.loads(json.dumps(state.settings, default=str))
        new = json.loads(json.dumps(settings, default=str))
        for s in (old, new):  # a resumed run may raise its budget or change its DFT workers, nothing else
            s["active"] = {k: v for k, v in s["active"].items() if k not in ("budget", "workers")}
        changed = sorted(k for k in new if old.get(k) != new[k])
        if changed:
            raise ConfigError(
                f"{out}: this folder holds a run with other settings ({', '.join(changed)}); "
                "resume it with its own settings (only --budget and --workers may change) "
                "or use another --out"
            )
        return replace(state, settings=settings)
    return ActiveState(settings, rounds=(), kinds=KINDS)


def _save_state(out: Path, state: ActiveState) -> None:
    write_text(out / "active.json", json.dumps(state.to_json(), indent=1, default=str))
