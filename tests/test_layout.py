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


def test_only_the_model_package_names_a_concrete_architecture():
    """Everything outside ``crosstrain.model`` talks to the model contract (``AtomisticModel``) and
    the registry (``build_model``), never to DimeNet++ or MACE themselves; the model package stands on the ground
    floor (graphs, species, errors, validation) and imports nothing above it."""
    concrete = re.compile(r"^\s*(?:from|import)\s+crosstrain\.model\.(?:dimenet|mace)\b", re.M)
    offenders = [
        str(f.relative_to(ROOT))
        for f in ROOT.rglob("*.py")
        if f.relative_to(ROOT).parts[0] != "model" and concrete.search(f.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"modules outside crosstrain.model importing an architecture: {offenders}"
    assert package_imports()["model"] <= {"graph", "species", "errors", "validation"}
