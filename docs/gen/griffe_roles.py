"""A griffe extension: the Sphinx roles of crosstrain's docstrings as Markdown.

The code's docstrings use reStructuredText roles (``:class:`~crosstrain.errors.CrosstrainError```,
``:func:`fit```) and double backquotes. mkdocstrings renders docstrings as Markdown, where those
would show up verbatim. This extension rewrites them before rendering: a role naming a module
that has an API page becomes a cross-reference to it, every other role becomes inline code (the
short name after ``~``, as Sphinx shows it), and ``literal`` becomes `literal`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import griffe

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import api_modules  # noqa: E402  (beside this file, not a package)

_ROLE = re.compile(r":(?:class|func|mod|meth|data|attr|exc|obj):`(~?)([^`<]+?)(?:\s*<([^>]+)>)?`")
_DOCUMENTED = set(api_modules(Path(__file__).resolve().parents[2] / "src"))


def markdown_roles(text: str) -> str:
    """``text`` with Sphinx roles and ``literals`` rewritten as Markdown."""

    def role(match: re.Match[str]) -> str:
        short, target, explicit = match.group(1), match.group(2).strip(), match.group(3)
        target = (explicit or target).strip()
        shown = target.rsplit(".", 1)[-1] if short else (match.group(2).strip() if explicit else target)
        if target in _DOCUMENTED:
            return f"[`{shown}`][{target}]"
        return f"`{shown}`"

    text = _ROLE.sub(role, text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        if obj.docstring is not None:
            obj.docstring.value = markdown_roles(obj.docstring.value)
