"""mace-torch model files in and out of crosstrain.

- :func:`read_mace_file`: a user's own mace-torch model (``torch.save`` of a ``ScaleShiftMACE``, as
  ``mace_run_train`` writes it) as a crosstrain :class:`~crosstrain.model.mace.network.MACEModel`,
  so it can be a parent (``crosstrain transfer --from my_si.model --map Ge=Si``), or be evaluated,
  run in MD and so on. Its reference energies E0 and its scale and shift become the per-element
  energy shift and scale of the shared wrapper. Settings under which a per-element copy would not
  be exact (ZBL, distance transforms, several heads, other interaction blocks) are refused.
- :func:`write_mace_file`: a crosstrain MACE model as a mace-torch model file that
  ``MACECalculator(model_paths=...)`` and mace's own tools load, with the same energies. The
  ``rescaled`` length scale is folded into the radial basis (its Bessel frequencies, prefactor and
  cutoff radius), which is exact when every element has the same length and energy scale.

Reading a mace-torch file unpickles it (``torch.load(weights_only=False)``), as mace-torch itself
does: give only files you trust. crosstrain's own checkpoints are safetensors and never unpickled.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crosstrain.errors import CheckpointError, ConfigError
from crosstrain.model.mace._library import MACE_VERSION, mace_modules
from crosstrain.model.mace.config import INTERACTIONS, MaceConfig
from crosstrain.model.mace.elements import grow
from crosstrain.model.mace.network import GATES, MACEModel, build_network
from crosstrain.species import SpeciesMap, symbol

#: mace-torch settings crosstrain maps exactly, with the value each must have
_REQUIRED: dict[str, Any] = {
    "pair_repulsion": False,
    "distance_transform": None,
    "radial_type": "bessel",
    "embedding_specs": None,
    "use_agnostic_product": False,
    "use_so3": False,
    "use_embedding_readout": False,
    "use_edge_irreps_first": False,
    "apply_cutoff": True,
    "use_last_readout_only": False,
}


def _fail(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path}: {reason}")


def _settings(path: Path, net: nn.Module) -> dict[str, Any]:
    from mace.tools.scripts_utils import extract_config_mace_model

    found = extract_config_mace_model(net)
    if "error" in found:
        raise _fail(path, f"not a ScaleShiftMACE model ({type(net).__name__}); crosstrain reads those")
    heads = getattr(net, "heads", ["Default"])
    if len(heads) != 1:
        raise _fail(path, f"a multi-head MACE ({', '.join(heads)}): give a single-head model")
    for key, wanted in _REQUIRED.items():
        value = found.get(key)
        if not (value in (None, "None") if wanted is None else value == wanted):
            raise _fail(path, f"{key}={value}: with it a per-element copy would not be exact ({key}={wanted} is)")
    gate = found.get("gate")
    if getattr(gate, "__name__", None) not in GATES:
        raise _fail(path, f"readout gate {gate!r}: crosstrain builds MACE with one of {', '.join(GATES)}")
    if getattr(found.get("readout_cls"), "__name__", "") != "NonLinearReadoutBlock":
        raise _fail(path, f"readout {found.get('readout_cls')}: crosstrain builds NonLinearReadoutBlock readouts")
    for key in ("interaction_cls", "interaction_cls_first"):
        if found[key].__name__ not in INTERACTIONS:
            raise _fail(
                path, f"interaction block {found[key].__name__} is not one crosstrain maps ({', '.join(INTERACTIONS)})"
            )
    if found.get("cueq_config") is not None and getattr(found["cueq_config"], "enabled", False):
        raise _fail(path, "a cuEquivariance model: convert it back to e3nn first (mace's cueq_to_e3nn)")
    return found


def _correlation(path: Path, net: Any) -> int:
    """The body order minus one of every product (mace's extractor reads the first one only)."""
    orders = {len(p.symmetric_contractions.contractions[0].weights) + 1 for p in net.products}
    if len(orders) != 1:
        raise _fail(path, f"correlation differs between layers ({sorted(orders)}); crosstrain takes one value")
    return orders.pop()


def _config(path: Path, found: dict[str, Any], net: Any) -> MaceConfig:
    correlation = _correlation(path, net)
    gate: Any = found["gate"].__name__
    try:
        return MaceConfig(
            cutoff=float(found["r_max"]),
            num_bessel=int(found["num_bessel"]),
            num_polynomial_cutoff=int(found["num_polynomial_cutoff"]),
            max_ell=int(found["max_ell"]),
            num_interactions=int(found["num_interactions"]),
            correlation=int(correlation),
            hidden_irreps=str(found["hidden_irreps"]),
            mlp_irreps=str(found["MLP_irreps"]),
            radial_mlp=tuple(int(x) for x in found["radial_MLP"]),
            avg_num_neighbors=float(found["avg_num_neighbors"]),
            interaction=found["interaction_cls"].__name__,
            interaction_first=found["interaction_cls_first"].__name__,
            gate=gate,
            use_reduced_cg=bool(found["use_reduced_cg"]),
        )
    except ConfigError as exc:
        raise _fail(path, f"a MACE setting crosstrain does not offer ({exc})") from None


def read_mace_file(path: str | os.PathLike[str]) -> MACEModel:
    """A mace-torch model file as a crosstrain MACE model (same energies, float dtype kept)."""
    p = Path(path)
    mace_modules()
    try:
        net = torch.load(p, map_location="cpu", weights_only=False)  # noqa: S614 (mace files are pickles)
    except Exception as exc:  # unpickling raises anything
        raise _fail(
            p, f"not readable as a mace-torch {MACE_VERSION} model file ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(net, nn.Module):
        raise _fail(p, f"holds a {type(net).__name__}, not a mace-torch model")
    try:
        return _as_crosstrain(p, net)
    except (CheckpointError, ConfigError):
        raise
    except Exception as exc:  # a model of another mace-torch version fails anywhere in the extraction
        raise _fail(
            p, f"not a mace-torch {MACE_VERSION} model crosstrain can map ({type(exc).__name__}: {exc})"
        ) from None


def _as_crosstrain(path: Path, net: nn.Module) -> MACEModel:
    found = _settings(path, net)
    config = _config(path, found, net)
    table = [int(z) for z in found["atomic_numbers"]]
    dtype = next(net.parameters()).dtype
    model = MACEModel(config, SpeciesMap(tuple(sorted(table))))
    state = {k: v.to(torch.float64) if v.is_floating_point() else v for k, v in net.state_dict().items()}
    e0 = state["atomic_energies_fn.atomic_energies"].reshape(-1).clone()  # [E], or one row per head [1, E]
    scale, shift = (float(state[f"scale_shift.{k}"].reshape(-1)[0]) for k in ("scale", "shift"))
    built = model.net.state_dict()
    held = {"atomic_energies_fn.atomic_energies": 0.0, "scale_shift.scale": 1.0, "scale_shift.shift": 0.0}
    for name, value in held.items():  # the wrapper holds these (below); the network gets neutral ones
        state[name] = torch.full_like(built[name], value)
    wrong = sorted(
        k for k in set(state) | set(built) if k not in state or k not in built or state[k].shape != built[k].shape
    )
    if wrong:
        raise _fail(path, f"tensor {wrong[0]} does not match mace-torch {MACE_VERSION}'s layout for its settings")
    model.net.load_state_dict(state, strict=True)
    model._index_elements()  # the file's element order (normally sorted) decides the one-hot columns
    with torch.no_grad():
        for z, e in zip(table, e0.tolist()):
            model.energy_shift[z] = e + shift
            model.energy_scale[z] = scale
    return model.to(dtype).eval()


def _uniform(model: MACEModel, name: str, table: list[int]) -> float:
    """The one value of a per-element table that a mace-torch file can hold."""
    values = {float(getattr(model, name)[z]) for z in table}
    if len(values) != 1:
        per = ", ".join(f"{symbol(z)} {float(getattr(model, name)[z]):.4f}" for z in table)
        raise ConfigError(
            f"a mace-torch file has one {name.replace('_', ' ')} for all elements; this model's differ ({per}): "
            f"export some of them only (--elements {symbol(table[-1])})"
        )
    return values.pop()


def _subset(model: MACEModel, elements: list[str] | None) -> tuple[nn.Module, list[int]]:
    """A copy of the network knowing ``elements`` only (all of the model's by default)."""
    full = copy.deepcopy(model.net).cpu().double()  # float64 (mace's default for files): no digit lost
    if not elements:
        return full, model.table
    wanted = SpeciesMap.from_elements(elements)
    model.species.check(list(wanted.numbers), source="--elements")
    net = build_network(model.config, sorted(wanted.numbers), torch.float64)
    net.load_state_dict(grow(full, net, {}))
    return net, sorted(wanted.numbers)


def mace_network(model: MACEModel, elements: list[str] | None = None) -> nn.Module:
    """The mace-torch ``ScaleShiftMACE`` computing exactly ``model``'s energies (of ``elements``)."""
    plain, table = _subset(model, elements)
    scale, length = _uniform(model, "energy_scale", table), _uniform(model, "length_scale", table)
    net: Any = plain
    with torch.no_grad():
        e0 = torch.tensor([float(model.energy_shift[z]) for z in table], dtype=torch.float64)
        net.atomic_energies_fn.atomic_energies.copy_(e0.reshape(net.atomic_energies_fn.atomic_energies.shape))
        net.scale_shift.scale.fill_(scale)
        net.scale_shift.shift.fill_(0.0)
        # the network saw lengths multiplied by s: sin(w s r) / (s r) and the envelope of s r / r_max
        bessel, envelope = net.radial_embedding.bessel_fn, net.radial_embedding.cutoff_fn
        bessel.bessel_weights.mul_(length)
        bessel.prefactor.div_(length)
        for buffer in (bessel.r_max, envelope.r_max, net.r_max):
            buffer.div_(length)
    net.requires_grad_(True)
    return net  # type: ignore[no-any-return]


def write_mace_file(model: MACEModel, path: str | os.PathLike[str], elements: list[str] | None = None) -> Path:
    """Write ``model`` (its ``elements`` only, if given) as a mace-torch model file (callers write to a
    temporary path and rename: :func:`crosstrain.io.checkpoint.export_model`)."""
    torch.save(mace_network(model, elements), path)
    return Path(path)
