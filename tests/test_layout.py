"""The house's floors: no two packages of crosstrain import each other, directly or around a loop
(lazy imports inside functions count too)."""

import collections
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "crosstrain"


def package_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for f in ROOT.rglob("*.py"):
        me = f.relative_to(ROOT.parent).with_suffix("").parts[1]
        for module in re.findall(r"^\s*(?:from|import)\s+(crosstrain[\w.]*)", f.read_text(encoding="utf-8"), re.M):
            parts = module.split(".")
            other = parts[1] if len(parts) > 1 else "crosstrain"
            if other not in (me, "crosstrain"):
                edges[me].add(other)
    return edges


def test_no_import_cycle_between_packages():
    edges = package_imports()

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            for n in edges[todo.pop()]:
                if n == b:
                    return True
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in list(edges) for b in edges[a] if reaches(b, a)})
    assert not cycles, f"packages that import each other (directly or around a loop): {cycles}"
    assert edges["structure"] <= {"errors"}  # the ground floor: Structure needs nothing else
