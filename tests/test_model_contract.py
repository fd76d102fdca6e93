"""The model contract: a second architecture registered by name goes through the same species map,
checkpoints, calculator and derivatives as DimeNet++, without any code outside ``crosstrain.model``
knowing it. The toy architecture here is a real (if simple) many-body potential: per-element
embeddings times a smooth radial basis, summed over each atom's neighbours, through a tanh."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from crosstrain.graph import Graph
from crosstrain.model import ARCHITECTURES, build_model
from crosstrain.model.base import AtomisticModel
from crosstrain.species import MAX_Z, SpeciesMap


@dataclass(frozen=True)
class ToyConfig:
    cutoff: float = 4.2
    width: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyConfig:
        return cls(**data)


class ToyNet(AtomisticModel):
    architecture = "toy"

    def __init__(self, config: ToyConfig, species: SpeciesMap) -> None:
        super().__init__(config, species)
        torch.manual_seed(0)
        self.emb = nn.Parameter(torch.randn(MAX_Z + 1, config.width, dtype=torch.float64))
        self.widths = nn.Parameter(torch.linspace(0.5, 2.0, config.width, dtype=torch.float64))
        self.readout = nn.Linear(config.width, 1, dtype=torch.float64)

    def network_energies(self, graph: Graph, vectors: torch.Tensor) -> torch.Tensor:
        r = torch.linalg.vector_norm(vectors, dim=-1)
        envelope = torch.where(r < self.cutoff, (1 - (r / self.cutoff) ** 2) ** 3, torch.zeros_like(r))
        basis = torch.exp(-self.widths * r.unsqueeze(-1)) * envelope.unsqueeze(-1)
        x = self.emb[graph.numbers[graph.neighbours]] * basis
        density = torch.zeros(graph.numbers.shape[0], x.shape[1], dtype=x.dtype).index_add(0, graph.centers, x)
        return self.readout(torch.tanh(density)).squeeze(-1)

    def copy_element_parameters(self, target: int, source: int) -> None:
        self.emb[target] = self.emb[source]

    def interaction_parameters(self) -> list[nn.Parameter]:
        return [self.widths]


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> AtomisticModel:
    monkeypatch.setitem(ARCHITECTURES, "toy", (__name__, "ToyNet", "ToyConfig"))
    assert sys.modules[__name__].ToyNet is ToyNet
    return build_model(ToyConfig(), SpeciesMap.from_elements(["Si"]))


def test_a_registered_architecture_maps_an_element_exactly(toy, si_atoms) -> None:
    from crosstrain.calculator import CrosstrainCalculator

    with torch.no_grad():
        toy.energy_shift[14], toy.energy_scale[14], toy.length_scale[14] = -4.5, 1.3, 1.02
    si = si_atoms.copy()
    si.calc = CrosstrainCalculator(toy)
    e_si, f_si = si.get_potential_energy(), si.get_forces()
    toy.copy_element("Ge", "Si")
    assert list(toy.species.symbols) == ["Si", "Ge"]
    ge = si_atoms.copy()
    ge.set_chemical_symbols(["Ge"] * len(ge))
    ge.calc = CrosstrainCalculator(toy)
    assert ge.get_potential_energy() == pytest.approx(e_si, abs=1e-10)  # every per-element tensor copied
    assert np.abs(ge.get_forces() - f_si).max() < 1e-10


def test_a_registered_architecture_round_trips_a_checkpoint_and_has_consistent_forces(toy, si_atoms, tmp_path) -> None:
    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.io.checkpoint import load_checkpoint, save_checkpoint

    path = save_checkpoint(toy, tmp_path / "toy.ckpt")
    loaded = load_checkpoint(path)
    assert loaded.meta.architecture == "toy" and type(loaded.model) is ToyNet
    a = si_atoms.copy()
    a.calc = CrosstrainCalculator(path)
    b = si_atoms.copy()
    b.calc = CrosstrainCalculator(toy)
    assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-10)
    forces, h = a.get_forces(), 1e-4
    for atom, axis in ((0, 0), (3, 2)):
        shifted = []
        for sign in (1, -1):
            c = si_atoms.copy()
            c.positions[atom, axis] += sign * h
            c.calc = CrosstrainCalculator(toy)
            shifted.append(c.get_potential_energy())
        assert forces[atom, axis] == pytest.approx(-(shifted[0] - shifted[1]) / (2 * h), abs=1e-6)


def test_unknown_architecture_is_one_clear_error() -> None:
    from crosstrain.errors import ConfigError
    from crosstrain.model import model_config

    with pytest.raises(ConfigError, match="unknown model architecture 'schnet' \\(known: dimenet\\+\\+, mace"):
        model_config({}, "schnet")
