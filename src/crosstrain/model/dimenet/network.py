"""DimeNet++ interatomic potential for periodic systems, in plain PyTorch.

The network behind the model contract (:class:`~crosstrain.model.base.AtomisticModel`): edge
vectors in, one raw output per atom out. Its only per-element parameter is the species embedding,
a table indexed by atomic number, so a new element is added by copying another element's row
(:meth:`DimeNetPP.copy_element_parameters`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from crosstrain.graph import Graph
from crosstrain.model.base import AtomisticModel
from crosstrain.model.dimenet.activations import FastSiLU
from crosstrain.model.dimenet.config import DimeNetConfig
from crosstrain.model.dimenet.harmonics import neighbour_harmonics, spherical_harmonics, triplet_sum
from crosstrain.model.dimenet.layers import BesselBasis, Dense, Residual, SphericalBasis
from crosstrain.species import MAX_Z, SpeciesMap


def _activation(name: str) -> nn.Module:
    return {"silu": FastSiLU(), "tanh": nn.Tanh(), "softplus": nn.Softplus()}[name]


class EmbeddingBlock(nn.Module):
    """Initial edge messages from the two atoms' embeddings and the radial basis."""

    def __init__(self, cfg: DimeNetConfig, act: nn.Module) -> None:
        super().__init__()
        h = cfg.hidden_channels
        self.emb = nn.Embedding(MAX_Z + 1, h)
        nn.init.uniform_(self.emb.weight, -(3**0.5), 3**0.5)
        self.lin_rbf = Dense(cfg.num_radial, h)
        # lin(cat[x_i, x_j, rbf]) split into three matrices so atom terms are computed per atom.
        self.lin_center = Dense(h, h, bias=False)
        self.lin_neighbour = Dense(h, h, bias=False)
        self.lin_edge = Dense(h, h)
        self.act = act

    def forward(self, numbers: torch.Tensor, rbf: torch.Tensor, graph: Graph) -> torch.Tensor:
        x = self.emb(numbers)
        r = self.act(self.lin_rbf(rbf))
        m: torch.Tensor = self.act(
            self.lin_center(x)[graph.centers] + self.lin_neighbour(x)[graph.neighbours] + self.lin_edge(r)
        )
        return m


class SphericalTerms(NamedTuple):
    """What the interaction blocks share of the triplet basis: its radial factor per edge
    ``(E, L, n_radial)``, each edge's harmonics in the neighbour layout and the angular norms ``(L,)``."""

    radial: torch.Tensor
    harmonics: list[torch.Tensor]
    norm: torch.Tensor


class InteractionBlock(nn.Module):
    """DimeNet++ interaction: directional message passing over triplets with a bottleneck."""

    def __init__(self, cfg: DimeNetConfig, act: nn.Module) -> None:
        super().__init__()
        h, i, b = cfg.hidden_channels, cfg.int_emb_size, cfg.basis_emb_size
        self.lin_rbf1 = Dense(cfg.num_radial, b, bias=False)
        self.lin_rbf2 = Dense(b, h, bias=False)
        self.lin_sbf1 = Dense(cfg.num_spherical * cfg.num_radial, b, bias=False)
        self.lin_sbf2 = Dense(b, i, bias=False)
        self.lin_kj = Dense(h, h)
        self.lin_ji = Dense(h, h)
        self.lin_down = Dense(h, i, bias=False)
        self.lin_up = Dense(i, h, bias=False)
        self.before_skip = nn.ModuleList(Residual(h, act) for _ in range(cfg.num_before_skip))
        self.lin = Dense(h, h)
        self.after_skip = nn.ModuleList(Residual(h, act) for _ in range(cfg.num_after_skip))
        self.act = act

    def forward(self, m: torch.Tensor, rbf: torch.Tensor, angles: SphericalTerms, graph: Graph) -> torch.Tensor:
        x_ji = self.act(self.lin_ji(m))
        x_kj = self.act(self.lin_kj(m)) * self.lin_rbf2(self.lin_rbf1(rbf))
        x_kj = self.act(self.lin_down(x_kj))
        # DimeNet++'s lin_sbf2(lin_sbf1(sbf)) on the triplet basis radial(kj)_ln · Y_l0(angle), with the
        # two projections folded and applied to the radial factor per edge and l: (L, E, int_emb)
        n_l, n_n = angles.radial.shape[1:]
        folded = (self.lin_sbf2.weight @ self.lin_sbf1.weight).view(-1, n_l, n_n)
        weights = torch.einsum("eln,cln->lec", angles.radial, folded) * x_kj
        x_kj = triplet_sum(
            weights, angles.harmonics, angles.norm, edge_slot=graph.edge_slot, reverse_slot=graph.reverse_slot
        )
        h: torch.Tensor = x_ji + self.act(self.lin_up(x_kj))
        for layer in self.before_skip:
            h = layer(h)
        h = self.act(self.lin(h)) + m
        for layer in self.after_skip:
            h = layer(h)
        return h


