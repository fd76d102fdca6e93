"""Reference pages written from the code at build time (used by ``gen_pages.py`` and the tests).

Every function here is pure: it reads the package and returns Markdown text. Nothing in these
pages is typed by hand, so they cannot drift from the code:

* :func:`cli_markdown` walks ``crosstrain.cli.build_parser()`` and every nested subparser;
* :func:`config_markdown` reads the settings dataclasses (fields, types, defaults) and takes each
  field's meaning from the code's own comments and class docstrings;
* :func:`recipes_markdown` reads ``crosstrain/recipes/*.yaml`` and the shipped-model index;
* :func:`api_modules` lists the public modules whose pages mkdocstrings renders.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import io
import re
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def iter_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every (sub)command of ``parser``, depth first: ``(path, parser, help)``; the root has
    ``path == ()``. Aliases of a subcommand are visited once."""
    yield path, parser, parser.description or ""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            for sub_path, sub_parser, sub_help in iter_commands(sub, (*path, name)):
                yield sub_path, sub_parser, helps.get(name, "") if sub_path == (*path, name) else sub_help


def command_anchor(path: tuple[str, ...]) -> str:
    """The heading anchor of a command's section (``crosstrain-study-worker``)."""
    return "-".join(("crosstrain", *path))


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = parser.formatter_class(prog=parser.prog, width=96)  # fixed width: the page is reproducible
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def _help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An option's help as ``--help`` prints it (``%(default)s`` filled in, ``%%`` as ``%``)."""
    if not action.help:
        return ""
    try:
        return parser._get_formatter()._expand_help(action)
    except (KeyError, TypeError, ValueError):
        return action.help


def _option_row(parser: argparse.ArgumentParser, action: argparse.Action) -> str | None:
    if action.help == argparse.SUPPRESS or isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)):
        return None
    switch = action.nargs == 0
    if action.option_strings:
        names = ", ".join(f"`{o}`" for o in action.option_strings)
        if not switch:
            metavar = action.metavar or action.dest.upper()
            names += f" `{metavar} ...`" if action.nargs in ("+", "*") else f" `{metavar}`"
    else:
        names = f"`{action.metavar or action.dest}`"
        names += {"+": " (one or more)", "*": " (any number)", "?": " (optional)"}.get(str(action.nargs), "")
    notes = [_help_text(parser, action)]
    if isinstance(action, argparse._VersionAction):
        notes = [notes[0] or "print the version and exit"]
    elif switch:
        notes.append("a switch")
    if action.choices is not None:
        notes.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
    if action.required:
        notes.append("required")
    if switch or action.default is None or action.default == argparse.SUPPRESS:
        default = "–"
    elif isinstance(action.default, (list, tuple)):
        default = "`" + " ".join(str(x) for x in action.default) + "`"
    else:
        default = f"`{action.default}`"
    meaning = "; ".join(x for x in notes if x)
    return f"| {_cell(names)} | {_cell(meaning)} | {default} |"


