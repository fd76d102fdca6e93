"""Results pages come from records: the committed pages match them, and a bad record stops the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crosstrain.cli import main
from crosstrain.errors import CrosstrainError
from crosstrain.publish import END, START, publish, render
from crosstrain.records import RecordError

ROOT = Path(__file__).resolve().parents[1]


def test_committed_pages_match_their_records():
    assert publish(ROOT, check=True) == [], "run 'crosstrain results' and commit the pages"


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of the repository's records, README and results pages."""
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "docs" / "results").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    for page in (ROOT / "docs" / "results").glob("*.md"):
        shutil.copy(page, tmp_path / "docs" / "results" / page.name)
    return tmp_path


def test_check_fails_when_a_record_changes(copy, capsys):
    assert main(["results", "--root", str(copy), "--check"]) == 0
    path = copy / "benchmarks" / "dft-transfer" / "dft_lr_search.json"
    doc = json.loads(path.read_text())
    doc["result"]["by_size"]["22"]["rescaled"]["test_force_mae"]["mean"] += 0.01
    path.write_text(json.dumps(doc))
    assert main(["results", "--root", str(copy), "--check"]) == 1
    assert "dft-transfer.md" in capsys.readouterr().err
    assert main(["results", "--root", str(copy)]) == 0  # regenerate, then it is in step again
    assert main(["results", "--root", str(copy), "--check"]) == 0
    assert "0.0523 ± " in (copy / "README.md").read_text()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.pop("command"), "field 'command' is missing"),
        (lambda d: d.update(schema_version=99), "field 'schema_version' is 99"),
        (lambda d: d["result"]["by_size"].pop("22"), "field 'result.by_size.22' is missing"),
    ],
)
def test_bad_record_is_one_line_and_writes_nothing(copy, capsys, change, needle):
    path = copy / "benchmarks" / "dft-transfer" / "dft_lr_search.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    pages = {p: p.read_text() for p in (copy / "docs" / "results").glob("*.md")}
    pages[copy / "README.md"] = (copy / "README.md").read_text()
    (copy / "README.md").write_text(pages[copy / "README.md"].replace("| result |", "| stale |"))
    assert main(["results", "--root", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crosstrain: error:") and "dft_lr_search.json" in err and needle in err and "\n" not in err
    assert "| stale |" in (copy / "README.md").read_text()  # nothing was written


def test_readme_without_the_generated_block(copy):
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace(START, "").replace(END, ""))
    with pytest.raises(CrosstrainError, match="no generated block"):
        render(copy)


def test_not_json_names_the_file(copy):
    path = copy / "benchmarks" / "dft-energies" / "slab_relabelled.json"
    path.write_text("{not json")
    with pytest.raises(RecordError, match="slab_relabelled.json: not valid JSON"):
        render(copy)
