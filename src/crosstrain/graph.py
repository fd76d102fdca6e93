"""Periodic neighbour lists, angle triplets and batched graphs.

The topology of a configuration (which pairs are neighbours, through which periodic image, and
which edge runs the other way) is computed once with vesin in NumPy. Edge vectors are then
recomputed in torch from positions, cell and integer shifts, so that autograd gives forces and,
through a strain of positions and cell, stress.

Conventions: edge ``e`` has a ``center`` atom i and a ``neighbour`` atom j, and its vector is
``r_j - r_i + shift_e · cell``. In DimeNet terms edge e carries the message j → i. A triplet
(kj, ji) pairs the edge ji with an edge kj whose centre is j (k ≠ i, counting periodic images);
its angle sits at atom j between the directions j → i and j → k. Models never list the triplets
(:func:`triplets` does, for analysis): DimeNet++ sums over them through each atom's neighbour
layout (:class:`Graph`'s ``edge_slot`` and ``reverse_slot``), which needs only the reverse of each
edge (``reverse``: the edge i → j of the same pair and image, the one triplet k = i left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from crosstrain.errors import StructureError
from crosstrain.structure import Structure

MIN_DISTANCE = 1e-3  # Å; closer atoms are treated as overlapping


@dataclass(frozen=True)
class Topology:
    """Neighbour pairs of one configuration and the reverse of each (NumPy, computed once)."""

    centers: np.ndarray  # (E,) int64, sorted
    neighbours: np.ndarray  # (E,) int64
    shifts: np.ndarray  # (E, 3) int64, in units of the cell vectors
    reverse: np.ndarray  # (E,) int64, the edge of the same pair the other way

    @property
    def n_edges(self) -> int:
        return int(self.centers.size)

    def keep(self, mask: np.ndarray) -> Topology:
        """The topology of the pairs where ``mask`` is true both ways (a pair is kept or dropped as a
        whole, so every kept edge keeps its reverse; reverses renumbered)."""
        mask = np.asarray(mask, dtype=bool)
        both = mask & mask[self.reverse]
        index = np.cumsum(both) - 1
        return Topology(self.centers[both], self.neighbours[both], self.shifts[both], index[self.reverse[both]])


def _vesin(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float, full: bool, quantities: str
) -> tuple[np.ndarray, ...]:
    """vesin's neighbour search on one configuration (a zero box where nothing is periodic)."""
    from vesin import NeighborList

    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    box = np.asarray(cell, dtype=np.float64) if pbc.any() else np.zeros((3, 3))
    found: tuple[np.ndarray, ...] = NeighborList(cutoff=float(cutoff), full_list=full).compute(
        points=np.asarray(positions, dtype=np.float64), box=box, periodic=[bool(p) for p in pbc], quantities=quantities
    )
    return found


def min_pair_distance(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, *, cutoff: float) -> float:
    """The shortest distance between two atoms (periodic images included) if below ``cutoff``, else inf."""
    (d,) = _vesin(positions, cell, pbc, cutoff, full=False, quantities="d")
    return float(d.min()) if d.size else float("inf")