def cli_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The command-line reference: one section per (sub)command with its usage and options."""
    if parser is None:
        from crosstrain.cli import build_parser

        parser = build_parser()
    commands = list(iter_commands(parser))
    out = [
        "# Command line",
        "",
        "Generated from `crosstrain.cli.build_parser()` when the documentation is built; "
        "`crosstrain COMMAND --help` prints the same. Every user error prints one line "
        "`crosstrain: error: ...` and exits with status 2.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for path, _, help_text in commands[1:]:
        name = " ".join(("crosstrain", *path))
        out.append(f"| [`{name}`](#{command_anchor(path)}) | {_cell(help_text)} |")
    out.append("")
    for path, sub, help_text in commands:
        name = " ".join(("crosstrain", *path))
        level = "#" * min(1 + max(len(path), 1), 4)
        out += [f"{level} `{name}` {{ #{command_anchor(path)} }}", ""]
        if help_text:
            out += [help_text[0].upper() + help_text[1:] + ("" if help_text.endswith(".") else "."), ""]
        out += ["```text", _usage(sub), "```", ""]
        rows = [r for r in (_option_row(sub, a) for a in sub._actions) if r]
        if rows:
            out += ["| argument | meaning | default |", "|---|---|---|", *rows, ""]
        children = [p for p, _, _ in commands if len(p) == len(path) + 1 and p[: len(path)] == path]
        if children:
            links = ", ".join(f"[`{' '.join(('crosstrain', *p))}`](#{command_anchor(p)})" for p in children)
            out += [f"Subcommands: {links}.", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------

#: Meanings for fields whose definition in the code carries no comment and that the class
#: docstring does not name. The code's own words always win: a comment added beside a field
#: replaces the entry here.
FALLBACK_MEANINGS: dict[str, dict[str, str]] = {
    "TrainConfig": {
        "loss": "which terms the loss has: forces only (the paper's force matching), energies and "
        "forces, or energies, forces and stress (see `crosstrain.train.loss`)",
        "energy_weight": "weight of the per-atom energy term, (eV/atom)²",
        "forces_weight": "weight of the force term, (eV/Å)²",
        "stress_weight": "weight of the stress term, GPa²",
        "lr": "peak learning rate of Adam (reached after the warm-up)",
        "lr_decay": "the learning rate at the last step, as a fraction of `lr`",
        "schedule": "the decay after the warm-up: exponential or half cosine",
        "warmup_steps": "optimiser steps of the linear warm-up from 0 to `lr`",
        "epochs": "passes over the training data",
        "batch_size": "structures per optimiser step (the global batch when training on several processes)",
        "grad_clip": "largest gradient norm; larger gradients are scaled down (null: no clipping)",
        "ema_decay": "decay of an exponential moving average of the weights, which is what is "
        "validated and saved (null: no average)",
        "seed": "seed of the initialisation and the batch order; a CPU run is reproducible bit for bit",
        "dtype": "floating-point precision of the model and training",
        "device": "`cpu`, `cuda` or `cuda:N`",
    },
    "TransferConfig": {
        "strategy": "how the model starts: `scratch` or one of the transfer strategies",
        "parent": "the parent checkpoint: a path or the name of a shipped model (ignored by `scratch`)",
        "element_map": "target element → parent element, e.g. `{Ge: Si}`",
        "l2sp_alpha": "`l2sp`: the weight α of the penalty α‖θ − θ_parent‖²",
    },
    "DimeNetConfig": {
        "hidden_channels": "width of the edge (message) embeddings",
        "out_emb_channels": "width of the output blocks' layers",
        "int_emb_size": "width of the triplet interaction's down-projected embedding",
        "basis_emb_size": "width of the embedding of the radial and spherical bases",
        "num_blocks": "interaction blocks (message-passing steps)",
        "num_spherical": "spherical harmonics degrees of the angular basis",
        "num_radial": "radial Bessel functions",
        "cutoff": "cutoff radius of the neighbour list and of the smooth envelope",
        "num_before_skip": "residual layers before the skip connection of each interaction block",
        "num_after_skip": "residual layers after the skip connection of each interaction block",
        "num_output_layers": "dense layers of each output block",
        "activation": "activation function",
        "output_init": "initialisation of the output layers",
    },
    "MaceConfig": {
        "cutoff": "cutoff radius (mace's `r_max`) of the neighbour list, the radial basis and its envelope",
        "num_bessel": "radial Bessel functions",
        "num_polynomial_cutoff": "exponent of the polynomial cutoff envelope",
        "max_ell": "highest degree of the spherical harmonics of the edges",
        "num_interactions": "interaction (message-passing) layers",
        "correlation": "body order of each product minus one",
        "hidden_irreps": "channels and symmetry of the node features, e.g. `32x0e` or `64x0e+64x1o`",
        "mlp_irreps": "hidden features of the last readout",
        "radial_mlp": "hidden widths of the radial network that weights each edge's tensor product",
        "avg_num_neighbors": "normaliser of the message sum",
        "interaction": "interaction block of every layer after the first",
        "interaction_first": "interaction block of the first layer",
        "gate": "activation of the readout",
        "use_reduced_cg": "mace-torch's reduced Clebsch-Gordan basis in the products",
    },
}

#: a clause that reports a measurement (a figure that belongs on the results pages, not here)
_MEASURED = re.compile(
    r"\b[Mm]easured\b|eV/Å|meV|\bGPa\b|\bmin\b|steps/s|±|\+-|\bfaster\b|\bthe cost of\b|\d\s*->\s*\d"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`])")


def drop_measurements(text: str) -> str:
    """``text`` without the sentences, clauses (``;``) and parentheses that report a measurement.

    The code's comments and the recipes' headers sometimes quote the figure that justified a
    choice; a page of settings states what a setting is, and measured figures live on the
    results pages, which are written from the records and cannot drift from them."""
    text = re.sub(r"\s*\([^()]*\)", lambda m: "" if _MEASURED.search(m.group(0)) else m.group(0), text)
    kept = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        clauses = [c for c in sentence.split("; ") if c.strip() and not _MEASURED.search(c)]
        if clauses:
            joined = "; ".join(clauses).strip()
            if sentence.rstrip().endswith(".") and not joined.endswith("."):
                joined += "."
            kept.append(joined)
    return " ".join(kept).strip()


def _rst_to_md(text: str) -> str:
    """Sphinx roles and double backquotes of the code's docstrings as Markdown code."""
    text = re.sub(r":(?:class|func|mod|meth|data|attr|exc|obj):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class source: the block of comment lines directly above its
    definition and the trailing comment on its line."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comment_on: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comment_on.setdefault(tok.start[0], tok.string.lstrip("#").strip())
    comments: dict[str, str] = {}
    pending: list[str] = []
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        body_level = line.startswith("    ") and not line.startswith("     ")
        if not body_level:
            if stripped:
                pending = []
            continue
        if stripped.startswith("#"):
            pending.append(comment_on.get(number, stripped.lstrip("#").strip()))
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and match.group(1) in names:
            parts = [*pending, *([comment_on[number]] if number in comment_on else [])]
            if parts:
                comments[match.group(1)] = " ".join(parts)
        pending = []
    return comments


def _docstring_sentences(cls: type, name: str) -> str:
    """The sentences of the class docstring that name the field (``name``, ``name: ...``,
    ``name=...`` or a ``*`` pattern such as ``stage_two_*_weight``)."""
    text = " ".join(inspect.cleandoc(cls.__doc__ or "").split())
    hits = []
    for sentence in _SENTENCE_END.split(text):
        for literal in re.findall(r"``([^`]+)``", sentence):
            pattern = "^" + re.escape(literal).replace(r"\*", r"\w+") + "$"
            if re.match(pattern, name) or literal.startswith((f"{name}:", f"{name}=")):
                hits.append(sentence)
                break
    return " ".join(hits)


def _bounds(metadata: list[Any]) -> list[str]:
    found: list[str] = []
    for meta in metadata:
        inner = getattr(meta, "metadata", None)
        if inner:  # a pydantic FieldInfo holds annotated_types constraints
            found += _bounds(list(inner))
            continue
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(meta, attr, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append(f"{sign} {value:g}")
    return found


def type_text(hint: Any) -> str:
    """A field's type in words: ``number > 0``, ``integer ≥ 1``, ``one of a, b``, ``… or null``."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        bounds = _bounds(metadata)
        return f"{type_text(base)} {', '.join(bounds)}" if bounds else type_text(base)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        words = " or ".join(type_text(a) for a in args)
        return f"{words} or null" if len(args) < len(typing.get_args(hint)) else words
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(hint))
    if origin is dict:
        return "mapping"
    if origin in (list, tuple):
        return "list"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in hint)
    words = {bool: "boolean", int: "integer", float: "number", str: "text"}
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def settings_table(cls: type, section: str, anchor: str | None = None) -> list[str]:
    """A settings class as a Markdown section: its docstring and one row per field."""
    hints = typing.get_type_hints(cls, include_extras=True)
    comments = _field_comments(cls)
    fallback = FALLBACK_MEANINGS.get(cls.__name__, {})
    doc = inspect.cleandoc(cls.__doc__ or "")
    out = [f"## `{section}`: `{cls.__module__}.{cls.__name__}` {{ #{anchor or section} }}", ""]
    if doc:
        out += [_rst_to_md(drop_measurements(doc)), ""]
    out += ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        comment = drop_measurements(comments.get(f.name, ""))
        if len(comment) <= 3 and f.name in fallback:  # a bare unit, e.g. "Å"
            comment = f"{fallback[f.name]} ({comment})" if comment else ""
        meaning = comment or _docstring_sentences(cls, f.name) or fallback.get(f.name, "")
        out.append(
            f"| `{section}.{f.name}` | {_cell(type_text(hints[f.name]))} | {_default_text(f)} "
            f"| {_cell(_rst_to_md(meaning))} |"
        )
    out.append("")
    return out


def config_markdown() -> str:
    """The configuration reference: every field of ``model``, ``train`` and ``transfer``."""
    from crosstrain.config import STRATEGY_SETTINGS, TrainConfig, TransferConfig
    from crosstrain.model import ARCHITECTURES, DEFAULT_ARCHITECTURE

    out = [
        "# Configuration",
        "",
        "Generated from the settings classes when the documentation is built. A configuration is a "
        "YAML file with the sections `model`, `train` and `transfer`; every key is optional and "
        "unknown keys are errors. `--config NAME` reads a shipped [recipe](recipes.md) or a path; "
        "`--set section.key=value` (or a trailing `section.key=value`) overrides one value. "
        "Values are checked once, when the configuration is read, and a bad one is a one-line "
        "error naming the setting. How crosstrain fills what you leave out is explained in "
        "[How defaults are chosen](../concepts/defaults.md).",
        "",
        "```yaml",
        "model: {preset: cpu, cutoff: 5.0}",
        "train: {loss: energy_forces_stress, lr: 5.0e-4, epochs: 150}",
        "transfer: {strategy: rescaled, parent: si-dft5, element_map: {Ge: Si}}",
        "```",
        "",
    ]
    out += settings_table(TrainConfig, "train")
    out += settings_table(TransferConfig, "transfer")
    out += [
        "Settings that belong to one strategy alone (a study searches them only for it):",
        "",
        "| strategy | its settings |",
        "|---|---|",
    ]
    for strategy, names in STRATEGY_SETTINGS.items():
        out.append(f"| `{strategy.value}` | {', '.join(f'`transfer.{n}`' for n in names)} |")
    out.append("")
    out += [
        "`model.architecture` picks the network: "
        + ", ".join(f"`{name}`" for name in ARCHITECTURES)
        + f" (default `{DEFAULT_ARCHITECTURE}`). Each has its own settings and presets below.",
        "",
    ]
    for name, (package, _, config_class) in ARCHITECTURES.items():
        module = importlib.import_module(package)
        cls, presets = getattr(module, config_class), getattr(module, "PRESETS")
        anchor = "model" if name == DEFAULT_ARCHITECTURE else f"model-{name}"
        out += settings_table(cls, "model", anchor)
        out += [
            f"`model.preset` names a starting point of `{name}`; any field above overrides it. The presets:",
            "",
            "| field | " + " | ".join(f"`{p}`" for p in presets) + " |",
            "|---|" + "---|" * len(presets),
        ]
        for f in dataclasses.fields(cls):
            out.append(f"| `{f.name}` | " + " | ".join(f"`{getattr(p, f.name)}`" for p in presets.values()) + " |")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# recipes and shipped models
# --------------------------------------------------------------------------------------------


def split_recipe(text: str) -> tuple[str, list[str], str]:
    """A recipe's leading comment as prose (without ``#``), the example commands in it, and the
    rest of the file."""
    lines = text.splitlines()
    prose: list[str] = []
    commands: list[str] = []
    rest = ""
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            rest = "\n".join(lines[i:]).strip()
            break
        content = line.lstrip("#").strip()
        if content.startswith(("crosstrain ", "python ")):
            command, _, note = content.partition("  ")  # a command, then two spaces and a note
            note = note.strip().removeprefix("(").removesuffix(")")
            commands.append(command.strip() + (f"   # {note}" if note else ""))
        else:
            prose.append(content)
    return " ".join(prose), commands, rest


#: the index's error keys with their units
_METRIC = {
    "force_mae": "force MAE (eV/Å)",
    "energy_mae": "energy MAE (meV/atom)",
    "stress_mae": "stress MAE (GPa)",
}
#: index.json keys shown in their own rows or not at all
_INDEX_KEYS = {"file", "description", "data", "recipe", "command", "errors", "errors_on"}


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} `{v}`" for k, v in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(f"`{v}`" for v in value) or "–"
    return f"`{value}`"


def recipes_markdown() -> str:
    """The shipped parent models (from the index) and recipes (leading comment and values)."""
    from crosstrain.config import RECIPES, recipes
    from crosstrain.pretrained import entries

    names = set(recipes())

    def recipe_link(name: Any) -> str:
        return f"[`{name}`](#{name})" if str(name) in names else f"`{name}`"

    out = [
        "# Recipes and shipped models",
        "",
        "Generated from `crosstrain/pretrained/index.json` and `crosstrain/recipes/*.yaml` when the "
        "documentation is built; `crosstrain models` prints the same. A recipe is a "
        "[configuration](config.md) file addressed by name (`--config dft-cpu5`). Figures measured "
        "with these recipes are on the [results pages](../results/index.md).",
        "",
        "## Shipped parent models",
        "",
        "`--from NAME` (on `transfer`, `active`, in a study spec's `source.checkpoint`) and "
        "`crosstrain md NAME` take these names. The errors are those recorded in the index, on the "
        "structures it names.",
        "",
    ]
    for name, entry in entries().items():
        e = entry.to_json()  # the index entry as written, every key of it
        out += [f"### `{name}`", "", _cell(str(e.get("description", ""))).rstrip(".") + ".", ""]
        rows = [("file", f"`{e.get('file', '')}`")]
        if e.get("recipe"):
            rows.append(("trained with recipe", recipe_link(e["recipe"])))
        if e.get("data"):
            rows.append(("data", _value_text(e["data"])))
        for key, value in e.items():
            if key in _INDEX_KEYS:
                continue
            if isinstance(value, dict) and "recipe" in value:  # the fine-tuning recipe and strategy
                shown = f"recipe {recipe_link(value['recipe'])}"
                shown += "".join(f", {k} `{v}`" for k, v in value.items() if k not in ("recipe", "evidence"))
                shown += f"; evidence: {value['evidence']}" if value.get("evidence") else ""
                label = f"`transfer --from {name}` defaults" if key == "finetune" else key.replace("_", " ")
                rows.append((label, shown))
                continue
            shown = recipe_link(value) if "recipe" in key and isinstance(value, str) else _value_text(value)
            rows.append((key.replace("_", " "), shown))
        if e.get("command"):
            rows.append(("regenerate", f"`{e['command']}`"))
        errors = e.get("errors") or {}
        if errors:
            shown = ", ".join(f"{_METRIC.get(k, k.replace('_', ' '))} {v}" for k, v in errors.items())
            rows.append(("recorded errors", f"{shown} ({e.get('errors_on', '')})"))
        out += ["| | |", "|---|---|", *[f"| {k} | {_cell(str(v))} |" for k, v in rows], ""]
    out += ["## Recipes", ""]
    for name in recipes():
        prose, commands, body = split_recipe((RECIPES / f"{name}.yaml").read_text(encoding="utf-8"))
        out += [f"### `{name}` {{ #{name} }}", ""]
        prose = _rst_to_md(drop_measurements(prose))
        if prose:
            out += [prose, ""]
        if commands:
            out += ["```bash", *commands, "```", ""]
        values = yaml.safe_load(body) or {}
        out += ["```yaml", yaml.safe_dump(values, sort_keys=False, allow_unicode=True).strip(), "```", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# API pages
# --------------------------------------------------------------------------------------------

#: The public modules with an API page; ``package.*`` expands to every module of the package.
PUBLIC_MODULES = (
    "crosstrain.species",
    "crosstrain.structure",
    "crosstrain.graph",
    "crosstrain.config",
    "crosstrain.request",
    "crosstrain.model",
    "crosstrain.model.*",
    "crosstrain.model.dimenet.*",
    "crosstrain.train.pipeline",
    "crosstrain.train.transfer",
    "crosstrain.calculator",
    "crosstrain.records",
    "crosstrain.publish",
    "crosstrain.schema",
    "crosstrain.train.records",
    "crosstrain.md.stability",
    "crosstrain.workflows.properties",
    "crosstrain.study.records",
    "crosstrain.active.records",
    "crosstrain.io.checkpoint",
    "crosstrain.data.extxyz",
    "crosstrain.data.mlearn",
    "crosstrain.md.run",
    "crosstrain.analysis.*",
)


def api_modules(src: Path | None = None) -> list[str]:
    """The dotted names of the modules with an API page, in :data:`PUBLIC_MODULES` order."""
    if src is None:
        import crosstrain

        src = Path(crosstrain.__file__).resolve().parent.parent
    names: list[str] = []
    for entry in PUBLIC_MODULES:
        if entry.endswith(".*"):
            package = entry[:-2]
            folder = src.joinpath(*package.split("."))
            names += [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")]
        else:
            names.append(entry)
    return names


def api_path(module: str) -> str:
    """Where a module's page lives, relative to ``docs/``: ``reference/api/crosstrain/model/base.md``."""
    return "reference/api/" + "/".join(module.split(".")) + ".md"


def api_page(module: str) -> str:
    """The mkdocstrings page of one module (its root heading is the page title)."""
    return f"::: {module}\n    options:\n      show_root_heading: true\n      heading_level: 1\n"


def api_summary(modules: list[str]) -> str:
    """A literate-nav ``SUMMARY.md`` for ``reference/api/``: one entry per module."""
    lines = []
    for module in modules:
        relative = api_path(module).removeprefix("reference/api/")
        lines.append(f"* [{module.removeprefix('crosstrain.')}]({relative})")
    return "\n".join(lines) + "\n"


#: the pages written from the code, by path relative to ``docs/``, with their writers
PAGES = {
    "reference/cli.md": cli_markdown,
    "reference/config.md": config_markdown,
    "reference/recipes.md": recipes_markdown,
}
#: literate-nav's navigation of the API section (read for the navigation, not built as a page)
API_SUMMARY = "reference/api/SUMMARY.md"


def generated_pages(src: Path | None = None) -> list[str]:
    """Every path the build writes under ``docs/``: :data:`PAGES`, the API pages and their summary."""
    return [*PAGES, *(api_path(m) for m in api_modules(src)), API_SUMMARY]
