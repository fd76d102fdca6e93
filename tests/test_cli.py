import json

import pytest

from crosstrain.cli import main


def test_demo_smoke_run(tmp_path, capsys):
    assert main(["demo", "--smoke", "--out", str(tmp_path / "demo")]) == 0
    result = json.loads((tmp_path / "demo" / "smoke.json").read_text())
    assert result["max_force_fd_error_eV_per_A"] < 1e-3
    assert abs(result["energy_eV"]) > 0
    assert "forces vs finite differences" in capsys.readouterr().out
    from crosstrain.workflows.smoke import SmokeResult

    assert SmokeResult.from_json(result).to_json() == result and len(SmokeResult.from_json(result).forces_eV_per_A) == 8


def test_init_and_info(tmp_path, capsys):
    out = tmp_path / "ge.ckpt"
    assert main(["init", "--elements", "Si", "Ge", "--out", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    meta = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert meta["species"] == ["Si", "Ge"] and meta["model"]["cutoff"] == 4.2


def test_errors_are_one_line_and_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not a checkpoint")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crosstrain: error:") and "bad.ckpt" in err and "\n" not in err
    assert main(["init", "--elements", "Xx", "--out", str(tmp_path / "x.ckpt")]) == 2
    assert "unknown chemical element 'Xx'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_more_workers_than_cores_is_one_line(tmp_path, capsys):
    from crosstrain.parallel import available_cores

    many = str(available_cores() + 1)
    for args in (
        ["data", "sw", "--out", str(tmp_path / "sw"), "--workers", many],
        ["study", "--spec", "sw-quick", "--dir", str(tmp_path / "st"), "--workers", many],
        [
            "transferability",
            "--data",
            str(tmp_path),
            "--source",
            "si-sw",
            "--out",
            str(tmp_path / "f"),
            "--workers",
            many,
        ],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert f"--workers {many} is more than the" in err and "\n" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_named_parents_and_recipes(tmp_path, capsys):
    from crosstrain.config import load_config

    assert load_config("dft-cpu").train.loss == "energy_forces_stress"
    assert main(["train", "--config", "no-such-recipe", "--data", "x.extxyz", "--out", str(tmp_path / "m")]) == 2
    assert "no shipped recipe" in capsys.readouterr().err
    args = ["transfer", "--from", "no-such-parent", "--map", "Ge=Si", "--data", "x.extxyz"]
    args += ["--out", str(tmp_path / "m")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no shipped model of that name" in err and err.count("\n") == 1
    assert main(["models"]) == 0
    assert "dft-cpu" in capsys.readouterr().out


def test_md_refuses_an_element_the_model_does_not_know(capsys):
    assert main(["md", "si-dft5", "--element", "Ge", "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "crosstrain: error: --element Ge contains element(s) Ge that the model does not know (model elements: Si)"
    )
