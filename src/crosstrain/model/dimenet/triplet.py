"""The triplet interaction of DimeNet++ as one fused, infinitely differentiable operation.

DimeNet++ updates each edge message with a sum over the triplets that end in it:
``out[ji] = Σ_{t: ji(t)=ji} x[kj(t)] ⊙ (s[t] @ W)`` with ``x`` edge features (E×C), ``s`` the
per-triplet basis (T×B, B small) and ``W`` (B×C). Written with plain tensor ops this
materialises several T×C tensors per call and more in the double backward that force training
needs; they dominate the cost of a training step on a CPU.

All four arguments enter the scalar trilinear form

    F(g, x, s, W) = Σ_t Σ_c g[ji(t), c] · x[kj(t), c] · (s[t] @ W)[c]

and the interaction is ∂F/∂g. Every derivative of any partial of F is again a partial of F with
the cotangent put in place of the differentiated slot, so one :class:`torch.autograd.Function`
parametrised by the slot covers forward, backward and double backward. Each partial runs over
triplets in chunks, so that T×C temporaries stay small and in cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

G, X, S, W = 0, 1, 2, 3
CHUNK_ELEMENTS = 1 << 17  # triplets per chunk × channels


def _chunks(n: int, width: int) -> Iterator[tuple[int, int]]:
    step = max(256, CHUNK_ELEMENTS // max(width, 1))
    for lo in range(0, n, step):
        yield lo, min(n, lo + step)


def _partial(slot: int, args: list[torch.Tensor], ji: torch.Tensor, kj: torch.Tensor, n_rows: int) -> torch.Tensor:
    """∂F/∂(slot) given the other three arguments (``args[slot]`` is ignored)."""
    g, x, s, w = args
    n_trip = ji.shape[0]
    if slot in (G, X):
        other, gather_idx, scatter_idx = (x, kj, ji) if slot == G else (g, ji, kj)
        channels = w.shape[1]
        out = other.new_zeros((n_rows, channels))
        for lo, hi in _chunks(n_trip, channels):
            y = other.index_select(0, gather_idx[lo:hi])
            y.mul_(s[lo:hi] @ w)
            out.index_add_(0, scatter_idx[lo:hi], y)
        return out
    channels = g.shape[1]
    if slot == S:
        out = g.new_empty((n_trip, w.shape[0]))
        for lo, hi in _chunks(n_trip, channels):
            z = g.index_select(0, ji[lo:hi]).mul_(x.index_select(0, kj[lo:hi]))
            torch.mm(z, w.t(), out=out[lo:hi])
        return out
    out = g.new_zeros((s.shape[1], channels))
    for lo, hi in _chunks(n_trip, channels):
        z = g.index_select(0, ji[lo:hi]).mul_(x.index_select(0, kj[lo:hi]))
        out.addmm_(s[lo:hi].t(), z)
    return out


class _TripletForm(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        slot: int,
        ji: torch.Tensor,
        kj: torch.Tensor,
        n_rows: int,
        g: torch.Tensor | None,
        x: torch.Tensor | None,
        s: torch.Tensor | None,
        w: torch.Tensor | None,
    ) -> torch.Tensor:
        ctx.slot, ctx.n_rows = slot, n_rows
        placeholder = torch.empty(0)  # for the slot's argument (None), which the partial does not read
        args = [placeholder if a is None else a for a in (g, x, s, w)]
        ctx.save_for_backward(ji, kj, *args)
        return _partial(slot, args, ji, kj, n_rows)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        ji, kj, *args = ctx.saved_tensors
        args[ctx.slot] = grad_out
        grads: list[torch.Tensor | None] = [None, None, None, None]
        for k in range(4):
            if k != ctx.slot and ctx.needs_input_grad[4 + k]:
                others: list[torch.Tensor | None] = list(args)
                others[k] = None  # F is linear in every slot: ∂F/∂k does not depend on k
                # torch's Function.apply is unannotated
                grads[k] = _TripletForm.apply(k, ji, kj, ctx.n_rows, *others)  # type: ignore[no-untyped-call]
        return (None, None, None, None, *grads)


def triplet_interaction(
    x: torch.Tensor, s: torch.Tensor, w: torch.Tensor, *, idx_ji: torch.Tensor, idx_kj: torch.Tensor, n_edges: int
) -> torch.Tensor:
    """``out[ji] = Σ_t x[kj(t)] ⊙ (s[t] @ w)`` summed over the triplets t of edge ji, shape (E, C)."""
    # torch's Function.apply is unannotated
    out: torch.Tensor = _TripletForm.apply(G, idx_ji, idx_kj, n_edges, None, x, s, w)  # type: ignore[no-untyped-call]
    return out


def triplet_interaction_reference(
    x: torch.Tensor, s: torch.Tensor, w: torch.Tensor, *, idx_ji: torch.Tensor, idx_kj: torch.Tensor, n_edges: int
) -> torch.Tensor:
    """The same interaction in plain tensor operations (for ``torch.compile`` and tests)."""
    return x.new_zeros((n_edges, w.shape[1])).index_add(0, idx_ji, x.index_select(0, idx_kj) * (s @ w))
