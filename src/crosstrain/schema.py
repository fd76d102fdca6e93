"""Reading result records back from their JSON: one reader per record, errors that name the field.

Results that cross a package boundary (evaluation errors, training and zero-shot reports, MD runs,
stability reports, properties tables, study rows and cells, active-learning rounds) are frozen
dataclasses with a class constant ``SCHEMA_VERSION``, written by their one ``to_json()`` (the JSON
layout of the files already on disk, unchanged) and read by their one ``from_json(data)``, which
uses :class:`Fields`: a missing field or one of the wrong JSON type raises a
:class:`~crosstrain.errors.SchemaError` naming the record and the field::

    f = Fields(data, "Metrics")
    n = f.number("n_structures")      # SchemaError: Metrics: field 'n_structures' is missing
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from crosstrain.errors import SchemaError

T = TypeVar("T")


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Fields:
    """The fields of one JSON object, read for a record's ``from_json`` (``record`` names it in errors)."""

    def __init__(self, data: object, record: str) -> None:
        if not isinstance(data, Mapping):
            raise SchemaError(f"{record}: expected a JSON object, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.label = record

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def names(self) -> list[str]:
        """Every field name, in the order of the JSON object."""
        return [str(k) for k in self.data]

    def value(self, name: str) -> Any:
        """A required field, any JSON value."""
        if name not in self.data:
            raise SchemaError(f"{self.label}: field {name!r} is missing")
        return self.data[name]

    def _wrong(self, name: str, want: str) -> SchemaError:
        return SchemaError(f"{self.label}: field {name!r} must be {want}, got {_kind(self.data[name])}")

    def number(self, name: str) -> float:
        """A required number (an integer is read as a float)."""
        v = self.value(name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self._wrong(name, "a number")
        return float(v)

    def number_or_none(self, name: str) -> float | None:
        """A required field holding a number or null."""
        return None if self.value(name) is None else self.number(name)

    def integer(self, name: str) -> int:
        v = self.value(name)
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise self._wrong(name, "an integer")
        return v

    def text(self, name: str) -> str:
        v = self.value(name)
        if not isinstance(v, str):
            raise self._wrong(name, "a string")
        return v

    def text_or_none(self, name: str) -> str | None:
        return None if self.value(name) is None else self.text(name)

    def flag(self, name: str) -> bool:
        v = self.value(name)
        if not isinstance(v, bool):
            raise self._wrong(name, "true or false")
        return v

    def mapping(self, name: str) -> dict[str, Any]:
        """A required JSON object (a copy)."""
        v = self.value(name)
        if not isinstance(v, Mapping):
            raise self._wrong(name, "an object")
        return dict(v)

    def listing(self, name: str) -> list[Any]:
        """A required JSON array (a copy)."""
        v = self.value(name)
        if not isinstance(v, list | tuple):
            raise self._wrong(name, "an array")
        return list(v)

    def numbers(self, name: str) -> list[float]:
        """A required JSON array of numbers."""
        values = self.listing(name)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise self._wrong(name, "an array of numbers")
        return [float(v) for v in values]

    def record(self, name: str, read: Callable[[Any], T]) -> T:
        """A required nested record, read by ``read`` (its class's ``from_json``); its errors name this field."""
        value = self.value(name)
        try:
            return read(value)
        except SchemaError as exc:
            raise SchemaError(f"{self.label}: field {name!r}: {exc}") from None

    def optional_record(self, name: str, read: Callable[[Any], T]) -> T | None:
        """A nested record that may be absent (or null)."""
        return None if self.data.get(name) is None else self.record(name, read)

    def records(self, name: str, read: Callable[[Any], T]) -> dict[str, T]:
        """A required JSON object of records, each read by ``read``."""
        out = {}
        for key, value in self.mapping(name).items():
            try:
                out[str(key)] = read(value)
            except SchemaError as exc:
                raise SchemaError(f"{self.label}: field {name!r}, entry {key!r}: {exc}") from None
        return out
