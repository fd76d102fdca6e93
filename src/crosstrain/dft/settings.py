"""DFT settings: one recorded, hashed block that says how every label was computed.

A label is only comparable with labels computed with the same settings, so every cached label
carries the settings' hash and a cache entry is reused only for the same structure *and* the
same hash. The defaults are PBE plane waves as GPAW recommends for Ge/Si bulk (350 eV, assumed;
checked against the mlearn PBE data by ``benchmarks/dft-energies/dft_consistency.py``), Fermi–Dirac
smearing of 0.1 eV, Γ-centred k-points at a density of 3.5 points per Å⁻¹ (ASE's
``kpts={'density': ...}``), and SCF convergence to 1e-6 eV per valence electron in energy and
1e-5 in density. ``setups`` picks another PAW setup per element (GPAW's ``setups={"Na": "1"}``: the
1-electron sodium setup instead of the default with its 2s2p semicore); absent from the settings'
dictionary and hash when empty, so the labels made before it existed keep their hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from crosstrain.errors import ConfigError

CODES = ("gpaw",)


@dataclass(frozen=True)
class DFTSettings:
    code: str = "gpaw"
    xc: str = "PBE"
    ecut_ev: float = 350.0  # plane-wave cutoff
    kpoint_density: float = 3.5  # k-points per Å⁻¹ along each reciprocal vector, Γ-centred
    smearing_ev: float = 0.1  # Fermi–Dirac width
    energy_tolerance_ev: float = 1e-6  # per valence electron, over the last SCF steps
    density_tolerance: float = 1e-5
    max_scf_steps: int = 300
    setups: tuple[tuple[str, str], ...] = ()  # (element, GPAW setup name), e.g. (("Na", "1"),)

    def __post_init__(self) -> None:
        for f in fields(self):  # 350 and 350.0 are the same setting (and the same hash)
            if f.type == "float":
                object.__setattr__(self, f.name, float(getattr(self, f.name)))
        given = list(self.setups.items() if isinstance(self.setups, dict) else self.setups)
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in given):
            raise ConfigError(f"DFT setting setups: give element=setup pairs, e.g. Na=1, not {self.setups!r}")
        object.__setattr__(self, "setups", tuple(sorted((e, n) for e, n in given)))
        if self.code not in CODES:
            raise ConfigError(f"DFT code {self.code!r} is not supported (choose from {', '.join(CODES)})")
        for name in ("ecut_ev", "kpoint_density", "energy_tolerance_ev", "density_tolerance", "max_scf_steps"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"DFT setting {name} must be positive (got {value})")
        if self.smearing_ev < 0:
            raise ConfigError(f"DFT setting smearing_ev must be >= 0 (got {self.smearing_ev})")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.setups:
            data["setups"] = dict(self.setups)
        else:
            del data["setups"]  # the hash of every setting without it stays what it was
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DFTSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown DFT setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data)

    @property
    def sha256(self) -> str:
        """Hash of the settings (canonical JSON): labels with different hashes are never mixed."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def gpaw_parameters(self) -> dict[str, Any]:
        """Keyword arguments of ``gpaw.GPAW`` for these settings (plain data, no GPAW import)."""
        return {
            "mode": {"name": "pw", "ecut": self.ecut_ev},
            "xc": self.xc,
            "kpts": {"density": self.kpoint_density, "gamma": True},
            "occupations": {"name": "fermi-dirac", "width": self.smearing_ev},
            "convergence": {"energy": self.energy_tolerance_ev, "density": self.density_tolerance},
            "maxiter": self.max_scf_steps,
            **({"setups": dict(self.setups)} if self.setups else {}),
        }
