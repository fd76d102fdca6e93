"""mkdocs-gen-files script: write the reference pages from the code at build time.

The pages (none of them is in the repository): ``reference/cli.md``, ``reference/config.md``,
``reference/recipes.md``, one ``reference/api/...`` page per public module, and the
``SUMMARY.md`` from which literate-nav builds the API section of the navigation. What they say
is decided in ``reference.py`` beside this script, which the tests import too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402  (beside this script, not a package)

for path, render in reference.PAGES.items():
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(render())

modules = reference.api_modules()
for module in modules:
    path = reference.api_path(module)
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(reference.api_page(module))
    mkdocs_gen_files.set_edit_path(path, Path("..", "src", *module.split(".")).with_suffix(".py"))

with mkdocs_gen_files.open(reference.API_SUMMARY, "w") as f:
    f.write(reference.api_summary(modules))
