"""The compiled training step behind ``train.compile``: the loss of :mod:`crosstrain.train.loss`
through ``torch.func`` and ``torch.compile`` (see :mod:`crosstrain.model.compiled`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch.func import grad, grad_and_value

from crosstrain.config import TrainConfig
from crosstrain.graph import Graph
from crosstrain.model.base import AtomisticModel
from crosstrain.model.compiled import _GRAPH_FIELDS, Params, _energy_fn, graph_sizes_dynamic
from crosstrain.model.derivatives import Prediction
from crosstrain.train.batches import Batch, GlobalSize
from crosstrain.train.loss import Weights, loss_terms

#: ``step(batch, weights, size) -> (loss, grads)``
LossStep = Callable[[Batch, Weights, GlobalSize], tuple[torch.Tensor, Params]]


def _strained_energy_fn(model: AtomisticModel) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``energy(params, positions, strain, *graph_tensors) -> (total, per-graph energies)`` with
    the homogeneous strain of :func:`crosstrain.model.derivatives.predict` (stress = ∂E/∂ε / V)."""
    energy = _energy_fn(model)

    def strained(
        params: Params, positions: torch.Tensor, strain: torch.Tensor, *graph_tensors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        graph = Graph(**dict(zip(_GRAPH_FIELDS, graph_tensors)))
        deform = torch.eye(3, dtype=strain.dtype, device=strain.device) + 0.5 * (strain + strain.transpose(1, 2))
        moved = torch.einsum("na,nab->nb", positions, deform.index_select(0, graph.batch))
        tensors = [torch.bmm(graph.cell, deform) if f == "cell" else t for f, t in zip(_GRAPH_FIELDS, graph_tensors)]
        return energy(params, moved, *tensors)

    return strained


def loss_step(
    model: AtomisticModel, cfg: TrainConfig, *, compile: bool = True, dynamic: bool | None = None
) -> LossStep:
    """``step(batch, weights, size) -> (loss, grads)``: the loss of :func:`crosstrain.train.loss.loss_terms`
    (same terms, weights and averaging) and its gradients with respect to the trainable parameters
    (a name -> tensor mapping). ``weights`` and ``size`` enter as tensors, so stage-two weights and
    batch sizes do not recompile. With ``compile=False`` the same function runs eagerly; ``dynamic``
    as in :func:`crosstrain.model.compiled.force_loss_step` (default: batch sizes symbolic)."""
    model.set_fused(False)
    energy = _strained_energy_fn(model)
    with_stress = cfg.loss == "energy_forces_stress"

    # ``weights`` and ``size`` are tensors standing in for the numbers of Weights and GlobalSize
    def loss(
        params: Params,
        weights: Any,
        size: Any,
        e_ref: torch.Tensor,
        f_ref: torch.Tensor,
        s_ref: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> torch.Tensor:
        graph = Graph(**dict(zip(_GRAPH_FIELDS, tensors)))
        strain = torch.zeros_like(graph.cell)
        (d_pos, d_strain), per_graph = grad(energy, argnums=(1, 2), has_aux=True)(
            params, graph.positions, strain, *tensors
        )
        stress = d_strain / torch.linalg.det(graph.cell).abs()[:, None, None] if with_stress else None
        pred = Prediction(energy=per_graph, forces=-d_pos, stress=stress)
        batch = Batch(graph, e_ref, f_ref, s_ref, [])
        terms = loss_terms(pred, batch, cfg, size=GlobalSize(size[0], size[1]), weights=Weights(*weights.unbind()))
        return cast(torch.Tensor, sum(terms.values()))  # never 0: there is always a force term

    fn = grad_and_value(loss)
    if compile:
        fn = torch.compile(fn, dynamic=dynamic)

    def step(batch: Batch, weights: Weights, size: GlobalSize) -> tuple[torch.Tensor, Params]:
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
        dtype, device = batch.graph.positions.dtype, batch.graph.positions.device
        w = torch.tensor([weights.energy, weights.forces, weights.stress], dtype=dtype, device=device)
        n = torch.tensor([size.graphs, size.atoms], dtype=dtype, device=device)
        zeros = batch.graph.cell.new_zeros
        e_ref = batch.energy if batch.energy is not None else zeros(batch.graph.n_graphs, dtype=torch.float64)
        s_ref = batch.stress if batch.stress is not None else zeros(batch.graph.cell.shape)
        if batch.forces is None:
            raise ValueError("training needs force labels")
        tensors = graph_sizes_dynamic(
            [e_ref, batch.forces, s_ref, *(getattr(batch.graph, f) for f in _GRAPH_FIELDS)], dynamic
        )
        grads, value = fn(params, w, n, *tensors)
        return value, grads

    return step
