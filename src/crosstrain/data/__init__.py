"""Data: the labelled-structure boundary type, readers and writers, data sets and splits."""

from crosstrain.structure import Structure

__all__ = ["Structure"]
