"""Validated settings: frozen dataclasses checked by pydantic, with one-line :class:`ConfigError`\\ s.

    @settings("train")
    class TrainConfig:
        lr: Annotated[Number, Field(gt=0)] = 1e-3

A class decorated with :func:`settings` is a pydantic dataclass (frozen, unknown keys refused),
so ``dataclasses.replace``/``asdict``/pickling work as for any dataclass and every construction
is validated. A bad value raises ``ConfigError("train.lr: Input should be greater than 0, got -1")``
instead of pydantic's multi-line report. :data:`Number` and :data:`Count` refuse strings and
booleans (``lr: "1e-3 "`` is a typo, not a number) and accept NumPy scalars; :data:`Count`
accepts whole floats (``epochs: 1e2``) and refuses others (``warmup_steps: 12.7``).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, TypeVar, dataclass_transform

import numpy as np
from pydantic import BeforeValidator, ConfigDict, Field, Strict, ValidationError
from pydantic.dataclasses import dataclass

from crosstrain.errors import ConfigError


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _whole_number(value: Any) -> Any:
    value = _python_scalar(value)
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A real number (ints accepted); strings and booleans are refused.
Number = Annotated[float, BeforeValidator(_python_scalar), Strict()]
#: An integer (whole floats such as ``1e2`` accepted); other floats, strings and booleans are refused.
Count = Annotated[int, BeforeValidator(_whole_number), Strict()]
#: A number > 0 and an integer >= 1.
PositiveNumber = Annotated[Number, Field(gt=0)]
Positive = Annotated[Count, Field(ge=1)]

T = TypeVar("T")


def one_line(
    exc: ValidationError, section: str = "", *, known: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> str:
    """A pydantic error as one line naming the setting, e.g. ``train.lr: ... , got -1`` (``skip``:
    location parts that are not settings, such as the tags of a discriminated union)."""
    first = exc.errors()[0]
    loc = [str(x) for x in first["loc"] if x not in skip]
    where = ".".join([section] * bool(section) + loc) or section
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        message = "unknown key" + (f" (known: {', '.join(known)})" if known else "")
    elif first["loc"] and "input" in first and first["type"] != "missing":
        shown = repr(first["input"])
        message += f", got {shown if len(shown) <= 60 else shown[:57] + '...'}"
    extra = f" (more: {len(exc.errors()) - 1})" if len(exc.errors()) > 1 else ""
    return f"{where}: {message}{extra}"


@dataclass_transform(frozen_default=True, field_specifiers=(Field,))
def settings(section: str) -> Any:
    """Make a class a validated, frozen settings dataclass whose errors name ``section``."""

    def wrap(cls: type[T]) -> type[T]:
        validated = dataclass(frozen=True, config=ConfigDict(extra="forbid"))(cls)
        init = validated.__init__
        known = tuple(validated.__dataclass_fields__)

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as exc:
                raise ConfigError(one_line(exc, section, known=known)) from None

        validated.__init__ = __init__  # type: ignore[method-assign]  # one-line ConfigErrors on every construction
        return validated  # type: ignore[return-value]  # the same class, now a pydantic dataclass

    return wrap
