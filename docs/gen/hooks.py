"""MkDocs hooks: keep literate-nav's generated ``SUMMARY.md`` files out of the built pages.

literate-nav reads them to build the navigation; they are not pages of their own.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel


def on_files(files: Files, **kwargs: Any) -> Files:  # noqa: ARG001
    for f in files:
        if isinstance(f, File) and f.src_uri.endswith("SUMMARY.md"):
            f.inclusion = InclusionLevel.EXCLUDED
    return files