def neighbour_list(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, *, cutoff: float, source: str = "structure"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbour list ``(centers, neighbours, shifts)`` within ``cutoff``, sorted by centre."""
    i, j, s, d = _vesin(positions, cell, pbc, cutoff, full=True, quantities="ijSd")
    if d.size and d.min() < MIN_DISTANCE:
        k = int(np.argmin(d))
        raise StructureError(f"{source}: atoms {int(i[k])} and {int(j[k])} overlap (distance {d[k]:.2e} Å)")
    order = np.lexsort((j, i))
    return (
        i[order].astype(np.int64),
        j[order].astype(np.int64),
        s[order].astype(np.int64),
    )


def reverse_edges(centers: np.ndarray, neighbours: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """For every edge (i, j, S) the index of the edge (j, i, -S), or -1 where there is none."""
    n_edges = centers.size
    if n_edges == 0:
        return np.zeros(0, dtype=np.int64)

    def rows(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        table = np.ascontiguousarray(np.column_stack([a, b, s]).astype(np.int64))
        return table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).ravel()

    forward, backward = rows(centers, neighbours, shifts), rows(neighbours, centers, -shifts)
    order = np.argsort(forward, kind="stable")
    pos = np.searchsorted(forward[order], backward).clip(max=n_edges - 1)
    found = forward[order][pos] == backward
    return np.where(found, order[pos], -1).astype(np.int64)


def triplets(topology: Topology, *, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``(idx_kj, idx_ji)`` edge pairs with centre(kj) == neighbour(ji), excluding k == i
    (the reverse edge: the same atom *and* the same periodic image). ``centers`` must be sorted."""
    centers, neighbours = topology.centers, topology.neighbours
    counts = np.bincount(centers, minlength=n_atoms)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    per_edge = counts[neighbours]
    ji = np.repeat(np.arange(centers.size, dtype=np.int64), per_edge)
    first = np.cumsum(per_edge) - per_edge
    kj = np.repeat(offsets[neighbours] - first, per_edge) + np.arange(ji.size, dtype=np.int64)
    back = kj == topology.reverse[ji]
    return kj[~back], ji[~back]


def topology(structure: Structure, cutoff: float) -> Topology:
    """Neighbour list of ``structure`` for ``cutoff`` (Å), with each edge's reverse.

    The list is symmetric: a pair found one way only (possible only within float rounding of the
    cutoff, where every model's envelope is zero) is dropped.
    """
    if cutoff <= 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    c, n, s = neighbour_list(structure.positions, structure.cell, structure.pbc, cutoff=cutoff, source=structure.source)
    reverse = reverse_edges(c, n, s)
    if np.all(reverse >= 0):
        return Topology(c, n, s, reverse)
    paired = reverse >= 0
    # the unpaired edges' reverse (0, a placeholder) is never read: keep() drops them by their own mask
    return Topology(c, n, s, np.where(paired, reverse, 0)).keep(paired)


#: what a Verlet list is valid for: the atoms' numbers, the cell and the periodicity (as bytes)
_CellKey = tuple[bytes, bytes, bytes]


class SkinNeighbours:
    """Topologies of a moving configuration from a Verlet list with a skin (for MD).

    Pairs within ``cutoff + skin`` are found once; every later call keeps the pairs within
    ``cutoff`` now (a mask, no search). The list is
    built again when an atom has moved more than half the skin since the last build (then no pair
    outside the candidates can have come within the cutoff), or the cell, the periodicity or the
    atoms changed. The topology is what :func:`topology` gives, edge order aside (a pair within
    ~1e-15 Å of the cutoff may round the other way; its envelope there is zero).
    """

    def __init__(self, cutoff: float, skin: float = 0.5) -> None:
        if cutoff <= 0 or skin < 0:
            raise ValueError(f"cutoff must be positive and skin non-negative, got {cutoff} and {skin}")
        self.cutoff, self.skin = float(cutoff), float(skin)
        self.builds = 0
        self._key: _CellKey | None = None
        self._reference: np.ndarray | None = None
        self._candidates: Topology | None = None
        self._offsets = np.zeros((0, 3))
        self._last: tuple[np.ndarray, Topology] | None = None

    def _stale(self, pos: np.ndarray, key: _CellKey) -> bool:
        if self._candidates is None or self._reference is None or key != self._key:
            return True
        moved = pos - self._reference
        return bool(np.einsum("ij,ij->i", moved, moved).max(initial=0.0) > (0.5 * self.skin) ** 2)

    def _build(self, structure: Structure, pos: np.ndarray, key: _CellKey) -> None:
        cand = topology(structure, self.cutoff + self.skin)
        self._candidates, self._key, self._reference = cand, key, pos.copy()
        self._offsets = cand.shifts @ np.asarray(structure.cell, dtype=np.float64)  # the cell is part of the key
        self._last = None
        self.builds += 1

    def __call__(self, structure: Structure) -> Topology:
        pos = np.asarray(structure.positions, dtype=np.float64)
        key = (structure.numbers.tobytes(), np.asarray(structure.cell).tobytes(), np.asarray(structure.pbc).tobytes())
        if self._stale(pos, key):
            self._build(structure, pos, key)
        cand = self._candidates
        assert cand is not None
        c, n = cand.centers, cand.neighbours
        vectors = pos[n]
        vectors -= pos[c]
        vectors += self._offsets
        d2 = np.einsum("ij,ij->i", vectors, vectors)
        if d2.size and d2.min() < MIN_DISTANCE**2:
            k = int(np.argmin(d2))
            raise StructureError(
                f"{structure.source}: atoms {int(c[k])} and {int(n[k])} overlap (distance {np.sqrt(d2[k]):.2e} Å)"
            )
        keep = d2 < self.cutoff**2
        if self._last is not None and np.array_equal(keep, self._last[0]):
            return self._last[1]  # the same pairs as last time: the same topology
        result = cand.keep(keep)
        self._last = (keep, result)
        return result


@dataclass(frozen=True)
class Graph:
    """A batch of configurations as one disconnected graph (torch tensors).

    The neighbour layout gives every atom ``D`` slots (``D`` = ``slots.numel()``, the largest
    number of neighbours in the batch): edge ``e`` sits in slot ``edge_slot[e]`` of the flattened
    ``(N·D)`` layout, next to the other edges of its centre atom, and ``reverse_slot[e]`` is the
    slot of its reverse edge: the place where a sum over the triplets of ``e`` meets the
    neighbours of its neighbour atom.
    """

    positions: torch.Tensor  # (N, 3)
    numbers: torch.Tensor  # (N,) int64
    cell: torch.Tensor  # (B, 3, 3)
    pbc: torch.Tensor  # (B, 3) bool
    batch: torch.Tensor  # (N,) graph index of each atom
    centers: torch.Tensor  # (E,)
    neighbours: torch.Tensor  # (E,)
    shifts: torch.Tensor  # (E, 3) float, cell-vector units
    edge_graph: torch.Tensor  # (E,) graph index of each edge
    edge_slot: torch.Tensor  # (E,) slot of each edge in the (N·D) neighbour layout
    reverse_slot: torch.Tensor  # (E,) slot of each edge's reverse
    slots: torch.Tensor  # (D,) 0 .. D-1: carries the layout's width D as a shape torch.compile keeps symbolic
    n_atoms: torch.Tensor  # (B,) atoms per graph

    @property
    def n_graphs(self) -> int:
        return int(self.cell.shape[0])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Graph:
        """Move to ``device``; floating tensors are cast to ``dtype`` when given."""
        out = {}
        for f in fields(self):
            t = getattr(self, f.name)
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype=dtype)
            out[f.name] = t.to(device) if device is not None else t
        return Graph(**out)

    def edge_vectors(self, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        """``r_neighbour - r_center + shift · cell`` for every edge, differentiable."""
        pos = self.positions if positions is None else positions
        cell = self.cell if cell is None else cell
        if cell.shape[0] == 1:
            offsets = self.shifts @ cell[0]
        else:
            offsets = torch.einsum("ea,eab->eb", self.shifts, cell.index_select(0, self.edge_graph))
        return pos.index_select(0, self.neighbours) - pos.index_select(0, self.centers) + offsets


def neighbour_layout(centers: np.ndarray, reverse: np.ndarray, *, n_atoms: int) -> dict[str, np.ndarray]:
    """``edge_slot``, ``reverse_slot`` and ``slots`` of :class:`Graph`, for a symmetric neighbour
    list sorted by centre atom."""
    n_edges = centers.size
    if n_edges and (
        np.any(centers[1:] < centers[:-1])
        or np.any((reverse < 0) | (reverse >= n_edges))
        or np.any(reverse[reverse.clip(0, n_edges - 1)] != np.arange(n_edges))
    ):
        raise ValueError("the neighbour list must be sorted by centre atom and symmetric (every edge with its reverse)")
    counts = np.bincount(centers, minlength=n_atoms)
    width = int(counts.max(initial=0))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    edge_slot = centers * width + (np.arange(centers.size) - first[centers])
    return {"edge_slot": edge_slot, "reverse_slot": edge_slot[reverse], "slots": np.arange(width)}


def batch_graph(
    structures: Sequence[Structure],
    *,
    topologies: Sequence[Topology] | None = None,
    cutoff: float | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Graph:
    """Concatenate ``structures`` (with precomputed ``topologies``, or a ``cutoff``) into a Graph."""
    if not structures:
        raise ValueError("cannot batch an empty list of structures")
    if topologies is None:
        if cutoff is None:
            raise ValueError("batch_graph needs topologies or a cutoff")
        topologies = [topology(s, cutoff) for s in structures]
    if len(topologies) != len(structures):
        raise ValueError("one topology per structure is needed")
    atom_off = np.cumsum([0] + [len(s) for s in structures])
    edge_off = np.cumsum([0] + [t.n_edges for t in topologies])

    def cat(parts: list[np.ndarray], width: int | None = None) -> np.ndarray:
        if parts:
            return np.concatenate(parts)
        return np.zeros((0,) if width is None else (0, width), dtype=np.int64)

    arrays = {
        "positions": np.concatenate([s.positions for s in structures]),
        "numbers": np.concatenate([s.numbers for s in structures]),
        "cell": np.stack([s.cell for s in structures]),
        "batch": np.repeat(np.arange(len(structures)), [len(s) for s in structures]),
        "centers": cat([t.centers + a for t, a in zip(topologies, atom_off)]),
        "neighbours": cat([t.neighbours + a for t, a in zip(topologies, atom_off)]),
        "shifts": cat([t.shifts for t in topologies], 3),
        "edge_graph": np.repeat(np.arange(len(structures)), [t.n_edges for t in topologies]),
        "n_atoms": np.array([len(s) for s in structures]),
    }
    reverse = cat([t.reverse + e for t, e in zip(topologies, edge_off)])
    arrays.update(neighbour_layout(arrays["centers"], reverse, n_atoms=int(atom_off[-1])))
    floats = {"positions", "cell", "shifts"}
    tensors = {
        k: torch.as_tensor(v, dtype=dtype if k in floats else torch.int64, device=device) for k, v in arrays.items()
    }
    tensors["pbc"] = torch.as_tensor(np.stack([s.pbc for s in structures]), device=device)
    return Graph(**tensors)
