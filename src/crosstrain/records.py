"""Measurement records: one frozen, versioned envelope around every published result.

A record is the JSON file a benchmark, a study or a ``--json`` report writes. Whatever it
measured sits in ``result``; around it the envelope says how to make it again and where it was
made::

    {
      "schema": "crosstrain.record", "schema_version": 1,
      "kind": "benchmark",                      # what made it: benchmark, train, study, ...
      "command": "python benchmarks/dft-transfer/dft_transfer.py --parent si-dft5 --sizes 22 --seeds 5",
      "commit": "79a182b", "date": "2026-12-01T10:00:00+00:00",
      "machine": {"cpu": "...", "logical_cores": 2, "platform": "..."},
      "threads": 1, "seeds": [0, 1, 2, 3, 4],
      "versions": {"python": "3.11.7", "torch": "2.13.0+cpu", "crosstrain": "0.1.0", ...},
      "result": {...}
    }

:func:`write_record` and :func:`read_record` are the one way each direction: writing is atomic,
reading validates the envelope and names the file and the field that is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crosstrain.errors import CrosstrainError

SCHEMA = "crosstrain.record"
SCHEMA_VERSION = 1
#: the fields of the envelope (read by :func:`parse_record`)
FIELDS = ("kind", "command", "commit", "date", "machine", "threads", "seeds", "versions", "result")


class RecordError(CrosstrainError, ValueError):
    """A record file that is not a valid crosstrain record (names the file and the field)."""


@dataclass(frozen=True)
class Record:
    """One measurement with the command that made it and where it was made."""

    kind: str
    command: str
    result: dict[str, Any]
    commit: str = "unknown"
    date: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    seeds: tuple[int, ...] = ()
    versions: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        return {"schema": SCHEMA, **data}


def make_record(
    kind: str, command: str, result: dict[str, Any], *, seeds: tuple[int, ...] = (), threads: int | None = None
) -> Record:
    """A record of ``result`` stamped with this machine, the package versions, the commit and now."""
    from crosstrain.provenance import provenance

    p = provenance()
    versions: dict[str, Any] = dict(p.versions)
    commit = str(versions.pop("git_commit", "unknown"))
    return Record(
        kind=kind,
        command=command,
        result=result,
        commit=commit,
        date=p.date,
        machine=p.machine.to_json(),
        threads=threads,
        seeds=tuple(int(s) for s in seeds),
        versions=versions,
    )


def write_record(path: str | os.PathLike[str], record: Record) -> Path:
    """Write ``record`` as JSON (temporary file, then rename)."""
    from crosstrain.io.atomic import write_text

    write_text(path, json.dumps(record.to_json(), indent=2, ensure_ascii=False, default=str) + "\n")
    return Path(path)


def parse_record(data: Any, source: str) -> Record:
    """The :class:`Record` held by plain JSON ``data``; ``source`` names it in errors."""
    from crosstrain.errors import SchemaError
    from crosstrain.schema import Fields

    try:
        f = Fields(data, source)
        if f.value("schema") != SCHEMA:
            raise RecordError(f"{source}: field 'schema' must be {SCHEMA!r} (got {data.get('schema')!r})")
        version = f.integer("schema_version")
        if version > SCHEMA_VERSION:
            raise RecordError(
                f"{source}: field 'schema_version' is {version}, newer than this crosstrain reads "
                f"({SCHEMA_VERSION}); upgrade crosstrain"
            )
        if version < 1:
            raise RecordError(f"{source}: field 'schema_version' {version} is not a known schema version")
        unknown = sorted(set(f.names()) - set(FIELDS) - {"schema", "schema_version"})
        if unknown:
            raise RecordError(f"{source}: unknown field {unknown[0]!r}")
        threads = f.value("threads")
        record = Record(
            kind=f.text("kind"),
            command=f.text("command"),
            result=f.mapping("result"),
            commit=f.text("commit"),
            date=f.text("date"),
            machine=f.mapping("machine"),
            threads=None if threads is None else f.integer("threads"),
            seeds=tuple(int(s) for s in f.numbers("seeds")),
            versions=f.mapping("versions"),
            schema_version=version,
        )
    except SchemaError as exc:
        raise RecordError(str(exc)) from None
    if not record.command.strip():
        raise RecordError(f"{source}: field 'command' is empty: a record names the command that made it")
    return record


def read_record(path: str | os.PathLike[str]) -> Record:
    """Read and validate one record file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{p}: record file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{p}: not valid JSON ({exc})") from None
    return parse_record(data, str(p))


def with_result(record: Record, result: dict[str, Any]) -> Record:
    """``record`` with another result (the same command and provenance)."""
    return replace(record, result=result)


def command_line(argv: list[str] | None = None) -> str:
    """The running command as typed from the repository root, for a record's ``command``:
    ``python`` and the script's path relative to the root (the nearest folder above the script
    holding ``pyproject.toml``), the arguments shell-quoted, ``OMP_NUM_THREADS=N`` in front when
    the environment sets it; ``crosstrain ...`` for the installed command."""
    import shlex
    import sys

    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]) if argv else Path("python")
    if script.name == "crosstrain":
        head = "crosstrain"
    else:
        path = script.resolve()
        root = next((p for p in path.parents if (p / "pyproject.toml").is_file()), None)
        head = "python " + shlex.quote(str(path.relative_to(root) if root else script))
    omp = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={shlex.quote(omp)} " if omp else ""
    return prefix + " ".join([head, *(shlex.quote(a) for a in argv[1:])])
