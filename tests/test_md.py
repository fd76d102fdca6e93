"""MD and the stability harness, on the Stillinger-Weber reference and on a broken model."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read

from crosstrain.analysis.references import sw_calculator
from crosstrain.cli import main
from crosstrain.md.run import MDSettings, run_md
from crosstrain.md.stability import StabilityReport, stability

pytest.importorskip("matscipy")


def si8():
    return bulk("Si", "diamond", a=5.431, cubic=True)


def test_nvt_is_stable_and_thermostatted(tmp_path):
    traj = tmp_path / "t.extxyz"
    r = run_md(
        si8() * (2, 2, 1),
        sw_calculator("Si"),
        MDSettings(temperature=800, steps=400, trajectory=str(traj), friction_per_fs=0.05),
    )
    assert r.stable and r.steps_done == 400
    assert 400 < np.mean(r.temperatures[10:]) < 1200
    frames = read(traj, ":")
    assert len(frames) == 41 and len(frames[0]) == 32  # steps 0, 10, ..., 400


def test_nve_conserves_energy():
    r = run_md(si8(), sw_calculator("Si"), MDSettings(temperature=600, steps=300, ensemble="nve", timestep_fs=1.0))
    assert r.stable and abs(r.energy_drift_per_atom) < 1e-3


class Exploding:
    """A calculator whose forces grow without bound: the harness must report, not crash."""

    def __init__(self):
        from ase.calculators.calculator import Calculator

        self.inner = type(
            "C", (Calculator,), {"implemented_properties": ["energy", "forces"], "calculate": Exploding._calculate}
        )()

    @staticmethod
    def _calculate(self, atoms=None, properties=None, system_changes=None):
        from ase.calculators.calculator import Calculator

        Calculator.calculate(self, atoms, properties, system_changes)
        pos = self.atoms.positions
        centre = pos.mean(axis=0)
        self.results = {"energy": -10.0 * float(((pos - centre) ** 2).sum()), "forces": 20.0 * (pos - centre)}


def test_blow_up_is_a_result_not_a_crash():
    r = run_md(si8(), Exploding().inner, MDSettings(temperature=300, steps=2000, timestep_fs=2.0))
    assert not r.stable and r.steps_done < 2000
    assert "forces exploded" in r.reason or "temperature ran away" in r.reason


def test_non_finite_forces_stop_at_their_step(tmp_path):
    """NaN forces from step 7 on: the run stops at step 7 and the trajectory up to it is readable."""
    from ase.calculators.calculator import Calculator

    class NaNAfter(Calculator):
        implemented_properties = ["energy", "forces"]
        calls = 0

        def calculate(self, atoms=None, properties=None, system_changes=None):
            super().calculate(atoms, properties, system_changes)
            sw = sw_calculator("Si")
            sw.calculate(self.atoms, ["energy", "forces"], ["positions"])
            self.results = dict(sw.results)
            NaNAfter.calls += 1
            if NaNAfter.calls > 7:
                self.results["forces"] = self.results["forces"] * np.nan

    traj = tmp_path / "t.extxyz"
    settings = MDSettings(temperature=300, steps=100, ensemble="nve", trajectory=str(traj), trajectory_every=1)
    r = run_md(si8(), NaNAfter(), settings)
    assert not r.stable and r.reason == "non-finite forces at step 7" and r.steps_done == 7
    frames = read(traj, ":")
    assert len(frames) == 8 and np.isfinite(frames[-1].positions).all()  # steps 0-7


def test_stability_harness_fractions():
    report = stability(si8(), lambda: sw_calculator("Si"), [300.0, 900.0], runs=2, settings=MDSettings(steps=100))
    assert report.fraction_stable == 1.0
    assert set(report.by_temperature) == {"300", "900"}
    bad = stability(si8(), lambda: Exploding().inner, [300.0], runs=2, settings=MDSettings(steps=2000, timestep_fs=2.0))
    assert bad.fraction_stable == 0.0 and bad.by_temperature["300"].mean_time_to_failure_ps > 0
    for r in (report, bad):  # what the JSON holds reads back
        assert StabilityReport.from_json(json.loads(json.dumps(r.to_json()))) == r


def test_md_command(tmp_path, capsys):
    out = tmp_path / "md.json"
    assert main(["md", "sw", "--element", "Ge", "--steps", "50", "--temperature", "500", "--json", str(out)]) == 0
    assert "stable" in capsys.readouterr().out and json.loads(out.read_text())["stable"]
    assert main(["md", "sw", "--steps", "20", "--runs", "2", "--temperatures", "300,600"]) == 0
    assert "fraction stable: 1.00" in capsys.readouterr().out
    # a shipped model by name; a device torch does not know is one line
    assert main(["md", "si-sw", "--element", "Si", "--steps", "10"]) == 0
    assert main(["md", "si-sw", "--steps", "2", "--device", "gpu7"]) == 2
    assert "'gpu7' is not a device torch knows" in capsys.readouterr().err


def test_batched_replicas_follow_their_separate_runs():
    """Replicas stacked into one model call per step move as their separate runs do (NVE: no
    random numbers, so the trajectories must agree up to float32 rounding)."""
    from dataclasses import replace

    from crosstrain.calculator import CrosstrainCalculator
    from crosstrain.md.replicas import batched, run_replicas

    model = batched("si-dft")
    settings = MDSettings(temperature=600, steps=60, ensemble="nve", check_every=10)
    together = run_replicas(si8(), model, settings, seeds=[3, 4])
    assert together[0].temperatures != together[1].temperatures  # different velocities
    for seed, r in zip([3, 4], together):
        alone = run_md(si8(), CrosstrainCalculator(model), replace(settings, seed=seed))
        assert r.stable and alone.stable and r.steps_done == 60
        np.testing.assert_allclose(r.temperatures, alone.temperatures, rtol=1e-4)


def test_failing_replicas_are_recorded_and_removed_while_the_rest_go_on():
    from crosstrain.md.replicas import batched, run_replicas

    model = batched("si-dft")
    tight = MDSettings(temperature=300, steps=200, max_temperature_factor=1.3, check_every=10)
    results = run_replicas(si8(), model, tight, seeds=[0, 1, 2, 3])
    failed = [r for r in results if not r.stable]
    assert len(results) == 4 and failed  # an 8-atom cell's temperature fluctuates past 1.3 x target
    assert all("temperature ran away" in r.reason and r.steps_done < 200 for r in failed)
    assert all(r.steps_done == 200 for r in results if r.stable)
    report = stability(si8(), None, [300.0], runs=4, settings=tight, model=model)
    assert report.batched and report.by_temperature["300"].fraction_stable == pytest.approx(
        np.mean([r.stable for r in run_replicas(si8(), model, tight, seeds=[300, 1300, 2300, 3300])])
    )


def test_keep_freed_memory_applies_once_on_glibc():
    import sys

    from crosstrain.allocator import keep_freed_memory

    applied = keep_freed_memory()
    assert keep_freed_memory() is applied  # once per process
    if sys.platform.startswith("linux"):
        import platform

        assert applied == (platform.libc_ver()[0] == "glibc")
