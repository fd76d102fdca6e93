"""DimeNet++'s sum over triplets through spherical harmonics equals the sum over the listed triplets."""

import math

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from scipy.special import eval_legendre

from conftest import make_model, rattled_si
from crosstrain.graph import batch_graph, topology, triplets
from crosstrain.model.derivatives import predict
from crosstrain.model.dimenet.harmonics import neighbour_harmonics, spherical_harmonics, triplet_sum
from crosstrain.model.dimenet.layers import legendre
from crosstrain.structure import Structure

LMAX = 6


def unit_vectors(n, seed):
    v = torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return v / v.norm(dim=1, keepdim=True)


def test_harmonics_obey_the_addition_theorem():
    u, v = unit_vectors(500, 0), unit_vectors(500, 1)
    yu, yv = spherical_harmonics(u, LMAX), spherical_harmonics(v, LMAX)
    assert yu.shape == (500, (LMAX + 1) ** 2)
    cos = (u * v).sum(1).numpy()
    for l in range(LMAX + 1):
        block = slice(l * l, (l + 1) ** 2)
        kernel = (yu[:, block] * yv[:, block]).sum(1).numpy()
        np.testing.assert_allclose(kernel, (2 * l + 1) / (4 * math.pi) * eval_legendre(l, cos), atol=1e-13)
    # the poles and the axes, where sin θ = 0 or φ is undefined
    axes = torch.tensor([[0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    ya = spherical_harmonics(axes, LMAX)
    for l in range(LMAX + 1):
        block = slice(l * l, (l + 1) ** 2)
        np.testing.assert_allclose((ya[:, block] ** 2).sum(1).numpy(), (2 * l + 1) / (4 * math.pi), atol=1e-13)


def listed_triplet_sum(weights, norm, structure, topo, cutoff):
    """The definition: out[ji] = Σ over the listed triplets (kj, ji) of Σ_l norm_l P_l(cos θ) weights[l, kj]."""
    kj, ji = (torch.as_tensor(a) for a in triplets(topo, n_atoms=len(structure)))
    g = batch_graph([structure], topologies=[topo], dtype=torch.float64)
    vec = g.edge_vectors()
    unit = vec / vec.norm(dim=1, keepdim=True)
    cos = -(unit[ji] * unit[kj]).sum(1)
    angular = legendre(cos, weights.shape[0]) * norm  # (T, L)
    terms = (angular.t().unsqueeze(-1) * weights[:, kj]).sum(0)
    return weights.new_zeros(weights.shape[1:]).index_add(0, ji, terms), g, unit


CASES = {
    "primitive cell, many images": (bulk("Si", "diamond", a=5.431), 4.5),
    "rattled 8-atom cell": (rattled_si(amplitude=0.2), 4.0),
    "cluster": (Atoms("Si4", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.2, 0.3], [1.0, 1.0, 2.0]]), 3.5),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("drop_one", [False, True])
def test_the_harmonic_sum_is_the_triplet_sum(case, drop_one):
    """Also on a list cut by a mask (as the MD skin list and the scale search cut theirs)."""
    atoms, cutoff = CASES[case]
    structure = Structure.from_atoms(atoms, read_labels=False)
    topo = topology(structure, cutoff)
    if drop_one:
        mask = np.ones(topo.n_edges, bool)
        mask[1] = False
        topo = topo.keep(mask)
    gen = torch.Generator().manual_seed(3)
    weights = torch.randn(LMAX + 1, topo.n_edges, 5, dtype=torch.float64, generator=gen)
    norm = torch.sqrt((2 * torch.arange(LMAX + 1, dtype=torch.float64) + 1) / (4 * math.pi))
    expected, g, unit = listed_triplet_sum(weights, norm, structure, topo, cutoff)
    y = neighbour_harmonics(
        spherical_harmonics(unit, LMAX), g.edge_slot, n_atoms=len(structure), width=g.slots.numel(), lmax=LMAX
    )
    got = triplet_sum(weights, y, norm, edge_slot=g.edge_slot, reverse_slot=g.reverse_slot)
    assert float(expected.abs().max()) > 0.1
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_batch_of_structures_in_either_precision(dtype):
    """Several structures in one graph (atom, edge and slot offsets), among them a one-atom cell that
    sees itself through 18 images and a cluster with an isolated atom."""
    atoms = [
        bulk("Si", "diamond", a=5.431),
        Atoms("Si4", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.2, 0.3], [9.0, 9.0, 9.0]]),
        Atoms("Si", cell=[2.4, 2.4, 2.4], pbc=True),
    ]
    structures = [Structure.from_atoms(a, read_labels=False) for a in atoms]
    topologies = [topology(s, 3.5) for s in structures]
    graph = batch_graph(structures, topologies=topologies, dtype=dtype)
    vec = graph.edge_vectors()
    unit = vec / vec.norm(dim=1, keepdim=True)
    weights = torch.randn(LMAX + 1, vec.shape[0], 3, generator=torch.Generator().manual_seed(5)).to(dtype)
    norm = torch.sqrt((2 * torch.arange(LMAX + 1, dtype=dtype) + 1) / (4 * math.pi))
    y = neighbour_harmonics(
        spherical_harmonics(unit, LMAX),
        graph.edge_slot,
        n_atoms=graph.numbers.shape[0],
        width=graph.slots.numel(),
        lmax=LMAX,
    )
    got = triplet_sum(weights, y, norm, edge_slot=graph.edge_slot, reverse_slot=graph.reverse_slot)
    expected = []
    start = 0
    for s, t in zip(structures, topologies):
        part = slice(start, start + t.n_edges)
        expected.append(listed_triplet_sum(weights[:, part].double(), norm.double(), s, t, 3.5)[0])
        start += t.n_edges
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(got.double(), torch.cat(expected), atol=tol * 10, rtol=tol)


