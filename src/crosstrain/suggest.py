"""Choosing a parent: rank candidate parent models for a target data set (``crosstrain suggest``).

Each candidate (by default every shipped parent; any checkpoint may be added) is transferred to
the target data twice, as ``full`` (the parent's weights with the target element copied from its
source element) and as ``rescaled`` (the same, with the length and energy scales fitted to the
data: :mod:`crosstrain.train.scales`), and both starts are evaluated on the data before any
training step. The candidates are ranked by the force error of their ``rescaled`` start, the start
that fine-tuning begins from; a user sees the fitted scales (how far the parent's chemistry is from
the target's) and which parent and strategy to fine-tune with.

Which parent element a target element is copied from: the one the user maps it to (``--map``),
else the same element, else the parent's only element of the same periodic-table group (Ge from
Si, W from Mo, Na from Li). A candidate with no element of the group is not ranked, and the reason
is shown, unless it was offered by name (``--from``) and has one element only: then that element
is the source, across groups (Na from Si), and the table says so. When no candidate can map every
target element, the command stops with one line.

Data above ``budget`` force components are represented by a stratified subsample (the scale
search's own, :func:`~crosstrain.train.scales.scale_sample`), so that a ranking takes seconds to a
minute rather than the minutes of a full evaluation. The zero-shot errors are measured on the
structures the scales were fitted on (two numbers per element and the reference energies): they
rank candidates, they are not a held-out test.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from crosstrain.errors import ConfigError, SpeciesError
from crosstrain.schema import OMIT_NONE, JSONRecord
from crosstrain.species import symbol, to_atomic_number
from crosstrain.structure import Structure

#: force components of the target data the ranking uses (a stratified subsample above it)
BUDGET = 2_000

_NOBLE = (2, 10, 18, 36, 54, 86, 118)


def group(element: str | int) -> int | None:
    """The periodic-table group (1-18) of ``element``; ``None`` for lanthanides and actinides after
    La and Ac (which have no group number in the 18-column table)."""
    z = to_atomic_number(element)
    start = max((n for n in _NOBLE if n < z), default=0)  # the noble gas that closes the period before
    k = z - start  # position in its period, from 1
    if z <= 2:
        return 1 if z == 1 else 18
    if start in (2, 10):  # periods 2 and 3: groups 1-2, then 13-18
        return k if k <= 2 else k + 10
    if start in (54, 86):  # periods 6 and 7: after group 3 (La, Ac) come the 14 f-block elements
        if 4 <= k <= 17:
            return None
        return k if k <= 3 else k - 14
    return k  # periods 4 and 5: 18 columns in order


@dataclass(frozen=True)
class Candidate(JSONRecord):
    """One candidate parent on the target data: its element map, the fitted scales per target
    element, the zero-shot errors of its ``full`` and ``rescaled`` starts, and the strategy to
    fine-tune with; ``refused`` says why a candidate was not ranked."""

    SCHEMA_VERSION: ClassVar[int] = 1

    parent: str
    element_map: dict[str, str]
    length_scale: dict[str, float] = field(default_factory=dict)
    energy_scale: dict[str, float] = field(default_factory=dict)
    force_mae_full: float | None = field(default=None, metadata=OMIT_NONE)  # eV/Å
    force_mae_rescaled: float | None = field(default=None, metadata=OMIT_NONE)  # eV/Å
    energy_mae_rescaled: float | None = field(default=None, metadata=OMIT_NONE)  # meV/atom
    strategy: str | None = field(default=None, metadata=OMIT_NONE)
    recipe: str | None = field(default=None, metadata=OMIT_NONE)
    seconds: float = 0.0
    refused: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class Suggestion(JSONRecord):
    """The ranking (best first; refused candidates last), the recommendation and why."""

    SCHEMA_VERSION: ClassVar[int] = 1

    n_structures: int
    n_used: int  # structures evaluated (a stratified subsample above the budget)
    zero_force_mae: float  # eV/Å: the force error of predicting zero force, the bar a start must beat
    candidates: tuple[Candidate, ...]
    parent: str | None  # recommended; None: train from scratch
    strategy: str
    reason: str


def source_element(target: str, parent_elements: Sequence[str]) -> str | None:
    """The parent element a target element is copied from: itself, else the only parent element of
    its group (``None`` when there is none, or several)."""
    if target in parent_elements:
        return target
    wanted = group(target)
    same = [e for e in parent_elements if wanted is not None and group(e) == wanted]
    return same[0] if len(same) == 1 else None


def element_map_for(
    elements: set[str],
    parent_elements: Sequence[str],
    given: dict[str, str] | None = None,
    *,
    across_groups: bool = False,
) -> tuple[dict[str, str] | None, str]:
    """The element map onto a parent (target elements it knows map to themselves and are left out),
    or ``None`` and the reason. ``across_groups``: a one-element parent's element is the source of a
    target with no element of its group in the parent."""
    given = dict(given or {})
    unknown = sorted(e for e in given.values() if e not in parent_elements)
    if unknown:
        return None, f"has no {', '.join(unknown)} (its elements: {', '.join(parent_elements)})"
    mapping: dict[str, str] = {}
    for target in sorted(elements):
        source = given.get(target) or source_element(target, parent_elements)
        if source is None and across_groups and len(parent_elements) == 1:
            source = parent_elements[0]
        if source is None:
            g = group(target)
            where = f"group {g}" if g is not None else "the f block"
            return None, f"has no element of {target}'s {where} (its elements: {', '.join(parent_elements)})"
        if source != target:
            mapping[target] = source
    return mapping, ""


def _start_errors(parent: str, structures: list[Structure], strategy: str, mapping: dict[str, str]) -> tuple[Any, Any]:
    """The transferred start of ``strategy`` from ``parent`` on ``structures`` (its fits done) and
    its errors on them."""
    from crosstrain.request import resolve
    from crosstrain.train.batches import Dataset
    from crosstrain.train.evaluate import evaluate
    from crosstrain.train.pipeline import start

    request = resolve(structures, valid=structures[:1], parent=parent, strategy=strategy, element_map=mapping)
    s = start(request.config, list(structures))
    metrics = evaluate(s.model, Dataset(structures, s.model.neighbour_cutoff, "target data"), by=())
    return s, metrics


def rate(
    parent: str, structures: list[Structure], given_map: dict[str, str] | None = None, *, across_groups: bool = False
) -> Candidate:
    """One candidate's zero-shot errors (``full`` and ``rescaled``) and fitted scales on ``structures``
    (``across_groups``: see :func:`element_map_for`)."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model, shipped_entry

    t0 = time.perf_counter()
    path = resolve_model(parent)
    model = load_checkpoint(path).model
    elements = {symbol(z) for s in structures for z in set(s.numbers.tolist())}
    mapping, why = element_map_for(elements, model.species.symbols, given_map, across_groups=across_groups)
    if mapping is None:
        return Candidate(parent=parent, element_map={}, refused=why)
    try:
        _, full = _start_errors(parent, structures, "full", mapping)
        s, rescaled = _start_errors(parent, structures, "rescaled", mapping)
    except (ConfigError, SpeciesError) as exc:  # e.g. forces that correlate at no length scale
        return Candidate(parent=parent, element_map=mapping, refused=str(exc), seconds=time.perf_counter() - t0)
    scales = s.init.info.get("scales", {})
    shipped = shipped_entry(path)
    finetune = shipped[1].finetune if shipped is not None else None
    if not mapping:  # the parent knows every element of the data: fine-tune it as it is
        strategy, recipe = "full", finetune.recipe if finetune is not None else None
    elif finetune is not None:
        strategy, recipe = finetune.strategy, finetune.recipe
    else:  # a checkpoint file: the start that is closer to the data
        strategy, recipe = ("rescaled" if rescaled.force_mae <= full.force_mae else "full"), None
    return Candidate(
        parent=parent,
        element_map=mapping,
        length_scale={t: round(float(v["length_scale"]), 4) for t, v in scales.items()},
        energy_scale={t: round(float(v["energy_scale"]), 4) for t, v in scales.items()},
        force_mae_full=full.force_mae,
        force_mae_rescaled=rescaled.force_mae,
        energy_mae_rescaled=rescaled.energy_mae,
        strategy=strategy,
        recipe=recipe,
        seconds=round(time.perf_counter() - t0, 1),
    )


