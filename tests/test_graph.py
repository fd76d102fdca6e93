import itertools

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from crosstrain.errors import StructureError
from crosstrain.graph import SkinNeighbours, batch_graph, min_pair_distance, neighbour_layout, topology, triplets
from crosstrain.structure import Structure


def brute_force_triplets(centers, neighbours, shifts):
    out = set()
    for ji, kj in itertools.product(range(len(centers)), repeat=2):
        if centers[kj] != neighbours[ji]:
            continue
        if neighbours[kj] == centers[ji] and np.all(shifts[kj] == -shifts[ji]):
            continue
        out.add((kj, ji))
    return out


@pytest.mark.parametrize("cutoff", [2.5, 4.0, 6.0])
def test_neighbours_match_ase(si_structure, cutoff):
    topo = topology(si_structure, cutoff)
    atoms = si_structure.to_atoms()
    i, j, S = neighbor_list("ijS", atoms, cutoff)
    ours = sorted(zip(topo.centers, topo.neighbours, map(tuple, topo.shifts)))
    ref = sorted(zip(i, j, map(tuple, S)))
    assert ours == ref


def test_min_pair_distance_matches_ase():
    rng = np.random.default_rng(3)
    small = bulk("Si", "diamond", a=5.43)  # 2 atoms: the nearest pairs are periodic images
    cluster = Atoms("Si3", positions=[[0, 0, 0], [2.1, 0, 0], [0, 5, 0]])
    for atoms in (bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2), small, cluster):
        atoms.rattle(0.1, rng=rng)
        ref = neighbor_list("d", atoms, 3.0).min()
        assert min_pair_distance(atoms.positions, atoms.cell.array, atoms.pbc, cutoff=3.0) == pytest.approx(
            ref, abs=1e-12
        )
    far = Atoms("Si2", positions=[[0, 0, 0], [4.0, 0, 0]])
    assert min_pair_distance(far.positions, far.cell.array, far.pbc, cutoff=3.0) == np.inf


def test_triplets_match_brute_force_in_small_periodic_cell():
    # 2-atom primitive cell with a long cutoff: many periodic images of the same atoms
    s = Structure.from_atoms(bulk("Si", "diamond", a=5.431))
    topo = topology(s, 4.0)
    kj, ji = triplets(topo, n_atoms=2)
    assert set(zip(kj, ji)) == brute_force_triplets(topo.centers, topo.neighbours, topo.shifts)
    assert kj.size == len(brute_force_triplets(topo.centers, topo.neighbours, topo.shifts))


def test_every_edge_knows_its_reverse():
    s = Structure.from_atoms(bulk("Si", "diamond", a=5.431))  # many images of the same two atoms
    topo = topology(s, 4.0)
    rev = topo.reverse
    assert (rev >= 0).all() and (rev[rev] == np.arange(topo.n_edges)).all() and (rev != np.arange(topo.n_edges)).all()
    assert (topo.centers[rev] == topo.neighbours).all() and (topo.shifts[rev] == -topo.shifts).all()
    # a pair kept one way only (as float rounding at the cutoff could do) is dropped both ways
    mask = np.ones(topo.n_edges, bool)
    mask[0] = False
    kept = topo.keep(mask)
    assert kept.n_edges == topo.n_edges - 2
    assert (kept.centers[kept.reverse] == kept.neighbours).all() and (kept.shifts[kept.reverse] == -kept.shifts).all()
    with pytest.raises(ValueError, match="symmetric"):
        neighbour_layout(topo.centers[mask], np.where(rev[mask] > 0, rev[mask] - 1, -1), n_atoms=2)


def test_neighbour_layout_slots():
    """Every edge has its own slot in its centre's row, and its message slot is its reverse's slot."""
    small = Structure.from_atoms(bulk("Si", "diamond", a=5.431))
    cluster = Structure.from_atoms(Atoms("Si3", positions=[[0, 0, 0], [0, 0, 2.3], [10, 10, 10]]))
    g = batch_graph([small, cluster], cutoff=4.0)
    width, n_atoms = g.slots.numel(), g.positions.shape[0]
    slot = g.edge_slot.numpy()
    assert len(set(slot)) == slot.size and (slot // width == g.centers.numpy()).all()
    topo = topology(small, 4.0)
    rev = np.concatenate([topo.reverse, topology(cluster, 4.0).reverse + topo.n_edges])
    assert (g.reverse_slot.numpy() == slot[rev]).all()
    assert width == max(np.bincount(g.centers.numpy()))
    assert n_atoms == 5


def test_paper_cutoff_counts_for_64_atom_diamond():
    s = Structure.from_atoms(bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2))
    topo = topology(s, 5.0)
    assert topo.n_edges == 64 * 28  # 4 + 12 + 12 neighbours within 5 Å
    assert triplets(topo, n_atoms=64)[0].size == 64 * 28 * 27


