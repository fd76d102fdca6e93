"""ASE calculator: the bridge from a crosstrain model to MD, EOS, phonopy and elastic constants."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from crosstrain.errors import ConfigError
from crosstrain.graph import SkinNeighbours, batch_graph
from crosstrain.io.checkpoint import Checkpoint, load_checkpoint
from crosstrain.model.base import AtomisticModel
from crosstrain.model.derivatives import predict
from crosstrain.structure import Structure


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"`` by default; ``"cuda"`` only when asked for and available (else a clear error)."""
    try:
        dev = torch.device(device or "cpu")
    except RuntimeError:
        raise ConfigError(f"device {device!r} is not a device torch knows (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was requested but torch sees no CUDA device (use device cpu)")
    return dev


class CrosstrainCalculator(Calculator):
    """ASE calculator for a crosstrain model or checkpoint file.

    Implements ``energy``, ``free_energy`` (equal to the energy), ``energies`` (per atom),
    ``forces`` and, for fully periodic cells, ``stress`` (ASE's Voigt order, eV/Å³).

    ``compile=True`` computes energy and forces (what MD asks for) through ``torch.compile``
    (:mod:`crosstrain.model.compiled`, symbolic sizes: one compile of 1-2 minutes per process,
    then about twice the eager speed on a CPU); stress and per-atom energies stay eager, unless
    ``compile_stress=True`` compiles energy, forces and stress together (for MD that needs the
    virial every step, as LAMMPS's pressure does). If
    torch.compile cannot build on the machine, the calculator warns once and stays eager.

    Neighbour pairs come from a Verlet list with a ``skin`` (Å; :class:`crosstrain.graph.SkinNeighbours`)
    that is built again only when an atom has moved more than half the skin, so most MD steps
    skip the neighbour search. The pairs are those a fresh search finds (up to rounding at the cutoff).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        model: AtomisticModel | str | os.PathLike[str],
        device: str | torch.device | None = None,
        compile: bool = False,
        skin: float = 0.5,
        compile_stress: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.device = resolve_device(device)
        self.checkpoint: Checkpoint | None = None
        if isinstance(model, (str, os.PathLike)):
            self.checkpoint = load_checkpoint(model, device=self.device)
            model = self.checkpoint.model
        self.model = model.to(self.device).eval()
        self.neighbours = SkinNeighbours(self.model.neighbour_cutoff, skin)
        self.compiled: Callable[..., Any] | None = None
        self.compiled_stress = False
        if compile:
            from crosstrain.model.compiled import energy_forces_fn

            self.eager_model = self.model
            self.model = copy.deepcopy(self.model)  # the compiled copy runs unfused; eager keeps the fast kernels
            if compile_stress:  # MD that needs the virial every step (LAMMPS): one compile with stress
                from crosstrain.model.compiled import energy_forces_stress_fn

                self.compiled = energy_forces_stress_fn(self.model, compile=True)
            else:
                self.compiled = energy_forces_fn(self.model, compile=True)
            self.compiled_stress = compile_stress

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        """ASE's check, after a fast exact one: MD asks for the forces several times a step and
        moves only the positions, and ASE's tolerant comparison of every array cost a noticeable
        share of a compiled 64-atom step. Same atoms, cell and periodicity: unchanged, or only the positions
        (the model reads nothing else of an ``Atoms``, so initial charges and moments are ignored).
        The fast path compares exactly, so a looser ``tol`` can only cost a recomputation."""
        old = self.atoms
        if (
            old is not None
            and len(old) == len(atoms)
            and np.array_equal(old.numbers, atoms.numbers)
            and np.array_equal(old.cell.array, atoms.cell.array)
            and np.array_equal(old.pbc, atoms.pbc)
        ):
            # an MD step moves only the atoms: say so without ASE's tolerant comparison (~0.3 ms)
            return [] if np.array_equal(old.positions, atoms.positions) else ["positions"]
        return list(super().check_state(atoms, tol))

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        structure = Structure.from_atoms(self.atoms, source="atoms", read_labels=False)
        self.model.species.check(structure.numbers, source="atoms")
        topology = self.neighbours(structure)
        graph = batch_graph([structure], topologies=[topology], dtype=self.model.dtype, device=self.device)
        want_stress = structure.periodic and "stress" in (properties or [])
        compiled_ok = (
            self.compiled is not None
            and want_stress in (False, self.compiled_stress)
            and "energies" not in (properties or [])
        )
        if compiled_ok and self._calculate_compiled(graph, want_stress):
            return
        model = self.eager_model if self.compiled is not None else self.model
        pred = predict(model, graph, compute_forces=True, compute_stress=want_stress)
        energy = float(pred.energy[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": pred.atom_energies.cpu().numpy().astype(np.float64) if pred.atom_energies is not None else None,
            "forces": pred.forces.cpu().numpy().astype(np.float64),
        }
        if pred.stress is not None:
            self.results["stress"] = full_3x3_to_voigt_6_stress(pred.stress[0].cpu().numpy().astype(np.float64))

    def _calculate_compiled(self, graph: Any, want_stress: bool = False) -> bool:
        if self.compiled is None:
            return False
        try:
            energies, forces, *stress = self.compiled(graph)
        except Exception as exc:  # inductor/dynamo failures have many types
            import warnings

            warnings.warn(
                f"compile: torch.compile failed ({type(exc).__name__}); the calculator stays eager", stacklevel=3
            )
            self.compiled, self.model = None, self.eager_model
            return False
        energy = float(energies[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces.detach().cpu().numpy().astype(np.float64),
        }
        if stress and want_stress:
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress[0][0].detach().cpu().numpy().astype(np.float64))
        return True
