"""Data-parallel training across processes or GPUs (``torchrun``).

Under ``torchrun --nproc_per_node N crosstrain train ...`` every process trains on its own part
of each global batch; gradients are summed over processes with ``all_reduce`` before each
optimiser step, which is what ``DistributedDataParallel`` does. The ``DistributedDataParallel``
wrapper itself is not used: force training differentiates twice
(``autograd.grad(create_graph=True)`` inside the step), which its gradient hooks do not
support. CPU processes use the gloo backend, GPUs NCCL.
"""

from __future__ import annotations

import os

import torch


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: str = "cpu") -> tuple[int, int, str]:
    """Initialise the process group when launched by ``torchrun``; returns (rank, world, device)."""
    world = world_size_from_env()
    if world <= 1:
        return 0, 1, device
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        torch.distributed.init_process_group(backend=backend)
    rank = torch.distributed.get_rank()
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return rank, world, device