class OutputBlock(nn.Module):
    """Edge messages -> per-atom scalar: radial gating, sum onto centre atoms, MLP."""

    def __init__(self, cfg: DimeNetConfig, act: nn.Module) -> None:
        super().__init__()
        h, o = cfg.hidden_channels, cfg.out_emb_channels
        self.lin_rbf = Dense(cfg.num_radial, h, bias=False)
        self.lin_up = Dense(h, o, bias=False)
        self.lins = nn.ModuleList(Dense(o, o) for _ in range(cfg.num_output_layers))
        self.lin_out = Dense(o, 1, bias=False, zero_init=cfg.output_init == "zeros")
        self.act = act

    def forward(self, m: torch.Tensor, rbf: torch.Tensor, graph: Graph, n_atoms: int) -> torch.Tensor:
        x = self.lin_rbf(rbf) * m
        x = torch.zeros((n_atoms, x.shape[1]), dtype=x.dtype, device=x.device).index_add(0, graph.centers, x)
        x = self.lin_up(x)
        for lin in self.lins:
            x = self.act(lin(x))
        out: torch.Tensor = self.lin_out(x)
        return out.squeeze(-1)


class DimeNetPP(AtomisticModel):
    """DimeNet++ potential (architecture ``dimenet++``): ``forward(graph, positions, cell)`` ->
    energy per configuration (eV); the shared per-element wrapper is :class:`AtomisticModel`'s."""

    architecture = "dimenet++"
    config: DimeNetConfig
    embedding: EmbeddingBlock
    interactions: nn.ModuleList
    outputs: nn.ModuleList

    def __init__(self, config: DimeNetConfig, species: SpeciesMap) -> None:
        super().__init__(config, species)
        act = _activation(config.activation)
        self.rbf = BesselBasis(config.num_radial, config.cutoff, config.envelope_p)
        self.sbf = SphericalBasis(config.num_spherical, config.num_radial, config.cutoff, config.envelope_p)
        self.embedding = EmbeddingBlock(config, act)
        self.interactions = nn.ModuleList(InteractionBlock(config, act) for _ in range(config.num_blocks))
        self.outputs = nn.ModuleList(OutputBlock(config, act) for _ in range(config.num_blocks + 1))

    def set_fused(self, fused: bool) -> DimeNetPP:
        """Use the activation's fused custom-autograd derivatives (default, fastest in eager mode)
        or plain ops for ``torch.compile``."""
        for module in self.modules():
            if hasattr(module, "fused"):
                setattr(module, "fused", fused)  # noqa: B010  # the fused kernels' switch (plain attribute)
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.emb.weight.dtype

    def interaction_parameters(self) -> list[nn.Parameter]:
        return list(self.interactions.parameters())

    def network_energies(self, graph: Graph, vectors: torch.Tensor) -> torch.Tensor:
        dist = torch.linalg.vector_norm(vectors, dim=-1)
        rbf = self.rbf(dist)
        n_atoms = graph.numbers.shape[0]
        lmax = self.config.num_spherical - 1
        harmonics = spherical_harmonics(vectors / dist.unsqueeze(-1), lmax)  # of the direction centre -> neighbour
        angles = SphericalTerms(
            radial=self.sbf.radial(dist),
            harmonics=neighbour_harmonics(
                harmonics, graph.edge_slot, n_atoms=n_atoms, width=graph.slots.shape[0], lmax=lmax
            ),
            norm=self.sbf.sph_norm.to(dist.dtype),
        )
        m = self.embedding(graph.numbers, rbf, graph)
        out: torch.Tensor = self.outputs[0](m, rbf, graph, n_atoms)
        for interaction, output in zip(self.interactions, self.outputs[1:]):
            m = interaction(m, rbf, angles, graph)
            out = out + output(m, rbf, graph, n_atoms)
        return out

    def copy_element_parameters(self, target: int, source: int) -> None:
        """The species embedding's row (the network's only per-element parameter)."""
        self.embedding.emb.weight[target] = self.embedding.emb.weight[source]
