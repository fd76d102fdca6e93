"""The shape of the public API: a public function or method takes at most three positional
parameters (``self``/``cls`` not counted); the rest are keyword-only (``*``), so that a call says
what each number is and a new parameter cannot shift the meaning of old calls.

Public means a name that does not start with ``_``, wherever it is defined: module functions,
methods (of any class, private classes too), and functions nested in other functions. Dunder
methods (``__init__``, ``__call__``) start with ``_`` and are not checked. Nothing else is
exempt: a function that must keep a positional signature is named in :data:`ALLOWED` with the
reason, and the study package's offenders wait in :data:`PENDING_STUDY`.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "crosstrain"
MAX_POSITIONAL = 3

MODULE_FORWARD = "torch.nn.Module.forward: torch calls it through Module.__call__"

#: positional signatures fixed by a library, each with its reason
ALLOWED = {
    "model/dimenet/network.py:InteractionBlock.forward": "nn.Module.forward: torch calls it through Module.__call__",
    "model/dimenet/network.py:OutputBlock.forward": "nn.Module.forward: torch calls it through Module.__call__",
    "model/base.py:AtomisticModel.forward": "nn.Module.forward: torch calls it through Module.__call__",
    "train/compiled.py:loss_step.loss": "torch.func.grad_and_value differentiates it by argument position (argnums)",
    "dft/cli.py:_cmd_label.report": "the progress callback of dft.label.label_structures, which calls it by position",
    "dft/cli.py:_cmd_phonon_reference.report": "the same progress callback of dft.label.label_structures",
}


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> list[str]:
    names = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    return names[1:] if in_class and not static and names else names


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """Every function in the module with its qualified name (``Class.method``, ``outer.inner``) and
    whether it is a method, wherever it stands (in ``if`` blocks too)."""
    out = []

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.", True)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((f"{prefix}{child.name}", child, in_class))
                visit(child, f"{prefix}{child.name}.", False)
            else:
                visit(child, prefix, in_class)

    visit(tree, "", False)
    return out


def offenders() -> dict[str, list[str]]:
    """``{"path:qualname": [positional parameters]}`` of every public function with too many."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for qualname, node, in_class in _functions(tree):
            if node.name.startswith("_"):
                continue
            params = _positional(node, in_class)
            if len(params) > MAX_POSITIONAL:
                found[f"{path.relative_to(PACKAGE).as_posix()}:{qualname}"] = params
    return found


def test_public_functions_take_at_most_three_positional_parameters():
    bad = {name: params for name, params in offenders().items() if name not in ALLOWED}
    assert not bad, "make the parameters after the first three keyword-only (*): " + "; ".join(
        f"{name}({', '.join(params)})" for name, params in sorted(bad.items())
    )


def test_the_lists_name_only_real_offenders():
    """An entry whose function was fixed, renamed or removed leaves the lists (they only shrink)."""
    current = offenders()
    stale = sorted(set(ALLOWED) - set(current))
    assert not stale, f"no longer positional offenders, remove from the lists: {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())


def test_the_check_sees_methods_nested_functions_and_static_methods():
    tree = ast.parse(
        "class A:\n"
        "    def m(self, a, b, c, d): ...\n"
        "    @staticmethod\n"
        "    def s(a, b, c, d): ...\n"
        "    def ok(self, a, b, c, *, d): ...\n"
        "    if True:\n"
        "        def branch(self, a, b, c, d): ...\n"
        "def outer(a):\n"
        "    def inner(a, b, c, d): ...\n"
    )
    seen = {q: len(_positional(node, in_class)) for q, node, in_class in _functions(tree)}
    assert seen == {"A.m": 4, "A.s": 4, "A.ok": 3, "A.branch": 4, "outer": 1, "outer.inner": 4}
