"""Hyperparameters of a MACE potential (through mace-torch) and the named presets.

The fields are mace-torch's ``ScaleShiftMACE`` arguments under crosstrain's names (``cutoff`` is
mace's ``r_max``). Only settings under which a per-element copy is exact are offered: Bessel radial
basis, no ZBL pair repulsion, no distance transform, one head, the two ``RealAgnostic`` interaction
blocks whose only per-element tensor is the skip connection.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Annotated, Any, Literal

from pydantic import Field

from crosstrain.errors import ConfigError
from crosstrain.validation import Count, Positive, PositiveNumber, settings

#: interaction blocks whose per-element tensors crosstrain knows how to map (skip_tp only)
INTERACTIONS = ("RealAgnosticResidualInteractionBlock", "RealAgnosticInteractionBlock")
Interaction = Literal["RealAgnosticResidualInteractionBlock", "RealAgnosticInteractionBlock"]


@settings("model")
class MaceConfig:
    """Architecture of a MACE potential (Batatia et al. 2022) built by mace-torch.

    ``hidden_irreps`` sets the channels and their symmetry (``32x0e`` an invariant model,
    ``32x0e+32x1o`` one with vector features); ``correlation`` is the body order of each product
    minus one; ``avg_num_neighbors`` normalises the message sum (about 20-30 neighbours within 5 Å in
    diamond Ge and Si).
    """

    cutoff: PositiveNumber = 5.0  # Å (mace's r_max)
    num_bessel: Positive = 8
    num_polynomial_cutoff: Positive = 5
    max_ell: Annotated[Count, Field(ge=0, le=4)] = 3
    num_interactions: Positive = 2
    correlation: Annotated[Count, Field(ge=1, le=4)] = 3
    hidden_irreps: str = "32x0e"
    mlp_irreps: str = "16x0e"
    radial_mlp: tuple[Positive, ...] = (64, 64, 64)
    avg_num_neighbors: PositiveNumber = 20.0
    interaction: Interaction = "RealAgnosticResidualInteractionBlock"
    interaction_first: Interaction = "RealAgnosticResidualInteractionBlock"
    gate: Literal["silu", "tanh", "softplus"] = "silu"
    use_reduced_cg: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["radial_mlp"] = list(self.radial_mlp)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaceConfig:
        return cls(**data)

    def replace(self, **changes: Any) -> MaceConfig:
        return replace(self, **changes)


#: mace-torch's usual "small" model (invariant, 2 interactions, body order 4) at a 5 Å cutoff
CPU = MaceConfig()
#: vector features as well (about twice the cost per step; closer to mace's published defaults)
PAPER = MaceConfig(hidden_irreps="64x0e+64x1o", num_bessel=8, avg_num_neighbors=20.0)

PRESETS: dict[str, MaceConfig] = {"cpu": CPU, "paper": PAPER}


def preset(name: str) -> MaceConfig:
    """The named MACE preset (``"cpu"`` or ``"paper"``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown MACE preset {name!r}; choose from {', '.join(PRESETS)}") from None