def default_candidates() -> list[str]:
    """Every shipped parent, by name."""
    from crosstrain.pretrained import index

    return sorted(index())


def suggest(
    structures: Sequence[Structure],
    candidates: Sequence[str] | None = None,
    *,
    element_map: dict[str, str] | None = None,
    budget: int = BUDGET,
) -> Suggestion:
    """Rank ``candidates`` (default: the shipped parents) for the target ``structures`` (with forces);
    a one-element candidate named here is mapped across groups where its group has no element."""
    from crosstrain.parallel import run_each
    from crosstrain.train.scales import scale_sample

    data = list(structures)
    if not data:
        raise ConfigError("suggest: no target structures")
    used = [data[i] for i in scale_sample(data, budget=budget)]
    names = list(candidates or default_candidates())
    named = candidates is not None
    jobs = {
        f"{k}": dict(parent=c, structures=used, given_map=element_map, across_groups=named) for k, c in enumerate(names)
    }
    rated = list(run_each(rate, jobs).values())  # one candidate per core
    ranked = sorted((c for c in rated if c.refused is None), key=lambda c: c.force_mae_rescaled or np.inf)
    refused = [c for c in rated if c.refused is not None]
    if not ranked:
        reasons = "; ".join(f"{c.parent} {c.refused}" for c in refused)
        elements = sorted({symbol(z) for s in data for z in set(s.numbers.tolist())})
        raise SpeciesError(f"no candidate parent can be mapped onto {', '.join(elements)}: {reasons}")
    zero = float(np.mean(np.abs(np.concatenate([np.asarray(s.forces).ravel() for s in used]))))
    best = ranked[0]
    assert best.force_mae_rescaled is not None
    if best.force_mae_rescaled >= zero:
        parent, strategy = None, "scratch"
        reason = (
            f"no candidate's start predicts the forces better than zero force ({best.force_mae_rescaled:.3f} vs "
            f"{zero:.3f} eV/Å): train from scratch"
        )
    else:
        parent, strategy = best.parent, str(best.strategy)
        reason = f"lowest zero-shot force error of the rescaled start ({best.force_mae_rescaled:.3f} eV/Å)"
    return Suggestion(
        n_structures=len(data),
        n_used=len(used),
        zero_force_mae=zero,
        candidates=tuple(ranked + refused),
        parent=parent,
        strategy=strategy,
        reason=reason,
    )


