"""Forces and stress from an energy model by automatic differentiation.

One function serves inference (plain gradients) and training (``create_graph=True`` so that a
force loss can be back-propagated). Stress is the derivative with respect to a homogeneous
symmetric strain ε applied to positions and cell: σ = (1/V) ∂E/∂ε (ASE's convention, eV/Å³).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from crosstrain.errors import StructureError
from crosstrain.graph import Graph


@dataclass(frozen=True)
class Prediction:
    """Energies ``(B,)``, forces ``(N, 3)`` and, when requested, stress ``(B, 3, 3)``."""

    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor | None = None
    atom_energies: torch.Tensor | None = None


def predict(
    model: Any,  # a DimeNetPP, or its functional stand-in in crosstrain.model.compiled
    graph: Graph,
    *,
    compute_forces: bool = True,
    compute_stress: bool = False,
    create_graph: bool = False,
) -> Prediction:
    """Energy, forces ``-∂E/∂r`` and optionally stress of every configuration in ``graph``.

    With ``create_graph=True`` the results stay differentiable with respect to the model's
    parameters (for training on forces and stress).
    """
    positions = graph.positions.detach().requires_grad_(compute_forces or compute_stress)
    cell = graph.cell
    strain = None
    inputs = [positions]
    if compute_stress:
        if not bool(graph.pbc.all()):
            raise StructureError("stress needs a fully periodic cell in every configuration")
        strain = torch.zeros_like(cell, requires_grad=True)
        sym = 0.5 * (strain + strain.transpose(1, 2))
        eye = torch.eye(3, dtype=cell.dtype, device=cell.device)
        deform = eye + sym
        positions_in = torch.einsum("na,nab->nb", positions, deform[graph.batch])
        cell = torch.bmm(cell, deform)
        inputs.append(strain)
    else:
        positions_in = positions
    with torch.enable_grad():
        atom_energies = model.atomic_energies(graph, positions_in, cell)
        energy = atom_energies.new_zeros(graph.n_graphs).index_add(0, graph.batch, atom_energies)
        if not (compute_forces or compute_stress):
            return Prediction(energy.detach(), torch.zeros_like(positions), None, atom_energies.detach())
        grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph, allow_unused=True)
    forces = grads[0] if grads[0] is not None else torch.zeros_like(positions)
    stress = None
    if compute_stress:
        volume = torch.linalg.det(graph.cell).abs()
        g = grads[1] if grads[1] is not None else torch.zeros_like(graph.cell)
        stress = g / volume[:, None, None]
    if not create_graph:
        energy, forces, atom_energies = energy.detach(), forces.detach(), atom_energies.detach()
        stress = stress.detach() if stress is not None else None
    return Prediction(energy=energy, forces=-forces, stress=stress, atom_energies=atom_energies)
