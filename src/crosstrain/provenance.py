"""Provenance recorded with results: machine, versions, thread counts, git commit.

:func:`provenance` returns a :class:`Provenance`; results write its fields among their own
(``date``, ``machine``, ``versions``, ``torch_threads_default``, ``gpus``: a record field with
:data:`~crosstrain.schema.FLAT` metadata, as ``**provenance()`` wrote them before).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass, field
from typing import ClassVar

from crosstrain.schema import OMIT_NONE, JSONRecord


@dataclass(frozen=True)
class Machine(JSONRecord):
    """The machine a result was measured on."""

    cpu: str
    logical_cores: int | None
    platform: str


@dataclass(frozen=True)
class Provenance(JSONRecord):
    """When, where and with which versions (``python``, ``torch``, ``numpy``, ``crosstrain``,
    ``git_commit``) a result was made; results before 2026 lack the last two fields."""

    SCHEMA_VERSION: ClassVar[int] = 1

    date: str
    machine: Machine
    versions: dict[str, str]
    torch_threads_default: int | None = field(default=None, metadata=OMIT_NONE)
    gpus: tuple[str, ...] | None = field(default=None, metadata=OMIT_NONE)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance() -> Provenance:
    """This machine, the package versions, the git commit and now."""
    import numpy
    import torch

    import crosstrain

    return Provenance(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=Machine(cpu=cpu_model(), logical_cores=os.cpu_count(), platform=platform.platform()),
        versions={
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "numpy": numpy.__version__,
            "crosstrain": crosstrain.__version__,
            "git_commit": git_commit(),
        },
        torch_threads_default=torch.get_num_threads(),
        gpus=tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        if torch.cuda.is_available()
        else (),
    )
