"""The model contract: what every architecture provides, and the per-element wrapper they share.

crosstrain's training, transfer strategies, calculator, MD and checkpoints talk to
:class:`AtomisticModel` only. An architecture subclasses it and provides

- ``network_energies(graph, vectors)``: one raw output per atom from the edge vectors, which the
  base class has already seen through the per-element length scales;
- ``copy_element_parameters(target, source)``: give the target element the source's rows of every
  per-element tensor of the network (the species map's work for that architecture);
- ``config``: its hyperparameters (``cutoff``, ``to_dict``), and its registered ``architecture`` name.

The base class owns what is the same for every architecture: the element set (``species``), the
per-element energy shift and scale (E_i = scale[Z_i] · network_i + shift[Z_i], kept in float64 so that
total energies keep their digits), the per-element length scale of the ``rescaled`` transfer (an edge
between atoms with scales s_i and s_j is seen with its length multiplied by sqrt(s_i s_j)), the
neighbour cutoff those scales imply, and batched energies. Forces and stress come from
:mod:`crosstrain.model.derivatives` for every architecture alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from crosstrain.graph import Graph
from crosstrain.species import MAX_Z, SpeciesMap, to_atomic_number

#: the per-element buffers of the shared wrapper, indexed by atomic number
ELEMENT_BUFFERS = ("energy_shift", "energy_scale", "length_scale")


class AtomisticModel(nn.Module):
    """An interatomic potential: ``forward(graph, positions, cell)`` -> energy per configuration (eV).

    ``species`` lists the elements the model knows; per-atom energies are
    ``energy_scale[Z] * network(Z, environment) + energy_shift[Z]``.
    """

    #: the name the architecture is registered under (:mod:`crosstrain.model`), stored in checkpoints
    architecture: ClassVar[str] = ""

    energy_shift: torch.Tensor
    energy_scale: torch.Tensor
    length_scale: torch.Tensor

    def __init__(self, config: Any, species: SpeciesMap) -> None:
        super().__init__()
        self.config = config
        self.species = species
        for name, value in zip(ELEMENT_BUFFERS, (0.0, 1.0, 1.0)):
            self.register_buffer(name, torch.full((MAX_Z + 1,), value, dtype=torch.float64))

    # -- what an architecture provides ------------------------------------------------------------

    def network_energies(self, graph: Graph, vectors: torch.Tensor) -> torch.Tensor:
        """The network's raw output per atom, shape ``(N,)``, from the (length-scaled) edge vectors."""
        raise NotImplementedError

    def copy_element_parameters(self, target: int, source: int) -> None:
        """Give atomic number ``target`` the network's per-element parameters of ``source`` (no grad)."""
        raise NotImplementedError

    def set_fused(self, fused: bool) -> AtomisticModel:
        """Switch between an architecture's eager kernels and the plain ops ``torch.compile`` prefers
        (nothing to switch by default)."""
        return self

    def interaction_parameters(self) -> list[nn.Parameter]:
        """The parameters of the interaction (message-passing) layers, which the ``freeze`` strategy
        keeps at the parent's values; the embedding and readout train."""
        raise NotImplementedError

    # -- shared by every architecture --------------------------------------------------------------

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> AtomisticModel:
        # ``model.to(float32)`` must not round the per-element energy shifts and scales
        keep = {name: getattr(self, name) for name in ELEMENT_BUFFERS}
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]  # (unannotated in torch)
        for name, value in keep.items():
            setattr(self, name, value.to(device=getattr(self, name).device, dtype=torch.float64))
        return self

    @property
    def cutoff(self) -> float:
        return float(self.config.cutoff)

    @property
    def neighbour_cutoff(self) -> float:
        """Real-space radius the neighbour list must cover: the cutoff over the smallest length scale."""
        scales = [float(self.length_scale[z]) for z in self.species.numbers]
        return self.cutoff / min([1.0, *scales])

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def atomic_energies(
        self, graph: Graph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Energy of each atom (eV, float64), shape ``(N,)``."""
        vec = graph.edge_vectors(positions, cell)
        # always applied (exact for scale 1): a data-dependent branch would break torch.compile graphs
        s = self.length_scale.index_select(0, graph.numbers)
        edge_scale = torch.sqrt(s.index_select(0, graph.centers) * s.index_select(0, graph.neighbours))
        out = self.network_energies(graph, vec * edge_scale.to(vec.dtype).unsqueeze(-1))
        z = graph.numbers
        return self.energy_scale.index_select(0, z) * out.double() + self.energy_shift.index_select(0, z)

    def forward(
        self,
        graph: Graph,
        positions: torch.Tensor | None = None,
        cell: torch.Tensor | None = None,
        per_atom: bool = False,
    ) -> torch.Tensor:
        """Total energy of each configuration (eV), shape ``(B,)``; per atom, ``(N,)``, if asked."""
        e_atom = self.atomic_energies(graph, positions, cell)
        if per_atom:
            return e_atom
        return torch.zeros(graph.n_graphs, dtype=e_atom.dtype, device=e_atom.device).index_add(0, graph.batch, e_atom)

    def copy_element(self, target: str | int, source: str | int) -> None:
        """Give element ``target`` every per-element parameter of ``source``: the network's
        (:meth:`copy_element_parameters`) and the energy shift, energy and length scale."""
        zt, zs = to_atomic_number(target), to_atomic_number(source)
        self.species.check([zs], source="element map")
        with torch.no_grad():
            self.copy_element_parameters(zt, zs)
            for name in ELEMENT_BUFFERS:
                getattr(self, name)[zt] = getattr(self, name)[zs]
        self.species = self.species.with_element(zt)
