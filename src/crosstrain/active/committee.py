"""A committee of fine-tuned models: its disagreement on forces is the uncertainty.

Member ``m`` is trained on a bootstrap resample of the labelled structures (member 0 on all of
them: it is the model the loop delivers) with its own seed, for a fixed number of gradient
steps, warm-started from its own previous checkpoint (the transferred start in the first
iteration). The uncertainty of a structure is DP-GEN's force deviation: the largest, over its
atoms, of the committee's standard deviation of the force vector,
``max_i sqrt(mean_m |F_mi − mean_m F_mi|²)``, in eV/Å.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from crosstrain.config import Config, Strategy
from crosstrain.structure import Structure


def member_config(config: Config, *, seed: int, steps: int, n_train: int, warm: bool) -> Config:
    """``config`` for one member's training round: its seed, about ``steps`` gradient steps, the
    model after the last step, eager (no compile), and for a warm start ``full`` from its own
    previous checkpoint with no element map."""
    batches = math.ceil(n_train / config.train.batch_size)
    epochs = max(1, math.ceil(steps / batches))
    train = replace(
        config.train,
        seed=seed,
        epochs=epochs,
        patience=None,
        valid_every=epochs,  # the model after the last step (no validation set to select on)
        warmup_steps=min(config.train.warmup_steps, steps // 10),
        compile=False,  # a compile costs minutes per process; rounds are short
    )
    transfer = config.transfer
    if warm:
        transfer = replace(transfer, strategy=Strategy.FULL, element_map={}, parent=None)
    return replace(config, train=train, transfer=transfer)


def bootstrap(structures: list[Structure], member: int, seed: int) -> list[Structure]:
    """Member 0: all structures; member m > 0: a resample with replacement (seeded)."""
    if member == 0:
        return list(structures)
    rng = np.random.default_rng(10_007 * seed + member)
    return [structures[i] for i in rng.integers(len(structures), size=len(structures))]


def train_member(
    config: Config,
    structures: list[Structure],
    out: Path,
    *,
    member: int,
    seed: int,
    steps: int,
    previous: Path | None,
) -> Path:
    """Train (or resume) one member's checkpoint ``out``; a finished run of the same request is
    reused (:mod:`crosstrain.train.reuse`)."""
    from crosstrain.train.reuse import fit_or_reuse

    data = bootstrap(structures, member, seed)
    cfg = member_config(config, seed=1000 * seed + member, steps=steps, n_train=len(data), warm=previous is not None)
    if previous is not None:
        fit_or_reuse(cfg, data, out, parent=previous, element_map={}, progress=False)
    else:
        fit_or_reuse(cfg, data, out, progress=False)
    return out


def committee_forces(checkpoints: list[Path], structures: list[Structure], batch_size: int = 8) -> list[np.ndarray]:
    """Per structure, the members' forces ``(members, atoms, 3)``."""
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.model.derivatives import predict
    from crosstrain.train.batches import Dataset

    out: list[list[np.ndarray]] = [[] for _ in structures]
    for ckpt in checkpoints:
        model = load_checkpoint(ckpt).model.eval()
        data = Dataset(structures, model.neighbour_cutoff, "candidates")
        for indices, _ in data.batches(batch_size):
            batch = data.batch(indices, dtype=model.dtype)
            forces = predict(model, batch.graph).forces.detach().to(torch.float64).numpy()
            counts = batch.graph.n_atoms.tolist()
            for i, f in zip(indices, np.split(forces, np.cumsum(counts)[:-1])):
                out[i].append(f)
    return [np.stack(f) for f in out]


def force_deviation(forces: np.ndarray) -> float:
    """max over atoms of the committee's force standard deviation (eV/Å) from ``(members, atoms, 3)``."""
    spread = forces - forces.mean(axis=0, keepdims=True)
    return float(np.sqrt((spread**2).sum(axis=2).mean(axis=0)).max())
