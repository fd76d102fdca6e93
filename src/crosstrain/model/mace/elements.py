"""MACE's per-element tensors: which they are, and how an element's slices move to another.

A MACE network sees an atom's element only as a one-hot vector over its element table
(``atomic_numbers``). Three kinds of tensor read that vector (mace-torch 0.3.16):

- the node embedding, an e3nn ``Linear`` from ``E x 0e``: weight rows ``[E, channels]``;
- each interaction's ``skip_tp``, an e3nn tensor product with the one-hot as second input: per
  path a ``[in, E, out]`` block;
- each product's symmetric contractions: ``weights_max`` and ``weights.k`` laid out ``[E, ...]``.

e3nn normalises the first two by ``1/sqrt(E)``, so when the table grows from E to E' those slices
are multiplied by ``sqrt(E'/E)``; the contractions are not normalised. :func:`grow` builds the
tensors of a network with a new table from an old one, each new element taking the slices of a
given old element. Anything else of a different shape is an error: the copy would not be exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import torch
from torch import nn

from crosstrain.errors import ConfigError

_CONTRACTION = re.compile(r"products\.\d+\.symmetric_contractions\.contractions\.\d+\.weights(_max|\.\d+)$")


def _skip_tps(net: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for i, block in enumerate(net.interactions):  # type: ignore[arg-type]
        yield f"interactions.{i}.skip_tp.weight", block.skip_tp


def _tp_views(tp: nn.Module, weight: torch.Tensor) -> list[torch.Tensor]:
    """Per-path views ``[in, E, out]`` of a fully connected tensor product's flat weight."""
    return list(tp.weight_views(weight))  # type: ignore[operator]


def _columns(old: list[int], new: list[int], take: dict[int, int]) -> list[int]:
    """For each element of the new table, the column of the old table whose slices it takes."""
    index = {z: k for k, z in enumerate(old)}
    return [index[take.get(z, z)] for z in new]


def table(net: nn.Module) -> list[int]:
    """A network's element table: the atomic numbers of its one-hot columns, in order."""
    return [int(z) for z in net.atomic_numbers.tolist()]  # type: ignore[operator]


def grow(old_net: nn.Module, new_net: nn.Module, take: dict[int, int]) -> dict[str, torch.Tensor]:
    """The state of ``new_net`` from ``old_net`` (each with its own element table): element z of the
    new table takes the slices of element ``take.get(z, z)`` of the old; everything else is copied."""
    old, new = table(old_net), table(new_net)
    cols = torch.tensor(_columns(old, new, take), device=next(iter(old_net.buffers())).device)
    factor = math.sqrt(len(new) / len(old))
    old_state, new_state = old_net.state_dict(), new_net.state_dict()
    out: dict[str, torch.Tensor] = {}
    skip, old_skip = dict(_skip_tps(new_net)), dict(_skip_tps(old_net))
    for name, target in new_state.items():
        source = old_state[name]
        if name == "atomic_numbers":
            out[name] = target.clone()
        elif name == "node_embedding.linear.weight":
            out[name] = (source.view(len(old), -1)[cols] * factor).reshape(-1)
        elif name in skip:
            value = torch.empty_like(target)
            for v_old, v_new in zip(_tp_views(old_skip[name], source), _tp_views(skip[name], value)):
                v_new.copy_(v_old[:, cols, :] * factor)
            out[name] = value
        elif _CONTRACTION.search(name) or name == "atomic_energies_fn.atomic_energies":
            dim = 0 if _CONTRACTION.search(name) else source.dim() - 1
            out[name] = source.index_select(dim, cols)
        elif source.shape == target.shape:
            out[name] = source.clone()
        else:
            raise ConfigError(
                f"MACE tensor {name} changes shape with the element table ({tuple(source.shape)} -> "
                f"{tuple(target.shape)}) and crosstrain does not know its layout: the copy would not be exact"
            )
    return out
