"""Losses and error metrics.

The loss over a batch of B configurations with N atoms in all is

    L = w_F · (1/3N) Σ_atoms Σ_xyz (F̂ − F)²                 forces, per-component MSE (eV/Å)²
      + w_E · (1/B) Σ_configs ((Ê − E) / n_atoms)²           energy, per-atom MSE (eV/atom)²
      + w_S · (1/9B) Σ_configs Σ_ij (σ̂ − σ)²                 stress, MSE in GPa²

with ``forces_weight`` w_F, ``energy_weight`` w_E and ``stress_weight`` w_S; the ``loss`` setting
picks the terms (``forces`` is the paper's force matching). Every term is an average, so a weight
means the same whatever the batch size or the number of atoms in a structure, as in other
trainers (MACE, NequIP). With several processes each rank adds its share of the sums and divides
by the *global* batch's counts, so the ranks add up to the single-process loss.

With ``stage_two`` set, the weights switch to the ``stage_two_*_weight`` values for the last part
of the steps (:func:`weights_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from crosstrain.config import TrainConfig
from crosstrain.model.derivatives import Prediction
from crosstrain.train.batches import Batch, GlobalSize
from crosstrain.train.records import Metrics

EV_PER_A3_IN_GPA = 160.21766208


@dataclass(frozen=True)
class Weights:
    energy: float
    forces: float
    stress: float


def weights_at(cfg: TrainConfig, step: int, total_steps: int) -> Weights:
    """The loss weights at optimiser ``step`` of ``total_steps`` (stage one, then stage two if set)."""
    if cfg.stage_two is None or step < cfg.stage_two * total_steps:
        return Weights(cfg.energy_weight, cfg.forces_weight, cfg.stress_weight)
    return final_weights(cfg)


def final_weights(cfg: TrainConfig) -> Weights:
    """The weights of the last step: stage two's where set, else stage one's."""

    def pick(two: float | None, one: float) -> float:
        return one if cfg.stage_two is None or two is None else two

    return Weights(
        pick(cfg.stage_two_energy_weight, cfg.energy_weight),
        pick(cfg.stage_two_forces_weight, cfg.forces_weight),
        pick(cfg.stage_two_stress_weight, cfg.stress_weight),
    )


def loss_terms(
    pred: Prediction, batch: Batch, cfg: TrainConfig, *, size: GlobalSize, weights: Weights | None = None
) -> dict[str, torch.Tensor]:
    """The weighted loss terms of this rank's part of a global batch of ``size`` (see module
    docstring); ``weights`` default to the stage-one weights of ``cfg``."""
    w = weights or Weights(cfg.energy_weight, cfg.forces_weight, cfg.stress_weight)
    terms: dict[str, torch.Tensor] = {}
    if batch.forces is None:
        raise ValueError("training needs force labels")
    terms["forces"] = w.forces * (pred.forces - batch.forces).pow(2).sum() / (3 * size.atoms)
    if cfg.loss in ("energy_forces", "energy_forces_stress"):
        n_atoms = batch.graph.n_atoms.to(pred.energy.dtype)
        if batch.energy is None:
            raise ValueError("an energy loss needs energy labels")
        err = (pred.energy - batch.energy) / n_atoms
        terms["energy"] = w.energy * err.pow(2).sum().to(pred.forces.dtype) / size.graphs
    if cfg.loss == "energy_forces_stress":
        if pred.stress is None or batch.stress is None:
            raise ValueError("a stress loss needs stress labels and a stress prediction")
        err = (pred.stress - batch.stress) * EV_PER_A3_IN_GPA
        terms["stress"] = w.stress * err.pow(2).mean(dim=(1, 2)).sum() / size.graphs
    return terms


def selection_metric(cfg: TrainConfig, metrics: Metrics) -> float | None:
    """The validation figure that picks the best model (lower is better): the force MAE, or with
    ``select_on: loss`` the force and energy terms of the loss with the final weights, from the
    validation RMSEs (forces in eV/Å, energies in eV/atom; stress is not validated)."""
    if cfg.select_on == "forces" or metrics.force_mae is None:
        return metrics.force_mae
    w = final_weights(cfg)
    energy = (metrics.energy_rmse or 0.0) / 1000
    force = metrics.force_rmse or 0.0
    return w.forces * force**2 + w.energy * energy**2


@dataclass
class ErrorSums:
    """Running sums for MAE/RMSE of energy (per atom), forces (per component) and stress."""

    n_graphs: int = 0
    n_force_components: int = 0
    n_stress: int = 0
    energy_abs: float = 0.0
    energy_sq: float = 0.0
    force_abs: float = 0.0
    force_sq: float = 0.0
    stress_abs: float = 0.0
    by_group: dict[str, ErrorSums] = field(default_factory=dict)

    def add(self, pred: Prediction, batch: Batch, groups: list[str] | None = None) -> None:
        self._add(pred, batch, slice(None))
        if groups is None:
            return
        for g in sorted(set(groups)):
            sub = self.by_group.setdefault(g, ErrorSums())
            sub._add(pred, batch, [k for k, name in enumerate(groups) if name == g])

    def _add(self, pred: Prediction, batch: Batch, select: slice | list[int]) -> None:
        graph_idx = torch.arange(batch.graph.n_graphs)[select]
        atom_mask = torch.isin(batch.graph.batch, graph_idx.to(batch.graph.batch.device))
        self.n_graphs += int(graph_idx.numel())
        if batch.energy is not None:
            n_atoms = batch.graph.n_atoms[graph_idx].double()
            e = ((pred.energy[graph_idx] - batch.energy[graph_idx]) / n_atoms).double()
            self.energy_abs += float(e.abs().sum())
            self.energy_sq += float(e.pow(2).sum())
        if batch.forces is not None:
            f = (pred.forces[atom_mask] - batch.forces[atom_mask]).double()
            self.n_force_components += int(f.numel())
            self.force_abs += float(f.abs().sum())
            self.force_sq += float(f.pow(2).sum())
        if batch.stress is not None and pred.stress is not None:
            s = (pred.stress[graph_idx] - batch.stress[graph_idx]).double()
            self.n_stress += int(s.numel())
            self.stress_abs += float(s.abs().sum())

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor(
            [
                self.n_graphs,
                self.n_force_components,
                self.n_stress,
                self.energy_abs,
                self.energy_sq,
                self.force_abs,
                self.force_sq,
                self.stress_abs,
            ],
            dtype=torch.float64,
        )

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> ErrorSums:
        v = t.tolist()
        return cls(int(v[0]), int(v[1]), int(v[2]), *v[3:])

    def metrics(self) -> Metrics:
        """``energy_mae``/``energy_rmse`` in meV/atom, ``force_mae``/``force_rmse`` in eV/Å,
        ``stress_mae`` in GPa (``None`` where the data carry no such label)."""
        energy = bool(self.n_graphs) and (self.energy_sq > 0 or self.energy_abs > 0)
        n = self.n_force_components
        return Metrics(
            n_structures=float(self.n_graphs),
            energy_mae=1000 * self.energy_abs / self.n_graphs if energy else None,
            energy_rmse=1000 * (self.energy_sq / self.n_graphs) ** 0.5 if energy else None,
            force_mae=self.force_abs / n if n else None,
            force_rmse=(self.force_sq / n) ** 0.5 if n else None,
            stress_mae=EV_PER_A3_IN_GPA * self.stress_abs / self.n_stress if self.n_stress else None,
        )
