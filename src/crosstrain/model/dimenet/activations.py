"""Activations with cheap analytic derivatives for force training.

Training on forces differentiates the network twice. PyTorch's SiLU builds its second derivative
from a dozen elementwise autograd nodes, which dominated the training step on a CPU; here the
first and second derivatives are single fused expressions. Third and higher derivatives fall
back to ordinary autograd, so every order stays correct.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _silu_d1(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _silu_d2(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


class _SiLUGrad(torch.autograd.Function):
    """``grad * silu'(x)``, differentiable in both arguments."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        ctx.save_for_backward(x, grad)
        return grad * _silu_d1(x)

    @staticmethod
    def backward(ctx: Any, g2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, grad = ctx.saved_tensors
        g2 = g2.contiguous()
        if torch.is_grad_enabled():  # third order: plain autograd expressions
            return g2 * grad * _silu_d2(x), g2 * _silu_d1(x)
        with torch.no_grad():
            s = torch.sigmoid(x)
            one_minus = 1.0 - s
            d1 = s * (1.0 + x * one_minus)
            d2 = s * one_minus * (2.0 + x * (one_minus - s))
            return g2 * grad * d2, g2 * d1


class _SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.nn.functional.silu(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        # torch's Function.apply is unannotated
        out: torch.Tensor = _SiLUGrad.apply(x, grad)  # type: ignore[no-untyped-call]
        return out


class FastSiLU(nn.Module):
    """SiLU (swish), ``x * sigmoid(x)``, with fused first and second derivatives.

    ``fused = False`` switches to ``torch.nn.functional.silu`` (for ``torch.compile``/``torch.func``,
    which trace plain operations best).
    """

    fused: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            # torch's Function.apply is unannotated
            out: torch.Tensor = _SiLU.apply(x)  # type: ignore[no-untyped-call]
            return out
        return torch.nn.functional.silu(x)
