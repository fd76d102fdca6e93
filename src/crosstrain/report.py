"""Small report writers: Markdown, HTML and PNG figures for demos and studies."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crosstrain.io.atomic import atomic_path, write_text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_to_html(title: str, markdown: str) -> str:
    """A standalone HTML page of ``markdown`` (CommonMark with tables, by markdown-it-py)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)  # raw HTML escaped
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em}"
        f"img{{max-width:100%}}</style></head><body>\n{body}</body></html>\n"
    )


def write_report(folder: str | os.PathLike[str], name: str, *, title: str, markdown: str) -> tuple[Path, Path]:
    folder = Path(folder)
    md = folder / f"{name}.md"
    page = folder / f"{name}.html"
    write_text(md, markdown)
    write_text(page, markdown_to_html(title, markdown))
    return md, page


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return Path(path)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
