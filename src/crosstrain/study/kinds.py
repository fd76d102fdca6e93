"""The kinds of data a study trains and tests on: the ``data`` block of a spec.

``sw``: Stillinger–Weber data made with LAMMPS; ``mlearn``: the mlearn DFT sets; ``explored``: a
DFT-labelled test set made by crosstrain itself, for active-learning arms (which choose and label
their own training structures). Each builds its files in ``<study>/data`` once, resumably.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from crosstrain.errors import ConfigError
from crosstrain.validation import one_line

DATA_KINDS = ("sw", "mlearn", "explored")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SWData(_Strict):
    """Stillinger–Weber data made with LAMMPS (``protocol``: :class:`crosstrain.data.sw.SWProtocol`)."""

    kind: Literal["sw"]
    source: str = "Si"
    target: str = "Ge"
    protocol: dict[str, Any] = Field(default_factory=dict)
    split_seed: int = 0

    stratify_key: ClassVar[str] = "temperature"  # the info field seeds draw validation sets by

    def build(self, out: Path, valid_size: int, progress: bool) -> None:
        """Generate (or finish) the data in ``out``; resumable."""
        from crosstrain.data.sw import SWProtocol
        from crosstrain.data.sw_dataset import build_sw_dataset

        build_sw_dataset(out, (self.source, self.target), SWProtocol(**self.protocol), progress=progress)


class MlearnData(_Strict):
    """The mlearn DFT sets (shipped, or under ``root``), and any element labelled by crosstrain in
    the same layout (``<root>/<El>/training.extxyz.gz``, :mod:`crosstrain.dft.sampling`)."""

    kind: Literal["mlearn"]
    source: str = "Si"
    target: str = "Ge"
    root: str | None = None
    n_test: int | dict[str, int] = 25  # per element, e.g. {Si: 0, Ge: 25}: the shipped Si parents' split
    split_seed: int = 0

    stratify_key: ClassVar[str] = "group"

    def build(self, out: Path, valid_size: int, progress: bool) -> None:
        """Write the leak-free split to ``out`` once (the shipped files are read, not generated)."""
        from crosstrain.data.mlearn_dataset import build_mlearn_dataset

        if not (out / "manifest.json").exists():
            elements = (self.source, self.target)
            build_mlearn_dataset(
                out, root=self.root, elements=elements, n_valid=valid_size, n_test=self.n_test, seed=self.split_seed
            )


class ExploredData(_Strict):
    """A test set for active-learning arms: Langevin MD with the target's Stillinger–Weber potential
    on the explorer's kinds of cell (:func:`crosstrain.active.explore.sw_test_set`), labelled with
    GPAW at ``dft`` (:class:`crosstrain.dft.settings.DFTSettings`; the arms label at the same
    setting). There is no training pool: each run chooses its structures."""

    kind: Literal["explored"]
    source: str = "Si"
    target: str = "Ge"
    temperatures: tuple[float, ...] = (300.0, 800.0, 1300.0, 1800.0)
    kinds: tuple[str, ...] = ("bulk", "strained", "vacancy", "surface")
    frames: int = Field(2, ge=1)
    md_steps: int = Field(300, ge=2)  # 1 fs steps between frames
    lattice: float | None = Field(None, gt=0)  # default: the element's tabulated diamond lattice
    seed: int = 987_654  # a seed no run uses
    dft: dict[str, Any] = Field(default_factory=dict)
    workers: int | None = None  # DFT processes (default: one per core)
    explore: dict[str, Any] = Field(default_factory=dict)  # how the arms' runs explore (ExploreSettings)

    stratify_key: ClassVar[str] = "group"

    def build(self, out: Path, valid_size: int, progress: bool) -> None:
        """Make and label the test set once (labels are cached: a killed build resumes)."""
        from crosstrain.active.explore import ExploreSettings, sw_test_set
        from crosstrain.data.extxyz import write_structures
        from crosstrain.dft.label import label_structures
        from crosstrain.workflows.properties import lattice_guess

        path = out / f"{self.target}.test.extxyz"
        if path.exists():
            return
        settings = ExploreSettings(
            temperatures=self.temperatures, kinds=self.kinds, md_steps=self.md_steps, frames=self.frames
        )
        lattice = self.lattice or lattice_guess(self.target)
        geometries = sw_test_set(self.target, settings=settings, seed=self.seed, lattice=lattice)
        labels = label_structures(geometries, out / "labels", self.dft_settings(), workers=self.workers)
        write_structures(path, [lab.apply(s) for s, lab in zip(geometries, labels.labels, strict=True) if lab.ok])

    def dft_settings(self) -> Any:
        from crosstrain.dft.settings import DFTSettings

        return DFTSettings(**self.dft)

    def explore_settings(self) -> Any:
        from crosstrain.active.explore import ExploreSettings

        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in self.explore.items()}
        return ExploreSettings(**given)


DataSpec = Annotated[SWData | MlearnData | ExploredData, Field(discriminator="kind")]


def data_spec(data: dict[str, Any]) -> SWData | MlearnData | ExploredData:
    """The typed data block of a validated spec (``StudySpec.data`` keeps the plain dict for JSON)."""
    try:
        return TypeAdapter(DataSpec).validate_python(data)
    except ValidationError as exc:
        if exc.errors()[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise ConfigError(f"data.kind: must be one of {DATA_KINDS}") from None
        raise ConfigError(one_line(exc, skip=DATA_KINDS)) from None
