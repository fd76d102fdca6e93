"""Candidate structures for active learning: what the current model does when it is let loose.

Small periodic cells of a diamond-structure element (the crystal of every element crosstrain
transfers between so far) at the *model's own* lattice constant (a Birch–Murnaghan fit of its
equation of state), each run through a short Langevin MD with the model at several temperatures;
frames from the second half of every run are candidates. Kinds of cell:

``bulk``      the 8-atom cubic cell
``strained``  the 8-atom cell under a random symmetric strain (each component up to ``strain``)
``vacancy``   the 16-atom 2×1×1 cell with one atom removed (15 atoms)
``surface``   the 8-atom cell as a (001) slab with ``vacuum`` Å of vacuum along z

A run that blows up keeps the frames it wrote before: exactly the configurations the model
gets wrong. Frames with two atoms closer than ``min_distance`` are dropped (no DFT code should
be asked about them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from crosstrain.active.records import ModelStability
from crosstrain.errors import ConfigError
from crosstrain.structure import Structure

KINDS = ("bulk", "strained", "vacancy", "surface")
COMPILE_FROM = 2000  # run-steps of the final stability MD from which compiling it pays (inference compile ~20-60 s)


@dataclass(frozen=True)
class ExploreSettings:
    temperatures: tuple[float, ...] = (300.0, 800.0, 1300.0, 1800.0)  # K
    kinds: tuple[str, ...] = KINDS
    md_steps: int = 200  # per run, 1 fs each
    frames: int = 2  # candidates kept per run (evenly spaced over its second half)
    strain: float = 0.04
    vacuum: float = 6.0  # Å, surface slabs
    min_distance: float = 1.6  # Å

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ConfigError(f"unknown cell kind(s) {', '.join(unknown)} (choose from {', '.join(KINDS)})")
        if not self.temperatures or min(self.temperatures) <= 0 or self.md_steps < 2 or self.frames < 1:
            raise ConfigError("exploration needs positive temperatures, md_steps >= 2 and frames >= 1")


def model_lattice_constant(element: str, calc: Any) -> float:
    """The diamond lattice constant of ``element`` under ``calc`` (equation of state around ASE's
    reference value, widened once if the minimum falls outside the first fit's range)."""
    from crosstrain.analysis.crystal import equation_of_state
    from crosstrain.species import reference_crystal

    symmetry, a = reference_crystal(element)
    if symmetry != "diamond" or a is None:
        raise ConfigError(
            f"the explorer builds diamond-structure cells only and {element} does not take that structure"
        )
    for _ in range(3):
        a_new = equation_of_state(element, calc, a, span=0.06, points=7)["a0"]
        if abs(a_new - a) < 0.04 * a:
            return a_new
        a = a_new
    return a


def base_cell(kind: str, element: str, a: float, *, rng: np.random.Generator, settings: ExploreSettings) -> Atoms:
    from crosstrain.analysis.crystal import diamond

    atoms = diamond(element, a)
    if kind == "strained":
        e = rng.uniform(-settings.strain, settings.strain, (3, 3))
        atoms.set_cell(atoms.cell @ (np.eye(3) + (e + e.T) / 2), scale_atoms=True)
    elif kind == "vacancy":
        atoms = atoms * (2, 1, 1)
        del atoms[int(rng.integers(len(atoms)))]
    elif kind == "surface":
        atoms.center(vacuum=settings.vacuum / 2, axis=2)
    return atoms


def explore(
    element: str,
    calc_factory: Any,
    *,
    settings: ExploreSettings,
    seed: int,
    workdir: str | Path,
) -> list[Structure]:
    """Candidates from MD with the model of ``calc_factory`` (a zero-argument callable), one run
    per (kind, temperature); each candidate's ``info`` says where it came from."""
    from ase.io import read

    from crosstrain.md.run import MDSettings, run_md

    rng = np.random.default_rng(seed)
    a = model_lattice_constant(element, calc_factory())
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    every = max(1, settings.md_steps // (2 * settings.frames))
    out: list[Structure] = []
    for kind in settings.kinds:
        for t in settings.temperatures:
            run_seed = int(rng.integers(2**31))
            cell = base_cell(kind, element, a, rng=rng, settings=settings)
            traj = workdir / f"{kind}-{t:g}K.extxyz"
            md = MDSettings(
                temperature=t,
                steps=settings.md_steps,
                seed=run_seed,
                trajectory=str(traj),
                trajectory_every=every,
                min_distance=settings.min_distance,
            )
            result = run_md(cell, calc_factory(), md)
            frames: list[Atoms] = list(read(str(traj), index=":")) if traj.exists() else []
            kept = _second_half(frames, settings.frames)
            for k, atoms in enumerate(kept):
                if len(atoms) > 1 and _min_distance(atoms) < settings.min_distance:
                    continue
                info = {"kind": kind, "temperature": float(t), "frame": k, "md_stable": bool(result.stable)}
                s = Structure.from_atoms(atoms, source=f"{kind} {t:g} K frame {k}", read_labels=False)
                out.append(replace(s, info=info))
    return out


def _second_half(frames: list[Atoms], n: int) -> list[Atoms]:
    if not frames:
        return []
    half = frames[len(frames) // 2 :] or frames
    picks = np.unique(np.linspace(0, len(half) - 1, n).round().astype(int))
    return [half[i] for i in picks]


def _min_distance(atoms: Atoms) -> float:
    from crosstrain.graph import min_pair_distance

    return min_pair_distance(atoms.positions, atoms.cell.array, atoms.pbc, cutoff=3.0)


def stability_of(
    checkpoint: Path, element: str, *, temperatures: Sequence[float], ps: float, compile: bool = True
) -> ModelStability:
    """Langevin MD of the 64-atom cell at the model's lattice constant, 2 runs per temperature
    (:func:`crosstrain.md.stability.stability`). With ``compile`` and enough steps to repay the
    compile (``COMPILE_FROM`` run-steps in all), one compiled calculator runs them one after another
    (about twice the rate of the batched eager replicas on a CPU); otherwise the runs of a
    temperature advance together in one eager model call per step."""
    from crosstrain.analysis.crystal import diamond
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.md.run import MDSettings
    from crosstrain.md.stability import stability

    a = model_lattice_constant(element, CrosstrainCalculator(checkpoint))
    steps = max(10, int(round(ps * 1000)))
    cell, runs = diamond(element, a, 2), 2
    if compile and steps * runs * len(temperatures) >= COMPILE_FROM:
        import torch

        torch._dynamo.reset()  # one compiled model per process at a time (crosstrain.model.compiled)
        calc = CrosstrainCalculator(checkpoint, compile=True)
        result = stability(cell, lambda: calc, list(temperatures), runs=runs, settings=MDSettings(steps=steps))
    else:
        model = load_checkpoint(checkpoint).model
        result = stability(cell, None, list(temperatures), runs=runs, settings=MDSettings(steps=steps), model=model)
    return ModelStability(a0=a, report=result)


def sw_test_set(
    element: str,
    *,
    settings: ExploreSettings,
    seed: int,
    lattice: float,
) -> list[Structure]:
    """Test geometries that take no part in any choice: Langevin MD with the element's
    Stillinger–Weber potential (not a model of the runs) on the explorer's kinds of cell at its
    temperatures, ``settings.frames`` frames per run, ``settings.md_steps`` 1 fs steps between
    frames; each structure's ``group`` is its kind of cell. Label them with DFT before use."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from crosstrain.analysis.references import sw_calculator

    rng = np.random.default_rng(seed)
    out = []
    for kind in settings.kinds:
        for t in settings.temperatures:
            atoms = base_cell(kind, element, lattice, rng=rng, settings=settings)
            atoms.calc = sw_calculator(element)
            MaxwellBoltzmannDistribution(atoms, temperature_K=t, rng=rng)
            dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=t, friction=0.02 / units.fs, rng=rng, fixcm=False)
            for k in range(settings.frames):
                dyn.run(settings.md_steps)
                s = Structure.from_atoms(atoms, source=f"SW test {kind} {t:g} K frame {k}", read_labels=False)
                out.append(replace(s, info={**s.info, "group": kind, "temperature": float(t)}))
    return out
