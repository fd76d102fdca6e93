"""The core smoke run behind ``crosstrain demo --smoke``.

Builds a fresh DimeNet++ model, evaluates a rattled diamond silicon cell through the ASE
calculator, checks forces against finite differences and saves the checkpoint. The full demo
(data, Si model, Ge transfer vs scratch, report) is :mod:`crosstrain.workflows.demo`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces

from crosstrain.calculator import CrosstrainCalculator
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import save_checkpoint
from crosstrain.model import build_model, preset
from crosstrain.schema import JSONRecord
from crosstrain.species import SpeciesMap


@dataclass(frozen=True)
class SmokeResult(JSONRecord):
    """What the smoke run measured (``smoke.json``): energy, forces and stress of a fresh model on
    a rattled cell, the forces' largest difference to finite differences, the net force, the time."""

    SCHEMA_VERSION: ClassVar[int] = 1

    preset: str
    n_atoms: int
    energy_eV: float
    forces_eV_per_A: tuple[tuple[float, ...], ...]
    stress_eV_per_A3: tuple[float, ...]  # Voigt
    max_force_fd_error_eV_per_A: float
    net_force_eV_per_A: float
    seconds_energy_forces_stress: float
    checkpoint: str


def smoke(out_dir: str | Path = "crosstrain-demo", preset_name: str = "cpu", seed: int = 0) -> SmokeResult:
    """Evaluate a fresh model on a rattled 8-atom Si cell; returns (and saves) the numbers."""
    out = Path(out_dir)
    torch.manual_seed(seed)
    config = preset(preset_name).replace(output_init="glorot")  # non-zero output for a fresh model
    model = build_model(config, SpeciesMap.from_elements(["Si"])).to(torch.float64)
    ckpt = save_checkpoint(model, out / "fresh_si.ckpt", training={"note": "untrained smoke model"})
    atoms = bulk("Si", "diamond", a=5.431, cubic=True)
    atoms.rattle(0.05, seed=seed)
    atoms.calc = CrosstrainCalculator(ckpt)
    t0 = time.perf_counter()
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    elapsed = time.perf_counter() - t0
    numeric = calculate_numerical_forces(atoms, eps=1e-4)
    result = SmokeResult(
        preset=preset_name,
        n_atoms=len(atoms),
        energy_eV=float(energy),
        forces_eV_per_A=tuple(tuple(float(v) for v in row) for row in forces),
        stress_eV_per_A3=tuple(float(v) for v in stress),
        max_force_fd_error_eV_per_A=float(np.abs(forces - numeric).max()),
        net_force_eV_per_A=float(np.abs(forces.sum(axis=0)).max()),
        seconds_energy_forces_stress=elapsed,
        checkpoint=str(ckpt),
    )
    write_text(out / "smoke.json", json.dumps(result.to_json(), indent=2))
    return result


def print_smoke(result: SmokeResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]crosstrain smoke run[/bold]: fresh (untrained) '{result.preset}' DimeNet++ on a rattled "
        f"{result.n_atoms}-atom diamond Si cell; the numbers show the machinery, not physics."
    )
    console.print(f"energy: {result.energy_eV:.6f} eV")
    table = Table("atom", "Fx (eV/Å)", "Fy", "Fz")
    for k, f in enumerate(result.forces_eV_per_A):
        table.add_row(str(k), *(f"{v:+.5f}" for v in f))
    console.print(table)
    console.print("stress (Voigt, eV/Å³): " + " ".join(f"{v:+.5f}" for v in result.stress_eV_per_A3))
    console.print(
        f"forces vs finite differences: max error {result.max_force_fd_error_eV_per_A:.2e} eV/Å; "
        f"net force {result.net_force_eV_per_A:.2e} eV/Å; "
        f"{1000 * result.seconds_energy_forces_stress:.0f} ms; checkpoint {result.checkpoint}"
    )
