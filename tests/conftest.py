"""Shared fixtures: tiny float64 models with non-zero outputs and small silicon cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from crosstrain.model.dimenet import DimeNetPP
from crosstrain.model.dimenet.config import DimeNetConfig
from crosstrain.species import SpeciesMap
from crosstrain.structure import Structure

TINY = DimeNetConfig(
    hidden_channels=16,
    out_emb_channels=16,
    int_emb_size=8,
    basis_emb_size=4,
    num_blocks=2,
    num_spherical=3,
    num_radial=4,
    cutoff=4.0,
    output_init="glorot",  # an untrained DimeNet++ with zero output init predicts exactly zero
)


def make_model(elements=("Si",), seed: int = 0, config: DimeNetConfig = TINY) -> DimeNetPP:
    torch.manual_seed(seed)
    model = DimeNetPP(config, SpeciesMap.from_elements(elements)).to(torch.float64)
    with torch.no_grad():  # non-trivial per-element shifts and scales
        for z in model.species:
            model.energy_shift[z] = -4.0 - 0.01 * z
            model.energy_scale[z] = 1.5
    return model.eval()


@pytest.fixture
def model() -> DimeNetPP:
    return make_model()


def rattled_si(a: float = 5.431, amplitude: float = 0.08, seed: int = 1, repeat=(1, 1, 1)):
    atoms = bulk("Si", "diamond", a=a, cubic=True) * repeat
    atoms.rattle(amplitude, seed=seed)
    return atoms


@pytest.fixture
def si_atoms():
    atoms = rattled_si()
    # a slightly sheared cell, so stress tests see off-diagonal terms
    cell = np.array(atoms.cell) + np.array([[0.0, 0.1, 0.0], [0.05, 0.0, 0.0], [0.0, 0.0, 0.1]])
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


@pytest.fixture
def si_structure(si_atoms) -> Structure:
    return Structure.from_atoms(si_atoms)


#: a two-temperature SW protocol small enough for tests (LAMMPS, seconds)
TINY_SW_PROTOCOL = {
    "temperatures": [600, 1500],
    "per_temperature": 6,
    "equilibration_ps": 0.2,
    "interval_ps": 0.05,
    "n_train": 3,
    "n_valid": 1,
    "n_test": 2,
}


@pytest.fixture(scope="session")
def tiny_sw_data(tmp_path_factory):
    """Si and Ge SW data (real LAMMPS MD) with the tiny protocol, built once per test session."""
    from crosstrain.data.sw import SWProtocol
    from crosstrain.data.sw_dataset import build_sw_dataset

    out = tmp_path_factory.mktemp("tiny_sw") / "data"
    build_sw_dataset(out, ("Si", "Ge"), SWProtocol(**TINY_SW_PROTOCOL), progress=False)
    return out


@pytest.fixture
def broken_compile(monkeypatch):
    """torch.compile that fails at the first call, as on a machine without a C++ compiler."""
    import torch

    def broken(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler found")

        return run

    monkeypatch.setattr(torch, "compile", broken)
