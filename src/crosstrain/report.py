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
    """A minimal, dependency-free rendering: headings, paragraphs, tables, images, lists."""
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em}"
        "img{max-width:100%}</style></head><body>",
    ]
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            out.append("<table>")
            for k, row in enumerate(table):
                tag = "th" if k == 0 else "td"
                out.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>")
            out.append("</table>")
            table.clear()

    for line in markdown.splitlines():
        s = line.strip()
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        flush()
        if s.startswith("#"):
            level = len(s) - len(s.lstrip("#"))
            out.append(f"<h{level}>{html.escape(s[level:].strip())}</h{level}>")
        elif s.startswith("![") and "](" in s:
            alt, src = s[2:].split("](", 1)
            out.append(f"<p><img alt='{html.escape(alt)}' src='{html.escape(src.rstrip(')'))}'></p>")
        elif s.startswith("- "):
            out.append(f"<ul><li>{html.escape(s[2:])}</li></ul>")
        elif s:
            out.append(f"<p>{html.escape(s)}</p>")
    flush()
    out.append("</body></html>")
    return "\n".join(out)


def write_report(folder: str | os.PathLike[str], name: str, title: str, markdown: str) -> tuple[Path, Path]:
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
