"""One reuse rule for every command that trains: the same request gives the same result, reused.

A finished checkpoint at the output path is reused when it was trained with the same configuration
(the parent compared by its contents, not by the path it was given as) on the same structures (their
fingerprint), as its metadata records; its report (``<ckpt>.report.json``, written beside it) is
read back instead of training again. A finished checkpoint of another request is trained again
(its stale files removed first); an unfinished one resumes from its state file. The demo, the
study, ``crosstrain models build`` and the active-learning committee all train through
:func:`fit_or_reuse`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crosstrain.config import Config
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import is_finished
from crosstrain.structure import Structure
from crosstrain.train.records import FitReport


def report_path(ckpt: str | os.PathLike[str]) -> Path:
    """Where a checkpoint's fit report is kept."""
    return Path(ckpt).with_suffix(".report.json")


def same_run(
    ckpt: str | os.PathLike[str],
    config: Config,
    data: list[Structure],
    *,
    parent: str | os.PathLike[str] | None = None,
    element_map: dict[str, str] | None = None,
) -> bool:
    """Whether the finished ``ckpt`` was trained with this configuration (parent included, by its
    contents) on these structures."""
    from crosstrain.data.manifest import fingerprint
    from crosstrain.io.checkpoint import file_sha256, read_meta
    from crosstrain.pretrained import resolve_model
    from crosstrain.train.pipeline import with_request

    meta = read_meta(ckpt)
    request = with_request(config, parent, element_map)
    wanted = json.loads(json.dumps(request.to_dict(), default=str))
    have = json.loads(json.dumps(meta.run.get("config") or {}))
    for c in (wanted, have):
        c.get("transfer", {}).pop("parent", None)
    linked = request.transfer.parent is not None
    same_parent = not linked or (
        meta.parent is not None and meta.parent.sha256 == file_sha256(resolve_model(str(request.transfer.parent)))
    )
    return bool(have == wanted and same_parent and meta.data_fingerprint == fingerprint(data))


def fit_or_reuse(
    config: Config,
    data: list[Structure],
    out: str | os.PathLike[str],
    *,
    log: Callable[[str], None] | None = None,
    **fit_kwargs: Any,
) -> FitReport:
    """Train ``out`` (resuming a killed run), or reuse it when it is a finished run of this very
    request; returns its report either way. ``fit_kwargs`` are :func:`~crosstrain.train.pipeline.fit`'s."""
    from crosstrain.train.loop import log_path, state_path
    from crosstrain.train.pipeline import fit

    ckpt, saved = Path(out), report_path(out)
    say = log or (lambda _: None)
    if is_finished(ckpt) and saved.exists():
        parent, mapping = fit_kwargs.get("parent"), fit_kwargs.get("element_map")
        if same_run(ckpt, config, data, parent=parent, element_map=mapping):
            say(f"reusing {ckpt} (a finished run of the same request)")
            return FitReport.from_json(json.loads(saved.read_text(encoding="utf-8")))
        say(f"{ckpt} was trained with other settings or data; training again")
        for stale in (ckpt, saved, state_path(ckpt), log_path(ckpt)):
            stale.unlink(missing_ok=True)
    fit_kwargs.setdefault("resume", True)
    say(f"training {ckpt}")
    _, report = fit(config, data, ckpt, **fit_kwargs)
    write_text(saved, json.dumps(report.to_json(), indent=2, default=str))
    return report
