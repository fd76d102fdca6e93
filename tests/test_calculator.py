import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_stress
from ase.md.verlet import VelocityVerlet
from ase.units import fs

from crosstrain.calculator import CrosstrainCalculator
from crosstrain.errors import SpeciesError
from crosstrain.graph import batch_graph
from crosstrain.io.checkpoint import save_checkpoint
from crosstrain.model.derivatives import predict
from crosstrain.structure import Structure


def test_calculator_equals_model(model, si_atoms, tmp_path):
    g = batch_graph([Structure.from_atoms(si_atoms)], cutoff=model.cutoff, dtype=torch.float64)
    ref = predict(model, g, compute_stress=True)
    path = save_checkpoint(model, tmp_path / "m.ckpt")
    for calc in (CrosstrainCalculator(model), CrosstrainCalculator(path)):
        atoms = si_atoms.copy()
        atoms.calc = calc
        assert atoms.get_potential_energy() == pytest.approx(float(ref.energy[0]), abs=1e-12)
        assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(float(ref.energy[0]), abs=1e-12)
        np.testing.assert_allclose(atoms.get_forces(), ref.forces.numpy(), atol=1e-12)
        np.testing.assert_allclose(atoms.get_stress(voigt=False), ref.stress[0].numpy(), atol=1e-12)
        assert atoms.get_potential_energies().sum() == pytest.approx(float(ref.energy[0]), abs=1e-9)
    np.testing.assert_allclose(calculate_numerical_stress(atoms, eps=1e-6), atoms.get_stress(), atol=1e-7)


def test_unknown_element_is_named(model):
    atoms = Atoms("SiC", positions=[[0, 0, 0], [1.9, 0, 0]], cell=[6, 6, 6], pbc=True)
    atoms.calc = CrosstrainCalculator(model)
    with pytest.raises(SpeciesError, match=r"element\(s\) C .*model elements: Si"):
        atoms.get_potential_energy()


def test_nan_positions_and_cluster_stress(model):
    atoms = Atoms("Si2", positions=[[0, 0, 0], [np.nan, 0, 0]])
    atoms.calc = CrosstrainCalculator(model)
    with pytest.raises(ValueError, match="NaN"):
        atoms.get_potential_energy()
    cluster = Atoms("Si2", positions=[[0, 0, 0], [2.3, 0, 0]])
    cluster.calc = CrosstrainCalculator(model)
    assert np.isfinite(cluster.get_potential_energy())
    with pytest.raises(PropertyNotImplementedError):
        cluster.get_stress()


def test_cuda_request_without_gpu(model):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from crosstrain.errors import ConfigError

    with pytest.raises(ConfigError, match="no CUDA device"):  # a one-line CLI error, not a traceback
        CrosstrainCalculator(model, device="cuda")


def test_nve_md_conserves_energy(model, si_atoms):
    si_atoms.calc = CrosstrainCalculator(model)
    dyn = VelocityVerlet(si_atoms, timestep=0.5 * fs)
    e0 = si_atoms.get_total_energy()
    dyn.run(20)
    assert abs(si_atoms.get_total_energy() - e0) < 1e-3 * len(si_atoms)


def test_skin_list_md_equals_fresh_lists(model, si_atoms):
    """NVE with the Verlet-skin list follows NVE with a fresh neighbour search every step."""
    runs = []
    for skin in (0.5, 0.0):  # skin 0: a new search at every step
        atoms = si_atoms.copy()
        atoms.calc = CrosstrainCalculator(model, skin=skin)
        VelocityVerlet(atoms, timestep=2 * fs).run(15)
        runs.append((atoms.positions.copy(), atoms.calc.neighbours.builds))
    np.testing.assert_allclose(runs[0][0], runs[1][0], atol=1e-10)
    assert runs[0][1] < runs[1][1]


def test_compiled_calculator_path_equals_eager(model, si_atoms, monkeypatch):
    """``compile=True`` (torch.compile replaced by the eager function here, to stay fast) gives the
    eager energies and forces; stress and per-atom energies still come from the eager model."""
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    eager, fast = si_atoms.copy(), si_atoms.copy()
    eager.calc, fast.calc = CrosstrainCalculator(model), CrosstrainCalculator(model, compile=True)
    assert fast.get_potential_energy() == pytest.approx(eager.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(fast.get_forces(), eager.get_forces(), atol=1e-10)
    np.testing.assert_allclose(fast.get_stress(), eager.get_stress(), atol=1e-12)
    assert fast.get_potential_energies().sum() == pytest.approx(eager.get_potential_energy(), abs=1e-9)
    assert all(getattr(m, "fused", True) for m in model.modules())  # the caller's model keeps its kernels


def test_compiled_stress_path_equals_eager(model, si_atoms, monkeypatch):
    """``compile_stress=True`` (torch.compile replaced by the eager function here) gives the eager
    energy, forces and stress of a sheared cell from one function, without the eager model."""
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    eager, fast = si_atoms.copy(), si_atoms.copy()
    eager.calc = CrosstrainCalculator(model)
    fast.calc = CrosstrainCalculator(model, compile=True, compile_stress=True)
    calls = []
    fast.calc.eager_model = lambda *a, **k: calls.append(1)  # must not be used for energy, forces, stress
    stress = eager.get_stress()
    assert np.abs(stress[3:]).max() > 1e-4  # off-diagonal terms are tested
    np.testing.assert_allclose(fast.get_stress(), stress, atol=1e-12)
    assert fast.get_potential_energy() == pytest.approx(eager.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(fast.get_forces(), eager.get_forces(), atol=1e-10)
    assert not calls


def test_calculator_stays_eager_where_compile_fails(model, si_atoms, broken_compile):
    atoms = si_atoms.copy()
    atoms.calc = CrosstrainCalculator(model, compile=True)
    with pytest.warns(UserWarning, match="stays eager"):
        energy = atoms.get_potential_energy()
    assert np.isfinite(energy) and atoms.calc.compiled is None


def test_moved_atoms_and_changed_cell_are_recomputed(model, si_atoms):
    """The fast state check: a move is seen as one, a new cell goes through ASE's full check."""
    calc = CrosstrainCalculator(model)
    si_atoms.calc = calc
    e0 = si_atoms.get_potential_energy()
    assert calc.check_state(si_atoms) == []
    si_atoms.positions[0, 0] += 0.05
    assert calc.check_state(si_atoms) == ["positions"]
    e1 = si_atoms.get_potential_energy()
    strained = si_atoms.copy()
    strained.set_cell(si_atoms.cell * 1.01, scale_atoms=True)
    assert "cell" in calc.check_state(strained)
    assert e1 != e0 and CrosstrainCalculator(model).get_potential_energy(si_atoms) == pytest.approx(e1)
