"""Reading result records back from their JSON: one reader per record, errors that name the field.

Results that cross a package boundary (evaluation errors, training and zero-shot reports, MD runs,
stability reports, properties tables, study rows and cells, active-learning rounds) are frozen
dataclasses with a class constant ``SCHEMA_VERSION``, written by their one ``to_json()`` (the JSON
layout of the files already on disk, unchanged) and read by their one ``from_json(data)``, which
uses :class:`Fields`: a missing field or one of the wrong JSON type raises a
:class:`~crosstrain.errors.SchemaError` naming the record and the field::

    f = Fields(data, "Metrics")
    n = f.number("n_structures")      # SchemaError: Metrics: field 'n_structures' is missing

A record whose JSON is its fields by name, in order, needs no reader or writer of its own: it
derives from :class:`JSONRecord`, whose ``to_json`` is :func:`dump` and ``from_json`` is
:func:`load`, which reads the fields by their annotations (numbers, integers, strings, flags,
``X | None``, tuples, lists and ``dict[str, X]`` of those, nested records)::

    @dataclass(frozen=True)
    class Spread(JSONRecord):
        mean: float | None
        runs: tuple[float, ...]

A field's ``metadata`` can say :data:`OMIT_NONE` (left out of the JSON while ``None``),
:data:`FLAT` (a nested record whose fields stand in this object, as ``**provenance`` wrote them)
or :data:`NOT_JSON` (not written, not read: arrays kept next to the numbers). Every field is required in the
JSON but an :data:`OMIT_NONE` one (``None`` when absent: also for files written before it existed).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar

from crosstrain.errors import SchemaError

T = TypeVar("T")

#: field metadata: leave the field out of the JSON while it is ``None``
OMIT_NONE: Mapping[str, bool] = types.MappingProxyType({"omit_none": True})
#: field metadata: a nested record whose fields are written into (and read from) this JSON object
FLAT: Mapping[str, bool] = types.MappingProxyType({"flat": True})
#: field metadata: not part of the JSON (arrays or objects kept next to the numbers)
NOT_JSON: Mapping[str, bool] = types.MappingProxyType({"json": False})


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


def plain(value: Any) -> Any:
    """``value`` as JSON data: a record by its ``to_json()`` (a dataclass without one by
    :func:`dump`), tuples and lists as arrays, dicts as objects; anything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_json = getattr(value, "to_json", None)
        return to_json() if callable(to_json) else dump(value)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def dump(record: Any) -> dict[str, Any]:
    """The JSON object of a dataclass record: its fields by name, in their order (see the module
    docstring for :data:`OMIT_NONE`, :data:`FLAT` and :data:`NOT_JSON`)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        if not f.metadata.get("json", True):
            continue
        value = getattr(record, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        if f.metadata.get("flat"):
            out.update(plain(value))
        else:
            out[f.name] = plain(value)
    return out


@functools.cache
def _annotations(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def load(cls: type[T], data: Any) -> T:
    """The record ``cls`` read from its JSON object ``data`` by its fields' annotations; a missing
    field (but an :data:`OMIT_NONE` one), or one of the wrong JSON type, raises a
    :class:`SchemaError` naming the record and the field. Fields the record does not know are
    ignored."""
    name = cls.__name__
    f = Fields(data, name)
    hints = _annotations(typing.cast(type, cls))
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init or not field.metadata.get("json", True):
            continue
        kind = hints[field.name]
        if field.metadata.get("flat"):
            values[field.name] = _read(f.data, kind, f"{name}: its fields of {getattr(kind, '__name__', kind)}")
            continue
        if field.name not in f and field.metadata.get("omit_none"):
            continue  # its default, None
        values[field.name] = _read(f.value(field.name), kind, f"{name}: field {field.name!r}")
    return cls(**values)


def _read(value: Any, kind: Any, where: str) -> Any:
    """``value`` as the annotation ``kind``; errors start with ``where``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any or kind is object:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"{where}: only X | None unions are read, not {kind}")
        return _read(value, rest[0], where)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(where, "a number", value)
        return float(value)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(where, "an integer", value)
        return value
    if kind is str or kind is bool:
        if not isinstance(value, kind):
            raise _wrong(where, "a string" if kind is str else "true or false", value)
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _wrong(where, "an array", value)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"{where}: only tuple[X, ...] is read, not {kind}")
        if args[0] is float and any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
            raise _wrong(where, "an array of numbers", value)  # as Fields.numbers says it
        items = [_read(v, args[0], f"{where}, item {k}") for k, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _wrong(where, "an object", value)
        return {str(k): _read(v, args[1], f"{where}, entry {k!r}") for k, v in value.items()}
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        read = getattr(kind, "from_json", None)
        try:
            return read(value) if callable(read) else load(kind, value)
        except SchemaError as exc:
            raise SchemaError(f"{where}: {exc}") from None
    raise TypeError(f"{where}: cannot read an annotation {kind!r} from JSON")


class JSONRecord:
    """The base of a dataclass record whose JSON is its fields (see the module docstring): its
    ``to_json()`` is :func:`dump`, its ``from_json(data)`` :func:`load`."""

    def to_json(self) -> dict[str, Any]:
        return dump(self)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        return load(cls, data)


def _wrong(where: str, want: str, value: object) -> SchemaError:
    return SchemaError(f"{where} must be {want}, got {_kind(value)}")
