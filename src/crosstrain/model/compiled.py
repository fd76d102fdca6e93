"""Opt-in compiled force training and inference with ``torch.func`` and ``torch.compile``.

``torch.compile`` cannot compile the usual ``autograd.grad(create_graph=True)`` training step
("does not support double backward"). Written functionally, as the gradient of a force loss
built from ``grad`` of the energy, it compiles; inductor then fuses the many small elementwise
operations that dominate an eager step on a CPU. A cold compile costs one to two minutes per
distinct input shape, so this path pays off only for long runs, and it is never the default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import torch
from torch.func import functional_call, grad, grad_and_value

from crosstrain.graph import Graph
from crosstrain.model.dimenet import DimeNetPP

_GRAPH_FIELDS = [f.name for f in fields(Graph)]


def _energy_fn(model: DimeNetPP) -> Callable[..., torch.Tensor]:
    buffers = dict(model.named_buffers())

    def energy(params: dict[str, torch.Tensor], positions: torch.Tensor, *graph_tensors: torch.Tensor) -> torch.Tensor:
        graph = Graph(**dict(zip(_GRAPH_FIELDS, graph_tensors)))
        return functional_call(model, (params, buffers), (graph, positions, graph.cell)).sum()

    return energy


def force_loss_step(model: DimeNetPP, compile: bool = True, dynamic: bool | None = None) -> Callable:
    """``step(graph, reference_forces) -> (loss, grads)`` for the paper's force-matching loss.

    The loss is the mean over configurations of the summed squared force errors; ``grads`` maps
    parameter names to gradients. With ``compile=False`` the same function runs eagerly.
    """
    model.set_fused(False)  # plain operations trace and fuse best
    energy = _energy_fn(model)

    def loss(params, reference, *tensors):  # type: ignore[no-untyped-def]
        positions = tensors[0]
        forces = -grad(energy, argnums=1)(params, positions, *tensors)
        n_graphs = tensors[_GRAPH_FIELDS.index("cell")].shape[0]
        return ((forces - reference) ** 2).sum() / n_graphs

    fn = grad_and_value(loss)
    if compile:
        fn = torch.compile(fn, dynamic=dynamic)

    def step(graph: Graph, reference_forces: torch.Tensor):  # type: ignore[no-untyped-def]
        params = {k: v.detach() for k, v in model.named_parameters()}
        grads, value = fn(params, reference_forces, *(getattr(graph, f) for f in _GRAPH_FIELDS))
        return value, grads

    return step


def energy_forces_fn(model: DimeNetPP, compile: bool = True, dynamic: bool | None = None) -> Callable:
    """``fn(graph) -> (energies, forces)`` for inference, optionally compiled."""
    model.set_fused(False)
    energy = _energy_fn(model)

    def per_graph(params, *tensors):  # type: ignore[no-untyped-def]
        g, e = grad_and_value(energy, argnums=1)(params, tensors[0], *tensors)
        return e, -g

    fn = torch.compile(per_graph, dynamic=dynamic) if compile else per_graph

    def run(graph: Graph):  # type: ignore[no-untyped-def]
        params = {k: v.detach() for k, v in model.named_parameters()}
        return fn(params, *(getattr(graph, f) for f in _GRAPH_FIELDS))

    return run
