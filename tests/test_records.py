"""Measurement records: every published result is a valid record naming the command that made it;
the reader names the file and the field that is wrong; writing and reading round-trip."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import pytest

from crosstrain.publish.common import record_files
from crosstrain.records import (
    SCHEMA,
    SCHEMA_VERSION,
    Record,
    RecordError,
    command_line,
    make_record,
    read_record,
    write_record,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = record_files(ROOT)


def crosstrain_commands() -> set[str]:
    from crosstrain.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_results_exist() -> None:
    assert RESULTS, "benchmarks/ holds no record"


def script_known(record: Path, script: str) -> bool:
    """A record's script is in the repository: at its path, beside the record (moved into the
    benchmark's folder since), or retired and named so in that folder's README with what replaced
    it (the record's ``commit`` still holds it)."""
    name = Path(script).name
    readme = record.parent / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    retired = "Retired" in text and f"`{name}`" in text.split("Retired", 1)[1]
    return (ROOT / script).is_file() or (record.parent / name).is_file() or retired


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_every_result_is_a_record_with_its_command(path: Path) -> None:
    record = read_record(path)
    assert record.command.strip()
    assert record.kind in ("benchmark", "study")
    for part in record.command.split("&&"):  # a file built by several commands names them in order
        words = shlex.split(part)
        while words and "=" in words[0] and not words[0].startswith("-"):  # OMP_NUM_THREADS=1 ...
            words.pop(0)
        assert words, f"{path.name}: an empty command in {record.command!r}"
        if words[0] == "python":
            assert script_known(path, words[1]), f"{path.name}: {words[1]} is not a script of the repository"
        else:
            assert words[0] == "crosstrain", f"{path.name}: {part!r} is neither a script nor a crosstrain command"
            assert words[1] in crosstrain_commands(), f"{path.name}: no crosstrain subcommand {words[1]!r}"


def record_json(**changes: object) -> dict:
    data = Record(kind="benchmark", command="python benchmarks/x.py", result={"a": 1}).to_json()
    data.update(changes)
    return data


def write(tmp_path: Path, data: object, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("field", ["kind", "command", "commit", "date", "machine", "threads", "seeds", "result"])
def test_missing_field_names_file_and_field(tmp_path: Path, field: str) -> None:
    data = record_json()
    del data[field]
    path = write(tmp_path, data)
    with pytest.raises(RecordError) as err:
        read_record(path)
    assert str(path) in str(err.value) and repr(field) in str(err.value)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1"])
def test_unknown_schema_version_names_file_and_field(tmp_path: Path, version: object) -> None:
    path = write(tmp_path, record_json(schema_version=version))
    with pytest.raises(RecordError) as err:
        read_record(path)
    assert str(path) in str(err.value) and "schema_version" in str(err.value)


def test_wrong_type_and_empty_command_and_other_schema(tmp_path: Path) -> None:
    for changes, field in (
        ({"threads": "1"}, "threads"),
        ({"command": "  "}, "command"),
        ({"schema": "other"}, "schema"),
        ({"extra": 1}, "extra"),
    ):
        path = write(tmp_path, record_json(**changes))
        with pytest.raises(RecordError, match=field) as err:
            read_record(path)
        assert str(path) in str(err.value)


def test_bad_json_and_missing_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema": "crosstrain.record", ')
    with pytest.raises(RecordError, match="not valid JSON") as err:
        read_record(path)
    assert str(path) in str(err.value)
    with pytest.raises(RecordError, match="not found"):
        read_record(tmp_path / "none.json")
    with pytest.raises(RecordError, match="JSON object"):
        read_record(write(tmp_path, [1, 2]))


def test_write_read_round_trip(tmp_path: Path) -> None:
    record = Record(
        kind="benchmark",
        command="OMP_NUM_THREADS=1 python benchmarks/x.py --seeds 2",
        result={"cells": {"scratch n=22": {"values": [0.1, 0.2]}}, "Å": "ü"},
        commit="abc1234",
        date="2026-12-01T10:00:00+00:00",
        machine={"cpu": "x", "logical_cores": 2},
        threads=1,
        seeds=(0, 1),
        versions={"python": "3.11"},
    )
    path = write_record(tmp_path / "sub" / "r.json", record)
    assert read_record(path) == record
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema"] == SCHEMA and data["schema_version"] == SCHEMA_VERSION and data["seeds"] == [0, 1]


def test_make_record_stamps_provenance(tmp_path: Path) -> None:
    record = make_record("study", "crosstrain study --spec sw-quick --dir d", {"x": 1.5}, seeds=(3, 4), threads=2)
    assert record.date and record.machine and "python" in record.versions and "git_commit" not in record.versions
    assert read_record(write_record(tmp_path / "r.json", record)) == record


def test_command_line_from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    script = str(ROOT / "benchmarks" / "dft_transfer.py")
    assert command_line([script, "--name", "a b", "--set", "train.lr=5e-4"]) == (
        "python benchmarks/dft_transfer.py --name 'a b' --set train.lr=5e-4"
    )
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert command_line([script, "--seeds", "3"]) == "OMP_NUM_THREADS=1 python benchmarks/dft_transfer.py --seeds 3"
    assert command_line(["/usr/bin/crosstrain", "study", "--dir", "d"]).endswith("crosstrain study --dir d")
