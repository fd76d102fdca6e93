"""Several independent MD replicas in one model call per step.

The replicas (copies of one structure with their own velocities and seeds) are stacked into one
ASE ``Atoms`` of R × N atoms, so ASE's own integrators (Langevin, velocity Verlet) move all of
them at once; :class:`ReplicaCalculator` splits the stacked positions back into R periodic
structures, evaluates them as one disconnected batch graph (one forward and backward pass) and
returns the stacked forces. Replicas never interact: each keeps its own cell and neighbour list.
What differs from R separate runs: the thermostat's random numbers come from one generator for
the stack (so a replica's trajectory is not bit-identical to its separate run, only equal in
distribution), and with Langevin the centre of mass of the whole stack is fixed rather than each
replica's (each replica starts with zero momentum). A replica that fails a stability check is
recorded and removed; the others continue.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from crosstrain.graph import batch_graph
from crosstrain.md.run import MDResult, MDSettings, _check, _dynamics
from crosstrain.model.base import AtomisticModel
from crosstrain.model.derivatives import predict
from crosstrain.structure import Structure


class ReplicaCalculator(Calculator):
    """Energy and forces of ``n_replicas`` stacked copies of a ``template`` cell, in one batch.
    ``results["replica_energies"]`` holds each replica's energy."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: AtomisticModel, template: Atoms, n_replicas: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model.eval()
        self.template = template
        self.n_replicas = n_replicas

    def calculate(
        self, atoms: Atoms | None = None, properties: list[str] | None = None, system_changes: list[str] = all_changes
    ) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        n = len(self.template)
        positions = self.atoms.positions.reshape(self.n_replicas, n, 3)
        structures = []
        for k in range(self.n_replicas):
            copy = self.template.copy()
            copy.positions = positions[k]
            structures.append(Structure.from_atoms(copy, source=f"replica {k}", read_labels=False))
        device = next(self.model.parameters()).device
        graph = batch_graph(structures, cutoff=self.model.neighbour_cutoff, dtype=self.model.dtype, device=device)
        pred = predict(self.model, graph, compute_forces=True)
        energies = pred.energy.detach().cpu().numpy().astype(np.float64)
        self.results = {
            "energy": float(energies.sum()),
            "free_energy": float(energies.sum()),
            "forces": pred.forces.detach().cpu().numpy().astype(np.float64),
            "replica_energies": energies,
        }


def _stack(template: Atoms, settings: MDSettings, seeds: list[int]) -> tuple[Atoms, np.ndarray]:
    """The stacked replicas with velocities drawn per replica (each with zero total momentum)."""
    from ase.md.velocitydistribution import Stationary

    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

    momenta = []
    for seed in seeds:
        one = template.copy()
        thermalize_momenta(one, temperature_K=settings.temperature, rng=np.random.default_rng(seed))
        Stationary(one)
        momenta.append(one.get_momenta())
    stack = Atoms(
        numbers=np.tile(template.numbers, len(seeds)),
        positions=np.tile(template.positions, (len(seeds), 1)),
        cell=template.cell,
        pbc=template.pbc,
    )
    stack.set_momenta(np.concatenate(momenta))
    return stack, np.array(seeds)


def run_replicas(template: Atoms, model: AtomisticModel, settings: MDSettings, *, seeds: list[int]) -> list[MDResult]:
    """One MD run per seed, all advanced together (see the module docstring); results in seed order."""
    n = len(template)
    stack, alive = _stack(template, settings, seeds)
    results: dict[int, MDResult] = {}
    temps: dict[int, list[float]] = {s: [] for s in seeds}
    e0: dict[int, float] = {}
    done = 0
    while len(alive) and done < settings.steps:
        calc = ReplicaCalculator(model, template, len(alive))
        stack.calc = calc
        # the integrator's own draws come from a generator seeded by the replicas still running
        dyn = _dynamics_for_stack(stack, replace(settings, seed=int(alive.sum()) + done))
        if not e0:
            e0 = {int(s): float(e) for s, e in zip(alive, _replica_totals(stack, calc, n))}
        failed: dict[int, str] = {}
        while done < settings.steps and not failed:
            chunk = min(settings.check_every, settings.steps - done)
            try:
                dyn.run(chunk)
            except Exception as exc:  # e.g. overlapping atoms in one replica: find which
                failed = _broken(stack, alive, n, exc)
            done += chunk
            failed = failed or _check_replicas(stack, calc, settings, alive, e0, temps, n)
        for k in failed:
            s = int(alive[k])
            reason = failed[k]
            results[s] = MDResult(False, reason, done, done * settings.timestep_fs / 1000, tuple(temps[s]))
        if failed:
            keep = [k for k in range(len(alive)) if k not in failed]
            stack = _select(stack, keep, n)
            alive = alive[keep]
    for s in alive:
        results[int(s)] = MDResult(True, "", done, done * settings.timestep_fs / 1000, tuple(temps[int(s)]))
    return [results[s] for s in seeds]


