"""crosstrain: transfer learning of machine-learning interatomic potentials across elements."""

__version__ = "0.1.0"
