"""Training data on the way to the model: topologies computed once, shuffled batches as graphs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from crosstrain.errors import DataFileError
from crosstrain.graph import Graph, Topology, batch_graph, topology
from crosstrain.structure import Structure


class GlobalSize(NamedTuple):
    """Size of a whole global batch (all ranks together): what loss terms are averaged over."""

    graphs: int
    atoms: int


@dataclass(frozen=True)
class Batch:
    graph: Graph
    energy: torch.Tensor | None  # (B,)
    forces: torch.Tensor | None  # (N, 3)
    stress: torch.Tensor | None  # (B, 3, 3)
    indices: list[int]


class Dataset:
    """Structures with their neighbour topologies (computed once, for ``cutoff``)."""

    def __init__(self, structures: Sequence[Structure], cutoff: float, name: str = "data") -> None:
        if not structures:
            raise DataFileError(f"{name}: the data set is empty")
        self.name = name
        self.structures = list(structures)
        self.cutoff = float(cutoff)
        self.topologies: list[Topology] = [topology(s, cutoff) for s in self.structures]

    def __len__(self) -> int:
        return len(self.structures)

    def subset(self, indices: Sequence[int], name: str | None = None) -> Dataset:
        """The structures at ``indices`` with their already computed topologies."""
        out = Dataset.__new__(Dataset)
        out.name, out.cutoff = name or self.name, self.cutoff
        out.structures = [self.structures[i] for i in indices]
        out.topologies = [self.topologies[i] for i in indices]
        return out

    @property
    def numbers(self) -> set[int]:
        return {int(z) for s in self.structures for z in np.unique(s.numbers)}

    def require(self, labels: Sequence[str]) -> None:
        for s in self.structures:
            for label in labels:
                if getattr(s, label) is None:
                    raise DataFileError(f"{s.source}: missing label {label!r} needed for training")

    def batch(self, indices: Sequence[int], dtype: torch.dtype, device: torch.device | str = "cpu") -> Batch:
        structures = [self.structures[i] for i in indices]
        graph = batch_graph(structures, topologies=[self.topologies[i] for i in indices], dtype=dtype, device=device)

        def stack(label: str, cat: bool) -> torch.Tensor | None:
            values = [getattr(s, label) for s in structures]
            if any(v is None for v in values):
                return None
            arr = np.concatenate(values) if cat else np.stack(values)
            return torch.as_tensor(arr, dtype=dtype if label != "energy" else torch.float64, device=device)

        energy = None
        if all(s.energy is not None for s in structures):
            energy = torch.tensor([s.energy for s in structures], dtype=torch.float64, device=device)
        return Batch(graph, energy, stack("forces", True), stack("stress", False), list(indices))

    def batches(
        self, batch_size: int, *, seed: int | None = None, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[list[int], GlobalSize]]:
        """``(this rank's indices, global batch size)`` per batch; shuffled when ``seed`` is given.

        With several ranks each global batch is split round-robin, so every rank sees a disjoint
        part and the union equals the single-process batch.
        """
        order = np.arange(len(self))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(len(self))
        for lo in range(0, len(order), batch_size):
            global_batch = order[lo : lo + batch_size].tolist()
            n_atoms = sum(len(self.structures[i]) for i in global_batch)
            yield global_batch[rank::world], GlobalSize(len(global_batch), n_atoms)