def _dynamics_for_stack(stack: Atoms, settings: MDSettings) -> Any:
    """ASE's integrator for the stack, keeping the velocities it already has."""
    momenta = stack.get_momenta()
    dyn = _dynamics(stack, settings)  # draws fresh velocities ...
    stack.set_momenta(momenta)  # ... which the stack's own replace
    return dyn


def _replica_totals(stack: Atoms, calc: ReplicaCalculator, n: int) -> np.ndarray:
    stack.get_forces()
    kinetic = 0.5 * (stack.get_masses()[:, None] * stack.get_velocities() ** 2).sum(axis=1)
    return calc.results["replica_energies"] + kinetic.reshape(-1, n).sum(axis=1)


def _check_replicas(
    stack: Atoms,
    calc: ReplicaCalculator,
    settings: MDSettings,
    alive: np.ndarray,
    e0: dict[int, float],
    temps: dict[int, list[float]],
    n: int,
) -> dict[int, str]:
    """Each running replica through the single-run checks (:func:`crosstrain.md.run._check`)."""
    forces = stack.get_forces()
    failed = {}
    for k, seed in enumerate(alive):
        one = Atoms(
            numbers=stack.numbers[k * n : (k + 1) * n],
            positions=stack.positions[k * n : (k + 1) * n],
            cell=stack.cell,
            pbc=stack.pbc,
        )
        one.set_velocities(stack.get_velocities()[k * n : (k + 1) * n])
        one.calc = _Fixed(forces[k * n : (k + 1) * n], float(calc.results["replica_energies"][k]))
        t = float(one.get_temperature())
        temps[int(seed)].append(t)
        reason = _check(one, settings, t, settings.temperature, e0[int(seed)], n)  # NVE drift included
        if reason:
            failed[k] = reason
    return failed


def _broken(stack: Atoms, alive: np.ndarray, n: int, exc: Exception) -> dict[int, str]:
    """The replicas whose structure cannot be evaluated (all of them if none can be singled out)."""
    from crosstrain.graph import topology

    bad = {}
    for k in range(len(alive)):
        one = Atoms(
            numbers=stack.numbers[k * n : (k + 1) * n],
            positions=stack.positions[k * n : (k + 1) * n],
            cell=stack.cell,
            pbc=stack.pbc,
        )
        try:
            topology(Structure.from_atoms(one, source=f"replica {k}", read_labels=False), 1.0)
        except Exception as err:
            bad[k] = f"evaluation failed: {type(err).__name__}: {err}"
    return bad or {k: f"evaluation failed: {type(exc).__name__}: {exc}" for k in range(len(alive))}


class _Fixed(Calculator):
    """Already computed forces and energy of one replica, for the shared checks."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, forces: np.ndarray, energy: float) -> None:
        super().__init__()
        self._forces, self._energy = forces, energy

    def calculate(self, atoms: Atoms | None = None, properties: Any = None, system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": self._energy, "forces": self._forces}


def _select(stack: Atoms, keep: list[int], n: int) -> Atoms:
    index = np.concatenate([np.arange(k * n, (k + 1) * n) for k in keep]) if keep else np.array([], dtype=int)
    out = stack[index]
    out.set_momenta(stack.get_momenta()[index])
    out.set_constraint()
    return out


def batched(model: AtomisticModel | str, device: str | torch.device | None = None) -> AtomisticModel:
    """A model for :func:`run_replicas` from a model or a checkpoint path (or shipped name)."""
    if isinstance(model, AtomisticModel):
        return model
    from crosstrain.calculator import resolve_device
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model

    return load_checkpoint(resolve_model(model), device=resolve_device(device)).model
