"""Chemical species: an ordered map of the elements a model knows, keyed by atomic number.

Per-element parameters in crosstrain (embedding rows, energy shifts and scales) are indexed by
atomic number, so adding an element to a model is a data operation: append it to the map and
copy another element's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols, reference_states

from crosstrain.errors import ConfigError, SpeciesError

MAX_Z = 118


def to_atomic_number(element: str | int) -> int:
    """Return the atomic number of ``element`` (a symbol such as ``"Si"`` or a number)."""
    if isinstance(element, str):
        z = atomic_numbers.get(element.strip().capitalize())
        if z is None or z == 0:
            raise SpeciesError(f"unknown chemical element {element!r}")
        return z
    z = int(element)
    if not 1 <= z <= MAX_Z:
        raise SpeciesError(f"atomic number {element!r} is not an element (1..{MAX_Z})")
    return z


def symbol(z: int) -> str:
    """Chemical symbol of atomic number ``z``."""
    return chemical_symbols[to_atomic_number(z)]


@dataclass(frozen=True)
class SpeciesMap:
    """The ordered, duplicate-free list of atomic numbers a model knows."""

    numbers: tuple[int, ...]

    def __post_init__(self) -> None:
        nums = tuple(to_atomic_number(z) for z in self.numbers)
        if len(set(nums)) != len(nums):
            raise SpeciesError(f"duplicate element in species map {list(nums)}")
        object.__setattr__(self, "numbers", nums)

    @classmethod
    def from_elements(cls, elements: Iterable[str | int]) -> SpeciesMap:
        """Build a map from symbols or atomic numbers, keeping their order."""
        return cls(tuple(to_atomic_number(e) for e in elements))

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.numbers]

    def __contains__(self, element: object) -> bool:
        if isinstance(element, np.integer):
            element = int(element)
        if not isinstance(element, int | str):
            return False
        try:
            return to_atomic_number(element) in self.numbers
        except SpeciesError:
            return False

    def __iter__(self) -> Iterator[int]:
        return iter(self.numbers)

    def __len__(self) -> int:
        return len(self.numbers)

    def with_element(self, element: str | int) -> SpeciesMap:
        """Return a map with ``element`` appended (unchanged if already present)."""
        z = to_atomic_number(element)
        return self if z in self.numbers else SpeciesMap(self.numbers + (z,))

    def check(self, numbers: Sequence[int] | Iterable[int], source: str = "structure") -> None:
        """Raise :class:`SpeciesError` naming every element of ``numbers`` not in the map."""
        unknown = sorted({int(z) for z in numbers} - set(self.numbers))
        if unknown:
            names = ", ".join(chemical_symbols[z] if 0 < z <= MAX_Z else str(z) for z in unknown)
            raise SpeciesError(
                f"{source} contains element(s) {names} that the model does not know "
                f"(model elements: {', '.join(self.symbols) or 'none'})"
            )

    def to_json(self) -> list[str]:
        return self.symbols

    @classmethod
    def from_json(cls, data: Sequence[str | int]) -> SpeciesMap:
        return cls.from_elements(data)


def reference_crystal(element: str | int) -> tuple[str | None, float | None]:
    """ASE's reference crystal structure and lattice constant (Å) of ``element``: ``("diamond",
    5.658)`` for Ge; ``(None, None)`` where ASE has none."""
    state: dict[str, Any] = reference_states[to_atomic_number(element)] or {}  # an untyped ASE table
    a, symmetry = state.get("a"), state.get("symmetry")
    return (None if symmetry is None else str(symmetry)), (None if a is None else float(a))


#: the crystals whose cubic cell ASE builds from one lattice constant
CUBIC_CRYSTALS = ("diamond", "bcc", "fcc")


def cubic_crystal(element: str) -> str:
    """ASE's reference crystal of ``element`` if it is cubic with one lattice constant, else one line."""
    symmetry, _ = reference_crystal(element)
    if symmetry not in CUBIC_CRYSTALS:
        raise ConfigError(
            f"{element}: its reference crystal is {symmetry or 'unknown'}; crosstrain builds "
            f"{', '.join(CUBIC_CRYSTALS)} cells only"
        )
    return str(symmetry)


def lattice_guess(element: str) -> float:
    """ASE's reference lattice constant of ``element``, 5.5 Å where it has none."""
    return reference_crystal(element)[1] or 5.5
