"""Physics invariants of the DimeNet++ potential, on a perturbed (non-zero) float64 model."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from conftest import make_model, rattled_si
from crosstrain.graph import batch_graph
from crosstrain.model.derivatives import predict
from crosstrain.structure import Structure


def evaluate(model, atoms_list, stress=False):
    structures = [Structure.from_atoms(a, read_labels=False) for a in atoms_list]
    g = batch_graph(structures, cutoff=model.cutoff, dtype=torch.float64)
    return predict(model, g, compute_stress=stress)


def energy(model, atoms):
    return float(evaluate(model, [atoms]).energy[0])


def test_forces_match_finite_differences(model, si_atoms):
    pred = evaluate(model, [si_atoms])
    assert float(pred.forces.abs().max()) > 1e-2  # the model is not trivially flat
    h = 1e-5
    numeric = np.zeros((len(si_atoms), 3))
    for a in range(len(si_atoms)):
        for c in range(3):
            plus, minus = si_atoms.copy(), si_atoms.copy()
            plus.positions[a, c] += h
            minus.positions[a, c] -= h
            numeric[a, c] = -(energy(model, plus) - energy(model, minus)) / (2 * h)
    np.testing.assert_allclose(pred.forces.numpy(), numeric, atol=1e-6)


def test_stress_matches_finite_differences(model, si_atoms):
    pred = evaluate(model, [si_atoms], stress=True)
    stress = pred.stress[0].numpy()
    assert np.abs(stress).max() > 1e-3
    h = 1e-6
    numeric = np.zeros((3, 3))
    vol = si_atoms.get_volume()
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = eps[b, a] = h / 2 if a != b else h
            energies = []
            for sign in (1, -1):
                strained = si_atoms.copy()
                strained.set_cell(np.array(si_atoms.cell) @ (np.eye(3) + sign * eps), scale_atoms=True)
                energies.append(energy(model, strained))
            numeric[a, b] = (energies[0] - energies[1]) / (2 * h) / vol
    np.testing.assert_allclose(stress, numeric, atol=1e-7)
    np.testing.assert_allclose(stress, stress.T, atol=1e-12)


def test_rotation_translation_permutation_invariance(model, si_atoms):
    ref = evaluate(model, [si_atoms])
    rot = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    rotated = si_atoms.copy()
    rotated.set_cell(np.array(si_atoms.cell) @ rot.T, scale_atoms=False)
    rotated.positions = si_atoms.positions @ rot.T
    r = evaluate(model, [rotated])
    assert float(r.energy[0]) == pytest.approx(float(ref.energy[0]), abs=1e-9)
    np.testing.assert_allclose(r.forces.numpy(), ref.forces.numpy() @ rot.T, atol=1e-9)

    moved = si_atoms.copy()
    moved.positions += [0.37, -1.2, 2.9]  # includes wrapping across the cell
    moved.wrap()
    t = evaluate(model, [moved])
    assert float(t.energy[0]) == pytest.approx(float(ref.energy[0]), abs=1e-9)
    np.testing.assert_allclose(t.forces.numpy(), ref.forces.numpy(), atol=1e-9)

    perm = np.random.default_rng(3).permutation(len(si_atoms))
    p = evaluate(model, [si_atoms[perm]])
    assert float(p.energy[0]) == pytest.approx(float(ref.energy[0]), abs=1e-9)
    np.testing.assert_allclose(p.forces.numpy(), ref.forces.numpy()[perm], atol=1e-9)


def test_supercell_is_extensive(model, si_atoms):
    e1 = energy(model, si_atoms)
    big = si_atoms * (2, 2, 2)
    pred = evaluate(model, [big], stress=True)
    assert float(pred.energy[0]) == pytest.approx(8 * e1, rel=1e-10)
    small = evaluate(model, [si_atoms], stress=True)
    np.testing.assert_allclose(pred.stress[0].numpy(), small.stress[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(pred.forces.numpy()[: len(si_atoms)], small.forces.numpy(), atol=1e-9)


def test_batching_equals_one_by_one(model):
    systems = [rattled_si(seed=1), bulk("Si", "diamond", a=5.5), rattled_si(seed=2, repeat=(1, 1, 2))]
    batched = evaluate(model, systems, stress=True)
    offset = 0
    for k, atoms in enumerate(systems):
        single = evaluate(model, [atoms], stress=True)
        n = len(atoms)
        assert float(batched.energy[k]) == pytest.approx(float(single.energy[0]), abs=1e-9)
        np.testing.assert_allclose(batched.forces[offset : offset + n].numpy(), single.forces.numpy(), atol=1e-10)
        np.testing.assert_allclose(batched.stress[k].numpy(), single.stress[0].numpy(), atol=1e-10)
        offset += n


def test_cluster_and_isolated_atom_energies(model):
    cluster = Atoms("Si4", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.3, 0], [0.2, 0.3, 2.2]])
    pred = evaluate(model, [cluster])
    assert torch.isfinite(pred.forces).all()
    assert float(pred.forces.sum(0).abs().max()) < 1e-10  # no net force on a free cluster
    lone = Atoms("Si", positions=[[0, 0, 0]])
    lone_pred = evaluate(model, [lone])
    assert torch.isfinite(lone_pred.energy).all() and float(lone_pred.forces.abs().max()) == 0.0


def test_energy_is_smooth_across_the_cutoff(model):
    def dimer(r):
        return Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]])

    far = energy(model, dimer(model.cutoff + 0.5))
    just_inside = energy(model, dimer(model.cutoff - 1e-4))
    assert just_inside == pytest.approx(far, abs=1e-8)


def test_copy_element_gives_identical_chemistry():
    model = make_model(elements=("Si",))
    model.copy_element("Ge", "Si")
    assert model.species.symbols == ["Si", "Ge"]
    si = rattled_si()
    ge = si.copy()
    ge.set_chemical_symbols(["Ge"] * len(ge))
    a, b = evaluate(model, [si]), evaluate(model, [ge])
    assert float(a.energy[0]) == pytest.approx(float(b.energy[0]), abs=1e-12)
    np.testing.assert_allclose(a.forces.numpy(), b.forces.numpy(), atol=1e-12)


def test_fused_and_plain_kernels_agree(model, si_atoms):
    fused = evaluate(model, [si_atoms], stress=True)
    model.set_fused(False)
    plain = evaluate(model, [si_atoms], stress=True)
    model.set_fused(True)
    assert float(plain.energy[0]) == pytest.approx(float(fused.energy[0]), abs=1e-10)
    np.testing.assert_allclose(plain.forces.numpy(), fused.forces.numpy(), atol=1e-10)
    np.testing.assert_allclose(plain.stress.numpy(), fused.stress.numpy(), atol=1e-10)


def test_fused_and_plain_kernels_give_the_same_training_gradients(model, si_atoms):
    structure = Structure.from_atoms(si_atoms, read_labels=False)
    graph = batch_graph([structure], cutoff=model.cutoff, dtype=torch.float64)
    grads = []
    for fused in (True, False):
        model.set_fused(fused)
        model.zero_grad()
        pred = predict(model, graph, create_graph=True)
        pred.forces.pow(2).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    model.set_fused(True)
    assert any(float(g.abs().max()) > 0 for g in grads[0])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_functional_force_loss_matches_autograd(model, si_atoms):
    """The torch.func path (used compiled for speed) gives the autograd loss and gradients."""
    from crosstrain.model.compiled import energy_forces_fn, force_loss_step

    structure = Structure.from_atoms(si_atoms, read_labels=False)
    graph = batch_graph([structure], cutoff=model.cutoff, dtype=torch.float64)
    reference = torch.randn(len(si_atoms), 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    model.zero_grad()
    pred = predict(model, graph, create_graph=True)
    loss = (pred.forces - reference).pow(2).sum()
    loss.backward()
    value, grads = force_loss_step(model, compile=False)(graph, reference)
    energy, forces = energy_forces_fn(model, compile=False)(graph)
    model.set_fused(True)
    assert float(value) == pytest.approx(float(loss.detach()), rel=1e-12)
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-9, atol=1e-11)
    assert float(energy.detach()) == pytest.approx(float(pred.energy[0]), abs=1e-10)
    torch.testing.assert_close(forces, pred.forces.detach())


@pytest.mark.slow
def test_compiled_force_loss_matches_eager(model, si_atoms):
    """torch.compile of the functional step (1-2 minutes to compile; run with -m slow)."""
    from crosstrain.model.compiled import energy_forces_fn, force_loss_step

    graph = batch_graph([Structure.from_atoms(si_atoms, read_labels=False)], cutoff=model.cutoff, dtype=torch.float64)
    reference = torch.zeros(len(si_atoms), 3, dtype=torch.float64)
    eager_value, eager_grads = force_loss_step(model, compile=False)(graph, reference)
    value, grads = force_loss_step(model, compile=True, dynamic=False)(graph, reference)
    energy, forces = energy_forces_fn(model, compile=True, dynamic=False)(graph)
    model.set_fused(True)
    assert float(value) == pytest.approx(float(eager_value), rel=1e-9)
    for name in grads:
        torch.testing.assert_close(grads[name], eager_grads[name], rtol=1e-7, atol=1e-9)
    assert torch.isfinite(energy).all() and torch.isfinite(forces).all()
