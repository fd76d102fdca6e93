"""Real spherical harmonics, and DimeNet++'s sum over triplets through them.

DimeNet++ updates the message of edge ji with a sum over the edges kj that end in its neighbour
atom j (k ≠ i), each weighted by a function of the angle at j, ``P_l(cos θ_kji)``. Listing every
triplet costs T ≈ E·(E/N) rows. The addition theorem,

    P_l(u·v) = 4π / (2l+1) · Σ_m Y_lm(u) Y_lm(v),

splits the angle into one factor per edge, so the sum over k becomes a sum per atom (over its
edges, in the :class:`~crosstrain.graph.Graph`'s neighbour layout) contracted with the
harmonics of edge ji, minus the one term k = i (the reverse edge, angle 0, P_l(1) = 1). The
result is the triplet sum itself (to float rounding, for any geometry), at the cost of the
edges instead of the triplets: two small batched matrix products per l and atom.
"""

from __future__ import annotations

import math

import torch


def _norms(lmax: int) -> tuple[tuple[float, ...], ...]:
    """``sqrt((2l+1)/4π · (l-m)!/(l+m)!)``, times sqrt(2) for m > 0, indexed [m][l - m]."""
    return tuple(
        tuple(
            (math.sqrt(2.0) if m else 1.0)
            * math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
            for l in range(m, lmax + 1)
        )
        for m in range(lmax + 1)
    )


def spherical_harmonics(unit: torch.Tensor, lmax: int) -> torch.Tensor:
    """Orthonormal real spherical harmonics of unit vectors ``(E, 3)``: ``(E, (lmax+1)²)``,
    column ``l² + l + m`` for -l ≤ m ≤ l (cos mφ for m > 0, sin |m|φ for m < 0).

    Polynomials in x, y, z (no angles, no division), by the standard recurrences: the
    associated Legendre functions divided by sin^m θ in z, and (x + iy)^m for the azimuth.
    """
    x, y, z = unit.unbind(-1)
    cos_m, sin_m = [torch.ones_like(x)], [torch.zeros_like(x)]  # Re and Im of (x + iy)^m
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(x * c - y * s)
        sin_m.append(x * s + y * c)
    norms = _norms(lmax)
    columns: list[torch.Tensor | None] = [None] * (lmax + 1) ** 2
    for m in range(lmax + 1):
        # P_l^m / sin^m θ without the Condon-Shortley phase: (2m-1)!!, then up in l
        previous, current = torch.zeros_like(z), torch.full_like(z, float(math.prod(range(1, 2 * m, 2))))
        for l in range(m, lmax + 1):
            if l > m:
                previous, current = current, ((2 * l - 1) * z * current - (l + m - 1) * previous) / (l - m)
            k = norms[m][l - m]
            if m == 0:
                columns[l * l + l] = k * current
            else:
                columns[l * l + l + m] = k * current * cos_m[m]
                columns[l * l + l - m] = k * current * sin_m[m]
    return torch.stack(columns, dim=-1)  # type: ignore[arg-type]  # every column is set above


def neighbour_harmonics(
    harmonics: torch.Tensor, edge_slot: torch.Tensor, *, n_atoms: int, width: int, lmax: int
) -> list[torch.Tensor]:
    """Each edge's harmonics placed in its centre atom's slots, split by l: ``(N, D, 2l+1)`` each."""
    columns = harmonics.shape[1]
    padded = harmonics.new_zeros((n_atoms * width, columns)).index_copy(0, edge_slot, harmonics)
    return list(torch.split(padded.view(n_atoms, width, columns), [2 * l + 1 for l in range(lmax + 1)], dim=2))


def triplet_sum(
    weights: torch.Tensor,
    harmonics: list[torch.Tensor],
    norm: torch.Tensor,
    *,
    edge_slot: torch.Tensor,
    reverse_slot: torch.Tensor,
) -> torch.Tensor:
    """``out[ji] = Σ_{kj ≠ reverse(ji)} Σ_l norm_l P_l(cos θ_kji) weights[l, kj]``, shape ``(E, C)``
    (every edge kj into the neighbour atom j but the reverse of ji itself; other periodic images of
    atom i count, as in DimeNet++ for periodic cells).

    ``weights`` ``(L, E, C)`` is per edge kj and order l; ``harmonics`` is
    :func:`neighbour_harmonics`' output; ``norm`` ``(L,)`` the angular basis' ``sqrt((2l+1)/4π)``.
    With ``P_l = 4π/(2l+1) Σ_m Y_lm Y_lm``, the per-atom sum ``H = Σ_kj Y(kj) weights(kj)``
    contracted with ``Y(j→i)``, taken in the slot of the reverse of ji, gives every k; the reverse
    itself (k = i) contributes ``norm_l weights[l, ij]``, which is subtracted. The factor
    ``norm_l · 4π/(2l+1)`` (not ``1/norm_l``) keeps the sum the listed one's when ``norm`` is rounded
    (a float32 model's buffer).
    """
    n_atoms, width = harmonics[0].shape[:2]
    channels = weights.shape[2]
    orders = weights.shape[0]
    padded = weights.new_zeros((orders, n_atoms * width, channels)).index_copy(1, edge_slot, weights)
    total: torch.Tensor | None = None
    for l, (y, w) in enumerate(zip(harmonics, padded.view(orders, n_atoms, width, channels).unbind(0))):
        per_atom = torch.bmm(y.transpose(1, 2), w)  # (N, 2l+1, C)
        term = torch.bmm(y, per_atom) * (norm[l] * (4 * math.pi / (2 * l + 1))) - w * norm[l]
        total = term if total is None else total + term
    assert total is not None
    return total.reshape(n_atoms * width, channels).index_select(0, reverse_slot)
