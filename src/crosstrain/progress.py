"""Progress for people and for logs: a live display on a terminal, whole plain lines elsewhere.

Sent to a file or a pipe, a live ``rich`` display prints only its last frame, cut to 80 columns
("train ge_ful… loss … (best @…"), and ``rich`` wraps long messages at 80 columns. There
:class:`Progress` prints whole lines instead (every ``every`` steps and the last one), and
:func:`console` prints messages without wrapping; on a terminal (or in Jupyter) both behave as
``rich`` does.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

#: set to ``plain`` for whole lines even on a terminal (parallel workers sharing one terminal set it)
PLAIN_VARIABLE = "CROSSTRAIN_PROGRESS"


def live() -> bool:
    """Whether standard output redraws a live display: a terminal that is not dumb, or Jupyter
    (``rich``'s own test; ``FORCE_TERMINAL`` and ``TERM=dumb`` apply), unless
    ``CROSSTRAIN_PROGRESS=plain``."""
    import os

    from rich.console import Console

    if os.environ.get(PLAIN_VARIABLE) == "plain":
        return False

    c = Console()
    return bool(c.is_interactive or c.is_jupyter)


def console() -> Any:
    """A ``rich`` console for messages: as usual on a terminal; in a log, one message per line,
    never wrapped at 80 columns."""
    from rich.console import Console

    return Console() if live() else Console(soft_wrap=True)


@dataclass(frozen=True)
class Say:
    """A message printer that can be sent to a spawned worker (a lambda cannot): ``prefix``
    (``rich`` markup) and the message as one line, flushed at once so that the lines of parallel
    workers stay whole and in time order."""

    prefix: str = ""

    def __call__(self, message: str) -> None:
        console().print(f"{self.prefix}{message}")
        sys.stdout.flush()


def clock(seconds: float) -> str:
    """Elapsed time as ``h:mm:ss``."""
    return str(timedelta(seconds=int(seconds)))


class Progress:
    """Progress of ``total`` steps named ``name``: a live bar on a terminal; in a log a whole line
    ``<name>  <unit> <done>/<total>  <status>  <elapsed>`` every ``every`` steps and at the last
    step (and, on leaving early, at the last step reported). ``enabled=False`` shows nothing."""

    def __init__(
        self,
        name: str,
        total: int,
        *,
        done: int = 0,
        every: int = 1,
        unit: str = "",
        enabled: bool = True,
    ) -> None:
        self.name, self.total, self.done, self.every, self.unit = name, total, done, max(1, every), unit
        self.live = enabled and live()
        self.plain = enabled and not self.live
        self.pending: str | None = None  # the last plain line, while not printed yet
        self.t0 = time.perf_counter()
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            columns = [
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
            ]
            self.bar = Bar(*columns, transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.name, total=self.total, completed=self.done, status="")
        return self

    def update(self, done: int, status: str = "", *, seconds: float | None = None) -> None:
        """``done`` steps of ``total``; ``seconds`` elapsed (default: since this display started)."""
        self.done = done
        if self.live:
            self.bar.update(self.task, completed=done, status=status)
        elif self.plain:
            elapsed = time.perf_counter() - self.t0 if seconds is None else seconds
            unit = f"{self.unit} " if self.unit else ""
            parts = [self.name, f"{unit}{done}/{self.total}", status, clock(elapsed)]
            self.pending = "  ".join(p for p in parts if p)
            if done % self.every == 0 or done >= self.total:
                self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            print(self.pending, file=sys.stdout, flush=True)
            self.pending = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, error, tb)
        self.flush()  # a run that stopped early: its last step
