"""The documentation's commands are tests: the README's five-command path (and the DFT tutorial's,
which must be the same) runs exactly as written, on the shipped data, under ``CROSSTRAIN_SMOKE=1``
(a few structures and epochs, a few MD steps: the chain is checked, not the result)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from crosstrain.cli import main

ROOT = Path(__file__).resolve().parents[1]


def bash_blocks(path: Path) -> list[list[str]]:
    """The commands of every ```bash block of a Markdown file (comments and blank lines dropped)."""
    return bash_blocks_from_text(path.read_text(encoding="utf-8"))


def five_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own element pair in five commands", 1)[1]
    return bash_blocks_from_text(section)[0]


def bash_blocks_from_text(text: str) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [[ln.strip() for ln in b.splitlines() if ln.strip() and not ln.strip().startswith("#")] for b in blocks]


def test_readme_and_tutorial_show_the_same_path():
    commands = five_commands()
    assert len(commands) == 5 and all(c.startswith("crosstrain ") for c in commands)
    assert bash_blocks(ROOT / "docs" / "tutorials" / "dft-pair.md")[0] == commands


def tutorial_commands() -> list[str]:
    """Every ``crosstrain`` command of the DFT tutorial, in the order the page gives them."""
    blocks = bash_blocks(ROOT / "docs" / "tutorials" / "dft-pair.md")[1:]  # the first block is the summary
    return [c for block in blocks for c in block if c.startswith("crosstrain ")]


def test_the_five_commands_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CROSSTRAIN_SMOKE", "1")
    commands = tutorial_commands()
    assert set(five_commands()) <= set(commands)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    out = capsys.readouterr().out
    assert "recipe dft-cpu5-finetune (parent si-dft5)" in out and "map Ge=Si (inferred" in out
    assert "force MAE" in out and "stable" in out and "bulk modulus" in out
    assert (tmp_path / "ge.ckpt").is_file()
    assert "recipe dft-cpu5 (data: labelled with energies)" in out  # the tutorial's scratch model