def test_cluster_and_isolated_atom():
    atoms = Atoms("Si3", positions=[[0, 0, 0], [0, 0, 2.3], [10, 10, 10]])
    topo = topology(Structure.from_atoms(atoms), 3.0)
    assert topo.n_edges == 2 and triplets(topo, n_atoms=3)[0].size == 0
    assert 2 not in topo.centers


def test_overlapping_atoms_are_an_error():
    atoms = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 1e-5]])
    with pytest.raises(StructureError, match="overlap"):
        topology(Structure.from_atoms(atoms, source="x.extxyz record 2"), 3.0)


def test_triplets_of_empty_list():
    empty = Structure.from_atoms(Atoms("Si2", positions=[[0, 0, 0], [0, 0, 9]]))
    topo = topology(empty, 3.0)
    kj, ji = triplets(topo, n_atoms=2)
    assert kj.size == 0 and ji.size == 0 and topo.reverse.size == 0
    g = batch_graph([empty], topologies=[topo])
    assert g.slots.numel() == 0 and g.edge_slot.numel() == 0


def test_batching_offsets(si_structure):
    small = Structure.from_atoms(bulk("Si", "diamond", a=5.431))
    g = batch_graph([small, si_structure], cutoff=4.0)
    t0, t1 = topology(small, 4.0), topology(si_structure, 4.0)
    assert g.positions.shape[0] == 2 + 8 and g.cell.shape == (2, 3, 3)
    assert g.centers.shape[0] == t0.n_edges + t1.n_edges
    assert int(g.centers[t0.n_edges :].min()) >= 2  # second structure's atoms are offset
    assert int(g.edge_slot[t0.n_edges :].min()) >= 2 * g.slots.numel()  # ... and so are their slots
    vec = g.edge_vectors()
    assert float(vec.norm(dim=1).max()) < 4.0


def _pairs(topo):
    edges = list(zip(topo.centers, topo.neighbours, map(tuple, topo.shifts)))
    reverses = {(edges[e], edges[r]) for e, r in enumerate(topo.reverse)}
    return sorted(edges), reverses


def test_skin_list_gives_the_fresh_topology_along_a_hot_trajectory():
    """A random walk far beyond half the skin: every step's pairs and reverses are exactly those of
    a fresh neighbour search, the list is rebuilt only after large moves, and a new cell rebuilds it."""
    rng = np.random.default_rng(0)
    atoms = bulk("Si", "diamond", a=5.431, cubic=True)
    skin = SkinNeighbours(cutoff=4.0, skin=0.6)
    for _ in range(40):
        atoms.positions += rng.normal(scale=0.04, size=atoms.positions.shape)
        s = Structure.from_atoms(atoms, read_labels=False)
        assert _pairs(skin(s)) == _pairs(topology(s, 4.0))
    assert 1 < skin.builds < 40  # ~0.07 Å per step per atom: rebuilt every few steps, not every one
    last = skin(s)
    # moves too small for a pair to cross the cutoff: the same topology object again, still exact
    atoms.positions += rng.normal(scale=1e-7, size=atoms.positions.shape)
    s = Structure.from_atoms(atoms, read_labels=False)
    assert skin(s) is last and _pairs(last) == _pairs(topology(s, 4.0))
    builds = skin.builds
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    s = Structure.from_atoms(atoms, read_labels=False)
    assert _pairs(skin(s)) == _pairs(topology(s, 4.0)) and skin.builds == builds + 1
    with pytest.raises(StructureError, match="overlap"):
        atoms.positions[1] = atoms.positions[0] + 1e-5
        skin(Structure.from_atoms(atoms, read_labels=False))