def test_derivatives_to_second_order():
    """Forces in a training loss need the second derivative, through the weights and the directions."""
    structure = Structure.from_atoms(bulk("Si", "diamond", a=5.431), read_labels=False)
    g = batch_graph([structure], cutoff=3.0, dtype=torch.float64)
    vec = g.edge_vectors().detach().requires_grad_(True)
    weights = torch.randn(3, vec.shape[0], 2, dtype=torch.float64, requires_grad=True)
    norm = torch.tensor([0.3, 0.5, 0.6], dtype=torch.float64)

    def f(vec, weights):
        y = spherical_harmonics(vec / vec.norm(dim=1, keepdim=True), 2)
        y = neighbour_harmonics(y, g.edge_slot, n_atoms=2, width=g.slots.numel(), lmax=2)
        return triplet_sum(weights, y, norm, edge_slot=g.edge_slot, reverse_slot=g.reverse_slot)

    assert torch.autograd.gradcheck(f, (vec, weights))
    assert torch.autograd.gradgradcheck(f, (vec, weights))


def dimenet_from_listed_triplets(model, graph, structure, topo):
    """DimeNet++'s energy written as the paper does, with the basis formed on every listed triplet."""
    kj, ji = (torch.as_tensor(a) for a in triplets(topo, n_atoms=len(structure)))
    vec = graph.edge_vectors(graph.positions.requires_grad_(True))
    dist = vec.norm(dim=1)
    unit = vec / dist.unsqueeze(1)
    cos = -(unit[ji] * unit[kj]).sum(1)
    sbf = (model.sbf.radial(dist)[kj] * model.sbf.angular(cos).unsqueeze(-1)).flatten(1)  # (T, L·N)
    rbf = model.rbf(dist)
    n = len(structure)
    m = model.embedding(graph.numbers, rbf, graph)
    out = model.outputs[0](m, rbf, graph, n)
    for block, output in zip(model.interactions, model.outputs[1:]):
        x_ji = block.act(block.lin_ji(m))
        x_kj = block.act(block.lin_down(block.act(block.lin_kj(m)) * block.lin_rbf2(block.lin_rbf1(rbf))))
        per_triplet = x_kj[kj] * block.lin_sbf2(block.lin_sbf1(sbf))
        h = x_ji + block.act(block.lin_up(torch.zeros_like(x_kj).index_add(0, ji, per_triplet)))
        for layer in block.before_skip:
            h = layer(h)
        h = block.act(block.lin(h)) + m
        for layer in block.after_skip:
            h = layer(h)
        m = h
        out = out + output(m, rbf, graph, n)
    energy = out.sum()
    return energy, -torch.autograd.grad(energy, graph.positions)[0]


def test_the_model_equals_dimenet_on_listed_triplets():
    model = make_model()
    atoms = rattled_si(amplitude=0.15)
    structure = Structure.from_atoms(atoms, read_labels=False)
    topo = topology(structure, model.cutoff)
    graph = batch_graph([structure], topologies=[topo], dtype=torch.float64)
    energy, forces = dimenet_from_listed_triplets(model, graph, structure, topo)
    ours = predict(model.set_fused(True), graph)
    # the model's energy is the network's times the element scale, plus the shift (make_model: 1.5, -4.14)
    expected = 1.5 * float(energy.detach()) + len(atoms) * (-4.0 - 0.14)
    np.testing.assert_allclose(float(ours.energy[0]), expected, atol=1e-10)
    torch.testing.assert_close(ours.forces, 1.5 * forces, atol=1e-10, rtol=0)


def test_fast_silu_derivatives_to_third_order():
    from crosstrain.model.dimenet.activations import FastSiLU

    x = torch.randn(30, dtype=torch.float64, requires_grad=True)
    f = FastSiLU()
    torch.testing.assert_close(f(x), torch.nn.functional.silu(x))
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))
    # third derivative against torch's own SiLU
    for fn in (f, torch.nn.functional.silu):
        (d1,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), x, create_graph=True)
        (d3,) = torch.autograd.grad(d2.sum(), x)
        if fn is f:
            ours = (d1, d2, d3)
        else:
            torch.testing.assert_close(ours, (d1, d2, d3))
