"""The fused triplet interaction equals the plain-tensor formula to all derivative orders."""

import torch

from crosstrain.model.dimenet import triplet
from crosstrain.model.dimenet.triplet import triplet_interaction


def reference(x, s, w, *, idx_ji, idx_kj, n_edges):
    return x.new_zeros((n_edges, w.shape[1])).index_add(0, idx_ji, x[idx_kj] * (s @ w))


def inputs(seed=0, n_edges=7, n_trip=40, channels=5, basis=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_edges, channels, dtype=torch.float64, generator=g, requires_grad=True)
    s = torch.randn(n_trip, basis, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(basis, channels, dtype=torch.float64, generator=g, requires_grad=True)
    ji = torch.sort(torch.randint(0, n_edges, (n_trip,), generator=g))[0]
    kj = torch.randint(0, n_edges, (n_trip,), generator=g)
    return x, s, w, ji, kj, n_edges


def test_forward_matches_reference(monkeypatch):
    monkeypatch.setattr(triplet, "CHUNK_ELEMENTS", 16)  # force several chunks
    x, s, w, ji, kj, n = inputs()
    torch.testing.assert_close(
        triplet_interaction(x, s, w, idx_ji=ji, idx_kj=kj, n_edges=n),
        reference(x, s, w, idx_ji=ji, idx_kj=kj, n_edges=n),
    )


def test_gradients_and_second_derivatives():
    x, s, w, ji, kj, n = inputs()
    f = lambda x, s, w: triplet_interaction(x, s, w, idx_ji=ji, idx_kj=kj, n_edges=n)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, s, w))
    assert torch.autograd.gradgradcheck(f, (x, s, w))


def test_force_style_double_backward_matches_reference():
    x, s, w, ji, kj, n = inputs(seed=3)
    results = []
    for fn in (triplet_interaction, reference):
        out = fn(x, s, w, idx_ji=ji, idx_kj=kj, n_edges=n)
        (gx,) = torch.autograd.grad(out.pow(2).sum(), [x], create_graph=True)
        loss = gx.pow(2).sum()
        results.append(torch.autograd.grad(loss, [x, s, w]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_fast_silu_derivatives_to_third_order():
    from crosstrain.model.dimenet.activations import FastSiLU

    x = torch.randn(30, dtype=torch.float64, requires_grad=True)
    f = FastSiLU()
    torch.testing.assert_close(f(x), torch.nn.functional.silu(x))
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))
    # third derivative against torch's own SiLU
    for fn in (f, torch.nn.functional.silu):
        (d1,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), x, create_graph=True)
        (d3,) = torch.autograd.grad(d2.sum(), x)
        if fn is f:
            ours = (d1, d2, d3)
        else:
            torch.testing.assert_close(ours, (d1, d2, d3))
