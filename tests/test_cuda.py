"""GPU readiness: the model, a training run, the calculator and MD on CUDA agree with the CPU.

These run wherever torch sees a CUDA device, in the default ``python -m pytest``; elsewhere they are
skipped with the reason (a CPU-only torch build, or a CUDA build that sees no device), which
``-ra`` prints. ``tests/test_calculator.py`` checks that asking for CUDA without one is a clear error.
"""

import numpy as np
import pytest
import torch

from conftest import make_model, rattled_si
from crosstrain.calculator import CrosstrainCalculator


def _why_no_cuda() -> str:
    if torch.version.cuda is None:
        return f"needs a CUDA device: torch {torch.__version__} is a CPU-only build (docs/how-to/gpu.md)"
    return f"needs a CUDA device: torch {torch.__version__} (CUDA {torch.version.cuda}) sees none"


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=_why_no_cuda())


@cuda
def test_calculator_on_cuda_equals_cpu():
    atoms = rattled_si()
    model = make_model()
    cpu = CrosstrainCalculator(model, device="cpu")
    gpu = CrosstrainCalculator(make_model(), device="cuda")
    atoms.calc = cpu
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = gpu
    assert atoms.get_potential_energy() == pytest.approx(e, abs=1e-8)
    assert np.allclose(atoms.get_forces(), f, atol=1e-8) and np.allclose(atoms.get_stress(), s, atol=1e-8)


@cuda
def test_training_and_md_on_cuda(tmp_path):
    from ase.md.verlet import VelocityVerlet

    from crosstrain.config import config_from_dict
    from crosstrain.structure import Structure
    from crosstrain.train.pipeline import fit

    reference = CrosstrainCalculator(make_model(seed=3))
    data = []
    for k in range(4):
        atoms = rattled_si(seed=k)
        atoms.calc = reference
        data.append(Structure.from_atoms(atoms))
    train = {"epochs": 2, "batch_size": 2, "device": "cuda", "dtype": "float64"}
    config = config_from_dict({"model": {"preset": "cpu", "cutoff": 4.0}, "train": train})
    result, _ = fit(config, data, tmp_path / "m.ckpt", progress=False)
    assert next(result.model.parameters()).device.type == "cuda"
    atoms = rattled_si()
    atoms.calc = CrosstrainCalculator(tmp_path / "m.ckpt", device="cuda")
    VelocityVerlet(atoms, timestep=1.0).run(5)
    assert np.isfinite(atoms.get_potential_energy())