def _shown(target: str, source: str) -> str:
    """``Na=Li``; a map across periodic-table groups says so: ``Na=Si (group 1 from 14)``."""
    gt, gs = group(target), group(source)
    return f"{target}={source}" + ("" if gt == gs else f" (group {gt} from {gs})")


def print_suggestion(s: Suggestion) -> None:
    """The ranking as a table, then the recommendation as the command to run."""
    from crosstrain.progress import console

    out = console()
    used = "" if s.n_used == s.n_structures else f" (a stratified subsample of {s.n_used})"
    out.print(f"{s.n_structures} target structures{used}; zero force would give {s.zero_force_mae:.3f} eV/Å")
    out.print("zero-shot force MAE (eV/Å) before any training step, on the structures the scales were fitted on")
    out.print("| rank | parent | map | s_L | s_E | full | rescaled | energy (meV/atom) | s |")
    out.print("|---|---|---|---|---|---|---|---|---|")
    for rank, c in enumerate(s.candidates, 1):
        mapping = ", ".join(_shown(t, src) for t, src in c.element_map.items()) or "-"
        if c.refused is not None:
            out.print(f"| - | {c.parent} | {mapping} | not ranked: {c.refused} |||||")
            continue
        length = ", ".join(f"{v:.3f}" for v in c.length_scale.values()) or "-"
        energy = ", ".join(f"{v:.3f}" for v in c.energy_scale.values()) or "-"
        e = "-" if c.energy_mae_rescaled is None else f"{c.energy_mae_rescaled:.1f}"
        out.print(
            f"| {rank} | {c.parent} | {mapping} | {length} | {energy} | {c.force_mae_full:.4f} | "
            f"{c.force_mae_rescaled:.4f} | {e} | {c.seconds:.0f} |"
        )
    if s.parent is None:
        out.print(f"suggested: crosstrain train (scratch): {s.reason}")
        return
    best = next(c for c in s.candidates if c.parent == s.parent)
    mapping = " ".join(f"--map {t}={src}" for t, src in best.element_map.items())
    command = f"crosstrain transfer --from {s.parent} --strategy {s.strategy} {mapping}".rstrip()
    out.print(f"suggested: {command} --data <your data>  ({s.reason})")


def _cmd_suggest(args: Any) -> int:
    import json

    from crosstrain.io.atomic import write_text
    from crosstrain.train.pipeline import as_structures
    from crosstrain.train.transfer import parse_element_map

    structures = as_structures(list(args.data), ("forces",))
    result = suggest(structures, args.candidates, element_map=parse_element_map(args.map) or None, budget=args.budget)
    print_suggestion(result)
    if args.json:
        write_text(args.json, json.dumps(result.to_json(), indent=2))
    return 0


def register(sub: Any) -> None:
    """The ``suggest`` command."""
    p = sub.add_parser("suggest", help="rank parent models for your data by the zero-shot error of their transfer")
    p.add_argument("--data", nargs="+", required=True, help="the target structures (extxyz with forces)")
    p.add_argument(
        "--from",
        nargs="+",
        dest="candidates",
        metavar="PARENT",
        help="candidate parents: shipped names or checkpoint files (default: every shipped parent); a one-element "
        "parent named here is mapped across groups if it must be (Na from Si)",
    )
    p.add_argument("--map", nargs="+", metavar="TARGET=SOURCE", help="copy TARGET from the parent's SOURCE element")
    p.add_argument(
        "--budget", type=int, default=BUDGET, help="force components evaluated (a stratified subsample above)"
    )
    p.add_argument("--json", help="write the ranking as JSON here")
    p.set_defaults(func=_cmd_suggest)
