"""Hyperparameters of the DimeNet++ potential and the named presets."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Annotated, Any, Literal

from pydantic import Field

from crosstrain.errors import ConfigError
from crosstrain.validation import Count, Positive, PositiveNumber, settings


@settings("model")
class DimeNetConfig:
    """Architecture of a DimeNet++ potential.

    ``envelope_p`` is the exponent p of the smooth cutoff polynomial (DimeNet's paper uses p = 6,
    which torch_geometric calls ``envelope_exponent=5``). ``output_init="zeros"`` is DimeNet++'s
    default: an untrained model predicts exactly zero energy and forces.
    """

    hidden_channels: Positive = 128
    out_emb_channels: Positive = 256
    int_emb_size: Positive = 64
    basis_emb_size: Positive = 8
    num_blocks: Positive = 4
    num_spherical: Positive = 7
    num_radial: Positive = 6
    envelope_p: Annotated[Count, Field(ge=2)] = 6
    cutoff: PositiveNumber = 5.0  # Å
    num_before_skip: Annotated[Count, Field(ge=0)] = 1
    num_after_skip: Annotated[Count, Field(ge=0)] = 2
    num_output_layers: Positive = 3
    activation: Literal["silu", "tanh", "softplus"] = "silu"
    output_init: Literal["zeros", "glorot"] = "zeros"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DimeNetConfig:
        return cls(**data)

    def replace(self, **changes: Any) -> DimeNetConfig:
        return replace(self, **changes)


#: DimeNet++'s default sizes (Gasteiger et al. 2020) with a 5 Å cutoff. Röcken & Zavadlav (2025) use
#: DimeNet++; that these are their exact sizes is assumed, not taken from the paper.
PAPER = DimeNetConfig()

#: A CPU preset ~8x cheaper per training step: embeddings a quarter of the paper's, 3 blocks and
#: a 4.2 Å cutoff, which keeps the first two neighbour shells of diamond Si (2.35, 3.84 Å) and
#: Ge (2.45, 4.00 Å) and leaves out the third (4.50, 4.69 Å). The Stillinger-Weber interactions
#: themselves end at 3.77 Å (Si) and 3.93 Å (Ge).
CPU = DimeNetConfig(
    hidden_channels=32,
    out_emb_channels=64,
    int_emb_size=16,
    basis_emb_size=8,
    num_blocks=3,
    num_spherical=7,
    num_radial=6,
    envelope_p=6,
    cutoff=4.2,
)

PRESETS: dict[str, DimeNetConfig] = {"paper": PAPER, "cpu": CPU}


def preset(name: str) -> DimeNetConfig:
    """The named preset (``"paper"`` or ``"cpu"``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown model preset {name!r}; choose from {', '.join(PRESETS)}") from None
