"""Seeded, stratified and leak-free splits of a data set into training, validation and test.

A split never cuts through a *family*: structures that are the same physics seen twice. Two kinds
of family are recognised:

- **symmetry twins**: the same atom count and the same per-atom energy to 1e-6 eV (the mlearn
  Elastic group stores each strain state three times with the cell's axes permuted, and the
  ± shear strains are equivalent, so their energies agree and the forces are rotated copies);
- **a family label** in ``info["family"]`` that a reader sets (mlearn: one strain level of the
  Elastic group, a block of consecutive snapshots of one MD run, one surface).

Families are the union of both (connected components), so a label can only make families
coarser, never let twins straddle. Without families each structure is its own unit and
:func:`stratified_split` behaves as it always has (SW data keep their splits bit for bit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from crosstrain.errors import DataFileError
from crosstrain.structure import Structure

T = TypeVar("T")
TWIN_ENERGY_TOL = 1e-6  # eV/atom


def twin_key(s: Structure) -> tuple[int, int] | None:
    """Atom count and per-atom energy on a 1e-6 eV grid (``None`` without an energy)."""
    if s.energy is None:
        return None
    return len(s), int(round(s.energy / len(s) / TWIN_ENERGY_TOL))


def families(structures: Sequence[Structure]) -> list[int]:
    """A family id per structure: connected components of shared twin keys and family labels."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keys: dict[object, int] = {}
    rows, cols = [], []
    for i, s in enumerate(structures):
        own: list[object] = [("twin", twin_key(s))] if twin_key(s) is not None else []
        if s.info.get("family") is not None:
            own.append(("label", str(s.info["family"])))
        for key in own:
            rows.append(i)
            cols.append(keys.setdefault(key, len(keys)))
    n = len(structures)
    # structures and keys as one bipartite graph: structures sharing a key are connected
    graph = coo_matrix(([1] * len(rows), (rows, [n + c for c in cols])), shape=(n + len(keys),) * 2)
    _, labels = connected_components(graph, directed=False)
    ids: dict[int, int] = {}
    return [ids.setdefault(int(label), len(ids)) for label in labels[:n]]


def has_families(structures: Sequence[Structure]) -> bool:
    """True when some structures share a family (then splits move whole families)."""
    return len(set(families(structures))) < len(structures)


def _apportion(sizes: list[int], total: int) -> list[int]:
    """Largest-remainder apportionment of ``total`` over groups of ``sizes`` (never above a size)."""
    whole = sum(sizes)
    if whole == 0:
        return [0] * len(sizes)
    quotas = [total * s / whole for s in sizes]
    counts = [min(int(q), s) for q, s in zip(quotas, sizes)]
    order = sorted(range(len(sizes)), key=lambda i: quotas[i] - counts[i], reverse=True)
    k = 0
    while sum(counts) < total and k < 10 * len(sizes):
        i = order[k % len(sizes)]
        if counts[i] < sizes[i]:
            counts[i] += 1
        k += 1
    return counts


def stratified_split(
    structures: list[Structure], n_valid: int, n_test: int, *, seed: int = 0, key: str = "group"
) -> dict[str, list[int]]:
    """Seeded train/valid/test indices, each stratum (``info[key]``) represented in proportion.

    Where structures share families (see the module docstring) whole families are drawn, so the
    sizes are met as closely as whole families allow; otherwise they are exact.
    """
    n = len(structures)
    if n_valid < 0 or n_test < 0 or n_valid + n_test >= n:
        raise DataFileError(f"cannot take {n_valid} validation and {n_test} test structures from {n}")
    if has_families(structures):
        return _family_split(structures, n_valid, n_test, seed, key)
    strata: dict[str, list[int]] = {}
    for i, s in enumerate(structures):
        strata.setdefault(str(s.info.get(key, "")), []).append(i)
    names = sorted(strata)
    rng = np.random.default_rng(seed)
    shuffled = {g: rng.permutation(strata[g]).tolist() for g in names}
    valid_counts = _apportion([len(strata[g]) for g in names], n_valid)
    rest = [len(strata[g]) - c for g, c in zip(names, valid_counts)]
    test_counts = _apportion(rest, n_test)
    out: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for g, nv, nt in zip(names, valid_counts, test_counts):
        idx = shuffled[g]
        out["valid"] += idx[:nv]
        out["test"] += idx[nv : nv + nt]
        out["train"] += idx[nv + nt :]
    return {k: sorted(v) for k, v in out.items()}


