"""Opt-in compiled training and inference with ``torch.func`` and ``torch.compile``.

``torch.compile`` cannot compile the usual ``autograd.grad(create_graph=True)`` training step
("does not support double backward"). Written functionally, as the gradient of a force loss
built from ``grad`` of the energy, it compiles; inductor then fuses the many small elementwise
operations that dominate an eager step on a CPU. A cold compile costs one to two minutes, so
this path pays off only for longer runs. By default (``dynamic=None``) the sizes of a batch
(atoms, edges, neighbour slots, configurations: the first dimension of every graph tensor) are compiled
as symbols, so one compile serves every batch, while the weights' shapes stay constants that
inductor specialises its loops on (faster than with every size symbolic, ``dynamic=True``:
``benchmarks/model-speed/compile_sizes.json``). The training loop's general step (energy, forces and stress terms)
is :func:`crosstrain.train.compiled.loss_step`.
Compile one model per process (or call ``torch._dynamo.reset()`` between models).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields

import torch
from torch.func import functional_call, grad, grad_and_value

from crosstrain.graph import Graph
from crosstrain.model.base import AtomisticModel

_GRAPH_FIELDS = [f.name for f in fields(Graph)]

#: parameter (or gradient) tensors by name, as ``named_parameters`` gives them
Params = dict[str, torch.Tensor]
#: ``step(graph, reference_forces) -> (loss, grads)``
ForceLossStep = Callable[[Graph, torch.Tensor], tuple[torch.Tensor, Params]]
#: ``fn(graph) -> (energies, forces)``
EnergyForcesFn = Callable[[Graph], tuple[torch.Tensor, torch.Tensor]]
#: ``fn(graph) -> (energies, forces, stress)``
EnergyForcesStressFn = Callable[[Graph], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def graph_sizes_dynamic(tensors: Iterable[torch.Tensor], dynamic: bool | None = None) -> list[torch.Tensor]:
    """With ``dynamic=None`` (the default of the compiled functions here), mark the first
    dimension of each tensor (atoms, edges, neighbour slots or configurations) as a size that varies
    between calls, so that one compile serves every batch; with ``True`` or ``False`` (torch
    decides every size, or none) the tensors are passed on unmarked."""
    out = list(tensors)
    if dynamic is None:
        for t in out:
            if t.dim() > 0:
                torch._dynamo.maybe_mark_dynamic(t, 0)
    return out


def _strained_energy_fn(model: AtomisticModel) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``energy(params, positions, strain, *graph_tensors)``: :func:`_energy_fn` of the configuration
    deformed by the symmetric part of ``strain`` ``(B, 3, 3)`` (positions and cell), whose gradient at
    zero strain is the volume times the stress (as in :func:`crosstrain.model.derivatives.predict`)."""
    energy = _energy_fn(model)
    cell_index = _GRAPH_FIELDS.index("cell")

    def strained(
        params: Params, positions: torch.Tensor, strain: torch.Tensor, *graph_tensors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        graph = Graph(**dict(zip(_GRAPH_FIELDS, graph_tensors)))
        deform = torch.eye(3, dtype=strain.dtype, device=strain.device) + 0.5 * (strain + strain.transpose(1, 2))
        moved = torch.einsum("na,nab->nb", positions, deform[graph.batch])
        tensors = list(graph_tensors)
        tensors[cell_index] = torch.bmm(graph.cell, deform)
        return energy(params, moved, *tensors)

    return strained


def _energy_fn(model: AtomisticModel) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``energy(params, positions, *graph_tensors) -> (total energy, per-graph energies)``.

    Per-graph energies are summed with a one-hot matrix product rather than a scatter, which
    inductor's CPU code generation miscompiles for float64 on several threads (torch 2.13).
    """
    buffers = dict(model.named_buffers())

    def energy(
        params: Params, positions: torch.Tensor, *graph_tensors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        graph = Graph(**dict(zip(_GRAPH_FIELDS, graph_tensors)))
        atom_energies: torch.Tensor = functional_call(
            model, (params, buffers), (graph, positions, graph.cell), {"per_atom": True}
        )
        graphs = torch.arange(graph.cell.shape[0], device=positions.device)
        one_hot = (graph.batch.unsqueeze(0) == graphs.unsqueeze(1)).to(atom_energies.dtype)
        return atom_energies.sum(), one_hot @ atom_energies

    return energy


def force_loss_step(model: AtomisticModel, compile: bool = True, dynamic: bool | None = None) -> ForceLossStep:
    """``step(graph, reference_forces) -> (loss, grads)`` for the paper's force-matching loss.

    The loss is the mean over configurations of the summed squared force errors; ``grads`` maps
    parameter names to gradients. With ``compile=False`` the same function runs eagerly.
    ``dynamic``: ``None`` batch sizes symbolic, weights constant; ``True`` every size symbolic;
    ``False`` one compile per distinct shape.
    """
    model.set_fused(False)  # plain operations trace and fuse best
    energy = _energy_fn(model)

    def loss(params: Params, reference: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
        positions = tensors[0]
        forces: torch.Tensor = -grad(energy, argnums=1, has_aux=True)(params, positions, *tensors)[0]
        n_graphs = tensors[_GRAPH_FIELDS.index("cell")].shape[0]
        return ((forces - reference) ** 2).sum() / n_graphs

    fn = grad_and_value(loss)
    if compile:
        fn = torch.compile(fn, dynamic=dynamic)

    def step(graph: Graph, reference_forces: torch.Tensor) -> tuple[torch.Tensor, Params]:
        params = {k: v.detach() for k, v in model.named_parameters()}
        tensors = graph_sizes_dynamic([reference_forces, *(getattr(graph, f) for f in _GRAPH_FIELDS)], dynamic)
        grads, value = fn(params, *tensors)
        return value, grads

    return step


def energy_forces_fn(model: AtomisticModel, compile: bool = True, dynamic: bool | None = None) -> EnergyForcesFn:
    """``fn(graph) -> (energies, forces)`` for inference, optionally compiled.

    The model's weights are read once, here: the function serves a model that no longer trains
    (the calculator's private copy). Walking the modules for them on every call cost a noticeable
    share of a compiled 64-atom MD step. ``dynamic`` as in :func:`force_loss_step`.
    """
    model.set_fused(False)
    energy = _energy_fn(model)

    def per_graph(params: Params, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g, (_, per_graph) = grad_and_value(energy, argnums=1, has_aux=True)(params, tensors[0], *tensors)
        return per_graph, -g

    fn = torch.compile(per_graph, dynamic=dynamic) if compile else per_graph
    params = {k: v.detach() for k, v in model.named_parameters()}

    def run(graph: Graph) -> tuple[torch.Tensor, torch.Tensor]:
        tensors = [getattr(graph, f) for f in _GRAPH_FIELDS]
        out: tuple[torch.Tensor, torch.Tensor] = fn(params, *graph_sizes_dynamic(tensors, dynamic))
        return out

    return run


def energy_forces_stress_fn(
    model: AtomisticModel, compile: bool = True, dynamic: bool | None = None
) -> EnergyForcesStressFn:
    """``fn(graph) -> (energies, forces, stress)`` for inference, optionally compiled: as
    :func:`energy_forces_fn` with the stress (B, 3, 3, eV/Å³; ASE's sign) from the same backward
    pass, for MD that needs the virial every step (LAMMPS's pressure and barostats). Every
    configuration must be fully periodic."""
    model.set_fused(False)
    energy = _strained_energy_fn(model)

    def per_graph(
        params: Params, strain: torch.Tensor, *tensors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        (g_pos, g_strain), (_, per_graph) = grad_and_value(energy, argnums=(1, 2), has_aux=True)(
            params, tensors[0], strain, *tensors
        )
        volume = torch.linalg.det(tensors[_GRAPH_FIELDS.index("cell")]).abs()
        return per_graph, -g_pos, g_strain / volume[:, None, None]

    fn = torch.compile(per_graph, dynamic=dynamic) if compile else per_graph
    params = {k: v.detach() for k, v in model.named_parameters()}

    def run(graph: Graph) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tensors = [getattr(graph, f) for f in _GRAPH_FIELDS]
        strain = torch.zeros_like(graph.cell)
        out: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = fn(
            params, *graph_sizes_dynamic([strain, *tensors], dynamic)
        )
        return out

    return run
