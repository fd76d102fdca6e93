"""Exceptions raised by crosstrain.

Every error a user can cause (bad input, unknown element, broken checkpoint) is a
:class:`CrosstrainError`; the CLI prints its one-line message and exits non-zero.
"""

from __future__ import annotations


class CrosstrainError(Exception):
    """Base class for user-facing errors; the message is one line and names its source."""


class SpeciesError(CrosstrainError, ValueError):
    """An element the model or data set does not know, or an invalid species map."""


class StructureError(CrosstrainError, ValueError):
    """A structure with invalid contents: NaN, shape mismatch, degenerate cell."""


class DataFileError(CrosstrainError, ValueError):
    """A data file that cannot be read; the message names the file and record."""


class CheckpointError(CrosstrainError, ValueError):
    """A checkpoint that cannot be loaded: corrupted, truncated, newer, or inconsistent."""


class ConfigError(CrosstrainError, ValueError):
    """An invalid configuration value."""


class SchemaError(CrosstrainError, ValueError):
    """JSON that does not hold the result record it should; the message names the record and the field."""