def _take_families(units: list[list[int]], target: int) -> tuple[list[int], list[list[int]]]:
    """Families (in the given order) whose total comes closest to ``target``; returns (taken, left)."""
    taken: list[int] = []
    left = list(units)
    while True:
        gap = target - len(taken)
        best = min(range(len(left)), key=lambda k: abs(gap - len(left[k])), default=None)
        if best is None or abs(gap - len(left[best])) >= abs(gap):
            return sorted(taken), left
        taken += left.pop(best)


def _family_split(structures: list[Structure], n_valid: int, n_test: int, seed: int, key: str) -> dict[str, list[int]]:
    fam = families(structures)
    strata: dict[str, dict[int, list[int]]] = {}
    for i, (s, f) in enumerate(zip(structures, fam)):
        strata.setdefault(str(s.info.get(key, "")), {}).setdefault(f, []).append(i)
    names = sorted(strata)
    rng = np.random.default_rng(seed)
    sizes = [sum(len(v) for v in strata[g].values()) for g in names]
    test_counts = _apportion(sizes, n_test)
    valid_counts = _apportion([s - t for s, t in zip(sizes, test_counts)], n_valid)
    out: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    units = {g: [strata[g][f] for f in rng.permutation(sorted(strata[g])).tolist()] for g in names}
    # strata with the coarsest families first: what they cannot take is carried to the next
    order = sorted(range(len(names)), key=lambda k: -max(len(u) for u in units[names[k]]))
    for part, counts in (("test", test_counts), ("valid", valid_counts)):
        carry = 0
        for k in order:
            # every stratum keeps at least one structure of its share, whatever the carry
            taken, units[names[k]] = _take_families(units[names[k]], max(counts[k] + carry, min(counts[k], 1)))
            carry += counts[k] - len(taken)
            out[part] += taken
    out["train"] = [i for g in names for u in units[g] for i in u]
    for part, asked in (("test", n_test), ("valid", n_valid)):
        if asked and abs(len(out[part]) - asked) > max(2, asked // 2):
            sizes = sorted({len(u) for g in names for u in strata[g].values()}, reverse=True)
            raise DataFileError(
                f"cannot draw {asked} {part} structures without splitting a family of symmetry twins or "
                f"related structures (family sizes {sizes[:6]}; got {len(out[part])}): ask for another size"
            )
    if not out["train"]:
        raise DataFileError(f"{n_valid} validation and {n_test} test structures leave no training family")
    return {k: sorted(v) for k, v in out.items()}


def leaks(structures: Sequence[Structure], split: dict[str, list[int]]) -> list[tuple[str, str, int, int]]:
    """Pairs ``(part_a, part_b, i, j)`` of structures in the same family but different parts."""
    fam = families(structures)
    owner: dict[int, tuple[str, int]] = {}
    out = []
    for part in sorted(split):
        for i in split[part]:
            f = fam[i]
            if f in owner and owner[f][0] != part:
                out.append((owner[f][0], part, owner[f][1], i))
            owner.setdefault(f, (part, i))
    return out


def draw(pool: Sequence[T], n: int, seed: int) -> list[T]:
    """``n`` items of ``pool`` drawn with ``seed``, in pool order: how the learning-curve benchmarks
    draw a training set of size ``n`` (every strategy sees the same draw for a seed)."""
    if n < 1 or n > len(pool):
        raise DataFileError(f"cannot draw {n} training structures from {len(pool)}")
    order = np.random.default_rng(10_000 + seed).permutation(len(pool))[:n]
    return [pool[i] for i in sorted(order.tolist())]
