"""Results pages and the README's headline table, generated from records and never typed by hand.

``crosstrain results`` reads the records under ``benchmarks/`` (see :mod:`crosstrain.records`),
writes ``docs/results/*.md`` and the block of ``README.md`` between :data:`START` and :data:`END`;
``crosstrain results --check`` writes nothing and fails when a committed page differs from what the
records give, so a number cannot drift from its record. Every figure on a page links the record it
comes from and that record's command. A record with a missing field or an unknown schema version
stops the run with one line naming the file and the field, before any page is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crosstrain.errors import CrosstrainError
from crosstrain.publish.architectures import architectures
from crosstrain.publish.common import END, GENERATED, START, Headline, Records
from crosstrain.publish.dft import dft_transfer
from crosstrain.publish.pairs import pairs
from crosstrain.publish.phonons import phonons
from crosstrain.publish.speed import speed
from crosstrain.publish.sw import sw_demo

__all__ = ["END", "START", "publish", "render"]

PAGES: dict[str, Callable[[Records], tuple[str, list[Headline]]]] = {
    "dft-transfer.md": dft_transfer,
    "sw-demo.md": sw_demo,
    "pairs.md": pairs,
    "architectures.md": architectures,
    "phonons.md": phonons,
    "speed.md": speed,
}


def headline_table(heads: list[Headline], link_prefix: str) -> str:
    lines = ["| result | figure | details |", "|---|---|---|"]
    lines += [f"| {h.claim} | {h.figure} | [{h.page[:-3]}]({link_prefix}{h.page}) |" for h in heads]
    return "\n".join(lines)


def index_page(rec: Records, heads: list[Headline]) -> str:
    lines = [
        "# Results",
        "",
        GENERATED,
        "",
        "Every figure in these pages is read from a record: a JSON file that carries the command that made",
        "it, the commit, date, machine, threads, seeds and package versions. Rerun a record's command to",
        "reproduce it; run `crosstrain results` to regenerate these pages.",
        "",
        headline_table(heads, ""),
        "",
        "## Every record",
        "",
        "| record | kind | date | command |",
        "|---|---|---|---|",
    ]
    for rel in rec.all():
        r = rec[rel]
        command = r.command.replace("|", "\\|")
        lines.append(f"| `{rel}` | {r.kind} | {r.date[:10]} | `{command}` |")
    return "\n".join(lines) + "\n"


def render(root: Path) -> dict[Path, str]:
    """Every generated file's path and text, from the records under ``root`` (nothing written)."""
    rec = Records(root)
    out: dict[Path, str] = {}
    heads: list[Headline] = []
    for name, page in PAGES.items():
        text, more = page(rec)
        out[root / "docs" / "results" / name] = text
        heads += more
    out[root / "docs" / "results" / "index.md"] = index_page(rec, heads)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise CrosstrainError(f"{readme}: no generated block (the lines {START!r} and {END!r})")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    table = headline_table(heads, "docs/results/")
    out[readme] = f"{before}{START}\n{table}\n{END}{after}"
    return out


def publish(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Write the generated files (or, with ``check``, list those that differ); returns the changed ones."""
    from crosstrain.io.atomic import write_text

    pages = render(Path(root))  # every record read and every page rendered before anything is written
    changed = [p for p, text in pages.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if not check:
        for p in changed:
            write_text(p, pages[p])
    return changed
