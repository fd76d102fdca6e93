"""Importing mace-torch without losing ``torch.load``'s weights-only protection.

``import mace`` sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` for the whole process (e3nn 0.4.4 needs
it to read its own constants file), which would turn every later ``torch.load`` into a full
unpickler. crosstrain imports mace through :func:`mace_modules`, which sets the variable only while
the import runs and restores it afterwards.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType

from crosstrain.errors import ConfigError

#: the mace-torch release whose tensor layout crosstrain maps element by element (tested)
MACE_VERSION = "0.3.16"
_FLAG = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


@contextlib.contextmanager
def _unsafe_load_during_import() -> Iterator[None]:
    before = os.environ.get(_FLAG)
    os.environ[_FLAG] = "1"
    try:  # quietly: mace prints a line about an optional GPU library, e3nn warns about the flag
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if before is None:
            os.environ.pop(_FLAG, None)
        else:
            os.environ[_FLAG] = before


def mace_modules() -> ModuleType:
    """``mace.modules``, imported with the weights-only flag restored; a one-line error without it.
    (If the user's own code imported mace first, mace has already switched the protection off.)"""
    if "mace.modules" in sys.modules and "mace.tools.scripts_utils" in sys.modules:
        return sys.modules["mace.modules"]  # imported and checked before: the flag is not touched again
    with _unsafe_load_during_import():
        try:
            version = importlib.import_module("mace.__version__").__version__
            modules = importlib.import_module("mace.modules")
            importlib.import_module("mace.tools.scripts_utils")
        except ImportError as exc:
            raise ConfigError(
                f"MACE models need mace-torch {MACE_VERSION} ({exc}); install it with: pip install 'crosstrain[mace]'"
            ) from None
    if version != MACE_VERSION:
        raise ConfigError(
            f"mace-torch {version} is installed; crosstrain maps MACE's per-element tensors as laid out "
            f"in {MACE_VERSION}: pip install 'mace-torch=={MACE_VERSION}'"
        )
    return modules


@contextlib.contextmanager
def default_dtype(dtype: object) -> Iterator[None]:
    """mace-torch modules take ``torch.get_default_dtype()`` when built: build them in ``dtype``."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # type: ignore[arg-type]
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def mace_calculator() -> type:
    """mace-torch's ``MACECalculator`` class, imported with the weights-only flag restored."""
    mace_modules()
    if "mace.calculators" not in sys.modules:
        with _unsafe_load_during_import():
            importlib.import_module("mace.calculators")
    calculator: type = sys.modules["mace.calculators"].MACECalculator
    return calculator
