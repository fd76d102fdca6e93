"""DimeNet++ interatomic potential for periodic systems, in plain PyTorch.

The model maps a :class:`~crosstrain.graph.Graph` to one energy per configuration. Forces and
stress come from :mod:`crosstrain.model.derivatives`. Per-element parameters (the species
embedding, energy shift and scale) are tables indexed by atomic number, so a new element is
added by copying another element's rows (see :meth:`DimeNetPP.copy_element`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from crosstrain.graph import Graph
from crosstrain.model.activations import FastSiLU
from crosstrain.model.config import DimeNetConfig
from crosstrain.model.layers import BesselBasis, Dense, Residual, SphericalBasis
from crosstrain.model.triplet import triplet_interaction, triplet_interaction_reference
from crosstrain.species import MAX_Z, SpeciesMap, to_atomic_number


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
        self.fused = True

    def forward(self, m: torch.Tensor, rbf: torch.Tensor, sbf_emb: torch.Tensor, graph: Graph) -> torch.Tensor:
        """``sbf_emb`` is this block's ``lin_sbf1(sbf)``, computed for all blocks at once by the model."""
        x_ji = self.act(self.lin_ji(m))
        x_kj = self.act(self.lin_kj(m)) * self.lin_rbf2(self.lin_rbf1(rbf))
        x_kj = self.act(self.lin_down(x_kj))
        interact = triplet_interaction if self.fused else triplet_interaction_reference
        x_kj = interact(
            x_kj, sbf_emb, self.lin_sbf2.weight.t(), idx_ji=graph.idx_ji, idx_kj=graph.idx_kj, n_edges=m.shape[0]
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


def _sbf_weight(block: nn.Module) -> torch.Tensor:
    """An interaction block's first sbf projection matrix."""
    assert isinstance(block, InteractionBlock)
    return block.lin_sbf1.weight


class DimeNetPP(nn.Module):
    """DimeNet++ potential: ``forward(graph, positions, cell)`` -> energy per configuration (eV).

    ``species`` lists the elements the model knows; per-atom energies are
    ``scale[Z] * network(Z, environment) + shift[Z]``.
    """

    energy_shift: torch.Tensor
    energy_scale: torch.Tensor
    length_scale: torch.Tensor
    embedding: EmbeddingBlock
    interactions: nn.ModuleList
    outputs: nn.ModuleList

    def __init__(self, config: DimeNetConfig, species: SpeciesMap) -> None:
        super().__init__()
        self.config = config
        self.species = species
        act = _activation(config.activation)
        self.rbf = BesselBasis(config.num_radial, config.cutoff, config.envelope_p)
        self.sbf = SphericalBasis(config.num_spherical, config.num_radial, config.cutoff, config.envelope_p)
        self.embedding = EmbeddingBlock(config, act)
        self.interactions = nn.ModuleList(InteractionBlock(config, act) for _ in range(config.num_blocks))
        self.outputs = nn.ModuleList(OutputBlock(config, act) for _ in range(config.num_blocks + 1))
        self.register_buffer("energy_shift", torch.zeros(MAX_Z + 1, dtype=torch.float64))
        self.register_buffer("energy_scale", torch.ones(MAX_Z + 1, dtype=torch.float64))
        # per-element length scale (the ``rescaled`` transfer): an edge between atoms with scales
        # s_i and s_j is seen by the network with its length multiplied by sqrt(s_i s_j)
        self.register_buffer("length_scale", torch.ones(MAX_Z + 1, dtype=torch.float64))

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> DimeNetPP:
        # ``model.to(float32)`` must not round the per-element energy shifts and scales
        keep = {name: getattr(self, name) for name in ("energy_shift", "energy_scale", "length_scale")}
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]  # (unannotated in torch)
        for name, value in keep.items():
            setattr(self, name, value.to(device=getattr(self, name).device, dtype=torch.float64))
        return self

    def set_fused(self, fused: bool) -> DimeNetPP:
        """Use the fused custom-autograd kernels (default, fastest in eager mode) or plain ops
        ordered for ``torch.compile`` (:meth:`SphericalBasis.project`)."""
        for module in self.modules():
            if hasattr(module, "fused"):
                setattr(module, "fused", fused)  # noqa: B010  # the fused kernels' switch (plain attribute)
        return self

    @property
    def cutoff(self) -> float:
        return self.config.cutoff

    @property
    def neighbour_cutoff(self) -> float:
        """Real-space radius the neighbour list must cover: the cutoff over the smallest length scale."""
        scales = [float(self.length_scale[z]) for z in self.species.numbers]
        return self.config.cutoff / min([1.0, *scales])

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.emb.weight.dtype

    def atomic_energies(
        self, graph: Graph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Energy of each atom (eV, float64), shape ``(N,)``."""
        vec = graph.edge_vectors(positions, cell)
        # always applied (exact for scale 1): a data-dependent branch would break torch.compile graphs
        s = self.length_scale.index_select(0, graph.numbers)
        edge_scale = torch.sqrt(s.index_select(0, graph.centers) * s.index_select(0, graph.neighbours))
        vec = vec * edge_scale.to(vec.dtype).unsqueeze(-1)
        dist = torch.linalg.vector_norm(vec, dim=-1)
        rbf = self.rbf(dist)
        # angle at atom j between j -> i (minus edge ji) and j -> k (edge kj)
        unit = vec / dist.unsqueeze(-1)
        cos = -(unit.index_select(0, graph.idx_ji) * unit.index_select(0, graph.idx_kj)).sum(-1)
        radial = self.sbf.radial(dist)  # (E, L, N)
        angular = self.sbf.angular(cos)  # (T, L)
        # every block's first sbf projection at once: one pass over the (T, L*N) basis
        w_sbf = torch.cat([_sbf_weight(block) for block in self.interactions], dim=0)
        sbf_emb = torch.split(
            self.sbf.project(radial, angular, graph.idx_kj, weight=w_sbf), self.config.basis_emb_size, dim=1
        )
        n_atoms = graph.numbers.shape[0]
        m = self.embedding(graph.numbers, rbf, graph)
        out: torch.Tensor = self.outputs[0](m, rbf, graph, n_atoms)
        for interaction, output, s_emb in zip(self.interactions, self.outputs[1:], sbf_emb):
            m = interaction(m, rbf, s_emb, graph)
            out = out + output(m, rbf, graph, n_atoms)
        # shifts and scales stay float64 so that total energies keep their digits
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
        """Give element ``target`` the embedding row, energy shift, energy and length scale of ``source``."""
        zt, zs = to_atomic_number(target), to_atomic_number(source)
        self.species.check([zs], source="element map")
        with torch.no_grad():
            self.embedding.emb.weight[zt] = self.embedding.emb.weight[zs]
            self.energy_shift[zt] = self.energy_shift[zs]
            self.energy_scale[zt] = self.energy_scale[zs]
            self.length_scale[zt] = self.length_scale[zs]
        self.species = self.species.with_element(zt)
