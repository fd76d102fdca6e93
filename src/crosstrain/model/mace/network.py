"""MACE behind crosstrain's model contract: the ``mace`` architecture.

The network is mace-torch's ``ScaleShiftMACE``, built from a :class:`MaceConfig` for the model's
element table, with its own scale 1, shift 0 and reference energies 0: the per-element energy
shift and scale and the length scale of ``rescaled`` live in the shared wrapper
(:class:`~crosstrain.model.base.AtomisticModel`), as for every architecture. The forward pass runs
mace's own blocks on crosstrain's graph (edge sender = neighbour, receiver = centre, mace's vector
``r_receiver - r_sender`` = minus crosstrain's edge vector), so a checkpoint exports to a mace-torch
model file that gives the same energies (:mod:`crosstrain.model.mace.files`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from crosstrain.errors import ConfigError
from crosstrain.graph import Graph
from crosstrain.model.base import AtomisticModel
from crosstrain.model.mace._library import default_dtype, mace_modules
from crosstrain.model.mace.config import MaceConfig
from crosstrain.model.mace.elements import grow
from crosstrain.model.mace.elements import table as element_table
from crosstrain.species import MAX_Z, SpeciesMap, symbol

#: readout activations by name (mace-torch's choices crosstrain builds)
GATES = {"silu": torch.nn.functional.silu, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus}


def build_network(config: MaceConfig, table: list[int], dtype: torch.dtype = torch.float64) -> nn.Module:
    """A freshly initialised mace-torch ``ScaleShiftMACE`` for the elements ``table`` (sorted)."""
    modules = mace_modules()
    from e3nn import o3

    with default_dtype(dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript notes from e3nn's modules
        net: nn.Module = modules.ScaleShiftMACE(
            atomic_inter_scale=1.0,
            atomic_inter_shift=0.0,
            r_max=config.cutoff,
            num_bessel=config.num_bessel,
            num_polynomial_cutoff=config.num_polynomial_cutoff,
            max_ell=config.max_ell,
            interaction_cls=modules.interaction_classes[config.interaction],
            interaction_cls_first=modules.interaction_classes[config.interaction_first],
            num_interactions=config.num_interactions,
            num_elements=len(table),
            hidden_irreps=o3.Irreps(config.hidden_irreps),
            MLP_irreps=o3.Irreps(config.mlp_irreps),
            atomic_energies=np.zeros(len(table)),
            avg_num_neighbors=config.avg_num_neighbors,
            atomic_numbers=list(table),
            correlation=config.correlation,
            gate=GATES[config.gate],
            radial_MLP=list(config.radial_mlp),
            use_reduced_cg=config.use_reduced_cg,
        )
    return net


class MACEModel(AtomisticModel):
    """A MACE potential (mace-torch) for the elements of ``species``."""

    architecture = "mace"
    config: MaceConfig
    element_column: torch.Tensor

    def __init__(self, config: MaceConfig, species: SpeciesMap) -> None:
        super().__init__(config, species)
        try:
            self.net = build_network(config, sorted(species.numbers))
        except (ValueError, RuntimeError) as exc:  # e3nn refuses malformed irreps
            raise ConfigError(f"model: mace-torch cannot build this MACE ({exc})") from None
        self._index_elements()

    def _index_elements(self) -> None:
        """The one-hot column of each atomic number (-1: unknown), and the table's size, kept at hand
        so that a forward pass does not read the table back from the network."""
        table = self.table
        device: torch.device = next(self.net.buffers()).device
        column = torch.full((MAX_Z + 1,), -1, dtype=torch.long, device=device)
        column[torch.tensor(table, device=device)] = torch.arange(len(table), device=device)
        self.register_buffer("element_column", column, persistent=False)
        self.n_elements = len(table)

    @property
    def table(self) -> list[int]:
        """The network's element table (atomic numbers, the order of its one-hot columns)."""
        return element_table(self.net)

    def node_attrs(self, numbers: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        columns = self.element_column.index_select(0, numbers)
        return torch.nn.functional.one_hot(columns, self.n_elements).to(dtype)

    def network_energies(self, graph: Graph, vectors: torch.Tensor) -> torch.Tensor:
        net: Any = self.net
        attrs = self.node_attrs(graph.numbers, vectors.dtype)
        edge_index = torch.stack([graph.neighbours, graph.centers])
        vec = -vectors  # mace: r_receiver - r_sender
        lengths = torch.linalg.vector_norm(vec, dim=-1, keepdim=True)
        feats = net.node_embedding(attrs)
        edge_attrs = net.spherical_harmonics(vec)
        edge_feats, cutoff = net.radial_embedding(lengths, attrs, edge_index, net.atomic_numbers)
        per_layer = []
        for i, (interaction, product) in enumerate(zip(net.interactions, net.products)):
            feats, sc = interaction(
                node_attrs=attrs,
                node_feats=feats,
                edge_attrs=edge_attrs,
                edge_feats=edge_feats,
                edge_index=edge_index,
                cutoff=cutoff,
                first_layer=(i == 0),
            )
            feats = product(node_feats=feats, sc=sc, node_attrs=attrs)
            per_layer.append(feats)
        heads = torch.zeros(attrs.shape[0], dtype=torch.long, device=attrs.device)
        readouts = list(net.readouts)
        energies = [
            readout(per_layer[-1 if len(readouts) == 1 else i], heads)[:, 0] for i, readout in enumerate(readouts)
        ]
        return torch.stack(energies).sum(0)

    def interaction_parameters(self) -> list[nn.Parameter]:
        """Message passing and products; the node embedding and the readouts train under ``freeze``."""
        net: Any = self.net
        return [*net.interactions.parameters(), *net.products.parameters()]

    def copy_element_parameters(self, target: int, source: int) -> None:
        """Give ``target`` every per-element slice of ``source`` (:mod:`.elements`), growing the
        element table when ``target`` is new; checked to be exact on a probe environment."""
        old_table = self.table
        table = sorted(set(old_table) | {target})
        old_net = self.net
        dtype = next(old_net.parameters()).dtype
        new_net = build_network(self.config, table, dtype) if table != old_table else _clone(old_net, dtype)
        new_net.load_state_dict(grow(old_net, new_net, {target: source}))
        new_net.to(next(old_net.parameters()).device)
        probe_before = _probe(self, source)
        self.net = new_net
        self._index_elements()
        tol = 1e-9 if dtype == torch.float64 else 1e-5
        for z in (source, target):
            if not torch.allclose(_probe(self, z), probe_before, rtol=tol, atol=tol):
                self.net = old_net
                self._index_elements()
                raise ConfigError(
                    f"mapping {symbol(target)} onto {symbol(source)} does not reproduce the {symbol(source)} "
                    "energies of this MACE model: its settings make the copy inexact"
                )


def _clone(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    import copy

    return copy.deepcopy(net).to(dtype)


def _probe(model: MACEModel, z: int) -> torch.Tensor:
    """Per-atom network outputs of a fixed, irregular 4-atom cluster of element ``z``."""
    param = next(model.net.parameters())
    pos = torch.tensor([[0.0, 0.0, 0.0], [2.3, 0.2, 0.1], [0.4, 2.5, -0.3], [0.6, 0.8, 2.2]], dtype=torch.float64)
    i, j = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    keep = i != j
    centers, neighbours = i[keep].to(param.device), j[keep].to(param.device)
    vectors = (pos[j[keep]] - pos[i[keep]]).to(device=param.device, dtype=param.dtype)
    numbers = torch.full((4,), z, dtype=torch.long, device=param.device)
    graph: Any = _ProbeGraph(numbers, centers, neighbours)
    with torch.no_grad():
        return model.network_energies(graph, vectors).double()


class _ProbeGraph:
    """The three fields of a graph that :meth:`MACEModel.network_energies` reads."""

    def __init__(self, numbers: torch.Tensor, centers: torch.Tensor, neighbours: torch.Tensor) -> None:
        self.numbers, self.centers, self.neighbours = numbers, centers, neighbours
