"""The training loop: Adam with warm-up and decay, clipping, optional EMA and stage-two loss
weights, model selection and early stopping on the validation force MAE (or loss), atomic
per-epoch checkpoints and exact resume.

Files next to ``out`` (e.g. ``ge.ckpt``): the best model so far (``ge.ckpt``, final once the
run ends, with the fitted energy shift), the resume state (``ge.ckpt.state.pt``: weights,
optimiser, step, best model, history; tensors and plain data only) and the log
(``ge.ckpt.log.csv``, one row per epoch; its ``valid_energy_mae`` is the model's before the energy
shift is fitted, at the end). With several processes (``torchrun``) each rank takes a disjoint part of
every global batch and the gradients are summed across ranks.

Progress (:mod:`crosstrain.progress`): a live bar on a terminal; in a log, a whole line every few
epochs (about 20 per run, on validated epochs) with the run's name, loss, validation errors, best
epoch and elapsed time. A loss without energies does not train them: their error is not shown
during training, since it is only fixed by the shift fitted afterwards; with energies in the loss
it is shown as what it is, the error before that fit.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from crosstrain.config import TrainConfig
from crosstrain.errors import CrosstrainError
from crosstrain.io.atomic import atomic_path, write_text
from crosstrain.io.checkpoint import Parent, save_checkpoint
from crosstrain.model.base import AtomisticModel
from crosstrain.model.derivatives import predict
from crosstrain.progress import Progress
from crosstrain.train.batches import Dataset
from crosstrain.train.evaluate import fit_energy_shift, validation_sums
from crosstrain.train.loss import ErrorSums, loss_terms, selection_metric, weights_at
from crosstrain.train.records import Metrics


class TrainingDiverged(CrosstrainError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    model: AtomisticModel
    checkpoint: Path
    history: list[dict[str, Any]]
    best_epoch: int
    best_valid_force_mae: float | None
    stopped: str
    energy_shift: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def learning_rate(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """Linear warm-up over ``cfg.warmup_steps``, then exponential or cosine decay to ``lr × lr_decay``."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    x = step / max(total_steps, 1)
    if cfg.schedule == "cosine":
        return cfg.lr * warm * (cfg.lr_decay + (1 - cfg.lr_decay) * 0.5 * (1 + math.cos(math.pi * x)))
    decay: float = cfg.lr_decay**x
    return cfg.lr * warm * decay


#: settings that may change when a run resumes: they decide when to validate or stop, or how many
#: threads to use, but not the optimisation trajectory (e.g. add ``train.patience`` to stop a run
#: whose validation error has been rising)
RESUMABLE_CHANGES = ("patience", "valid_every", "threads", "compile")


def _trajectory(cfg: dict[str, Any]) -> dict[str, Any]:
    full = {**asdict(TrainConfig()), **cfg}  # settings added since a state was written take their defaults
    return {k: v for k, v in full.items() if k not in RESUMABLE_CHANGES}


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.pt")


def log_path(out: Path) -> Path:
    return out.with_name(out.name + ".log.csv")


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _write_log(path: Path, history: list[dict[str, Any]]) -> None:
    if not history:
        return
    buf = io.StringIO()
    names = list(dict.fromkeys(k for row in history for k in row))  # rows of an older resumed run may lack some
    writer = csv.DictWriter(buf, fieldnames=names)
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def _save_state(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class _Trainer:
    """Thin state holder; :func:`train` is the entry point."""

    def __init__(
        self,
        model: AtomisticModel,
        data: Dataset,
        valid: Dataset | None,
        cfg: TrainConfig,
        penalty: Callable[[torch.nn.Module], torch.Tensor] | None,
    ) -> None:
        self.model, self.data, self.valid, self.cfg = model, data, valid, cfg
        self.rank, self.world = _dist()
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise CrosstrainError("no trainable parameters (everything is frozen)")
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr)
        self.ema = None
        if cfg.ema_decay is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            # torch's get_ema_multi_avg_fn is unannotated
            avg_fn = get_ema_multi_avg_fn(cfg.ema_decay)  # type: ignore[no-untyped-call]
            self.ema = AveragedModel(model, multi_avg_fn=avg_fn, use_buffers=True)
        self.penalty = penalty
        self.n_batches = math.ceil(len(data) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.n_batches
        self.step = 0
        self.epoch = 0
        self.best: dict[str, Any] = {"epoch": -1, "metric": math.inf, "model": None}
        self.history: list[dict[str, Any]] = []
        self.compiled: Callable[..., Any] | None = None
        self.compiled_once = False
        if cfg.compile:
            from crosstrain.train.compiled import loss_step

            self.compiled = loss_step(model, cfg)
        self.labels = {
            "forces": ("forces",),
            "energy_forces": ("energy", "forces"),
            "energy_forces_stress": ("energy", "forces", "stress"),
        }[cfg.loss]

    def lr_at(self, step: int) -> float:
        return learning_rate(self.cfg, step, self.total_steps)

    def train_epoch(self) -> float:
        self.model.train()
        total, n = 0.0, 0
        for indices, n_global in self.data.batches(
            self.cfg.batch_size, seed=self.cfg.seed * 100_003 + self.epoch, rank=self.rank, world=self.world
        ):
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.step)
            self.optimizer.zero_grad(set_to_none=False)
            value = self.all_reduce_grads(self.gradients(indices, n_global))
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"loss became {value} at epoch {self.epoch + 1}, step {self.step + 1}; training stopped"
                )
            if self.cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            self.step += 1
            total += value
            n += 1
        return total / max(n, 1)

    def gradients(self, indices: list[int], n_global: Any) -> torch.Tensor:
        """Accumulate this rank's gradients of the loss of one global batch; returns its loss."""
        loss = self.zero()
        if indices:
            batch = self.data.batch(indices, dtype=self.model.dtype, device=self.device)
            weights = weights_at(self.cfg, self.step, self.total_steps)
            result = self.compiled_gradients(batch, weights, n_global) if self.compiled is not None else None
            if result is not None:
                value, grads = result
                for name, p in self.model.named_parameters():
                    if name in grads:
                        p.grad = grads[name].clone() if p.grad is None else p.grad.add_(grads[name])
                loss = loss + value.detach()
            else:
                stress = self.cfg.loss == "energy_forces_stress"
                pred = predict(self.model, batch.graph, create_graph=True, compute_stress=stress)
                loss = torch.stack(
                    list(loss_terms(pred, batch, self.cfg, size=n_global, weights=weights).values())
                ).sum()
        if self.penalty is not None:  # e.g. l2sp's pull towards the parent (crosstrain.train.transfer)
            loss = loss + self.penalty(self.model) / self.world
        if loss.requires_grad:
            loss.backward()  # type: ignore[no-untyped-call]  # (unannotated in torch)
        return loss

    def compiled_gradients(self, batch: Any, weights: Any, n_global: Any) -> Any:
        """The compiled step's (loss, grads), or None after falling back to eager autograd where
        torch.compile cannot build (e.g. no C++ compiler on the machine)."""
        if self.compiled is None:
            return None
        try:
            result = self.compiled(batch, weights, n_global)
            self.compiled_once = True
            return result
        except Exception as exc:  # inductor/dynamo failures have many types
            if self.compiled_once:
                raise
            import warnings

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.warn(f"train.compile: torch.compile failed ({first}); training eagerly instead", stacklevel=2)
            self.compiled = None
            self.model.set_fused(True)
            return None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def zero(self) -> torch.Tensor:
        return torch.stack([p.sum() * 0.0 for p in self.params]).sum()

    def all_reduce_grads(self, loss: torch.Tensor) -> float:
        value = loss.detach().double().reshape(1)
        if self.world > 1:
            for p in self.params:
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
            torch.distributed.all_reduce(value)
        return float(value)

    def eval_model(self) -> AtomisticModel:
        return self.ema.module if self.ema is not None else self.model  # type: ignore[return-value]  # EMA wraps the AtomisticModel

    def validate(self) -> Metrics:
        data = self.valid if self.valid is not None else self.data
        model = self.eval_model()
        if self.compiled is not None:
            model.set_fused(True)  # eager evaluation is fastest fused; the compiled step runs unfused
        sums = validation_sums(model, data, self.cfg.batch_size, rank=self.rank, world=self.world)
        if self.compiled is not None:
            model.set_fused(False)
        if self.world > 1:
            t = sums.as_tensor()
            torch.distributed.all_reduce(t)
            sums = ErrorSums.from_tensor(t)
        return sums.metrics()

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "best": self.best,
            "history": self.history,
            "config": asdict(self.cfg),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if _trajectory(state.get("config") or {}) != _trajectory(asdict(self.cfg)):
            raise CrosstrainError(
                "the resume state was written with other training settings; "
                "resume with the same settings or start a new run"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best, self.history = state["best"], list(state["history"])


def train(
    model: AtomisticModel,
    data: Dataset,
    *,
    valid: Dataset | None,
    cfg: TrainConfig,
    out: str | os.PathLike[str],
    parent: Parent | None = None,
    metadata: dict[str, Any] | None = None,
    penalty: Callable[[torch.nn.Module], torch.Tensor] | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` and write the best model to ``out``; see the module docstring."""
    out = Path(out)
    t0 = time.perf_counter()
    trainer = _Trainer(model, data, valid, cfg, penalty)
    data.require(trainer.labels)
    if valid is not None:
        valid.require(("forces",))
    if trainer.world > 1:  # identical starting weights on every rank
        for t in model.state_dict().values():
            torch.distributed.broadcast(t, 0)
    if resume and state_path(out).exists():
        trainer.load_state(torch.load(state_path(out), weights_only=True))
        t0 -= trainer.history[-1]["seconds"] if trainer.history else 0.0  # seconds count the whole run
    stopped = "epochs"
    meta = {**(metadata or {}), "training": {**(metadata or {}).get("training", {}), **asdict(cfg)}}
    shown = progress and trainer.rank == 0
    with Progress(
        f"train {out.name}", cfg.epochs, done=trainer.epoch, every=report_every(cfg), unit="epoch", enabled=shown
    ) as bar:
        while trainer.epoch < cfg.epochs:
            train_loss = trainer.train_epoch()
            trainer.epoch += 1
            record, metrics = _after_epoch(trainer, cfg, train_loss, t0)
            if trainer.rank == 0:
                if trainer.best["epoch"] == trainer.epoch:
                    save_checkpoint(trainer.eval_model(), out, parent=parent, **_meta_kwargs(meta, trainer))
                _save_state(state_path(out), trainer.state())
                _write_log(log_path(out), trainer.history)
            bar.update(trainer.epoch, _status(trainer, train_loss, metrics), seconds=record["seconds"])
            if callback is not None:
                callback(trainer.epoch, record)
            if cfg.patience is not None and trainer.epoch - trainer.best["epoch"] >= cfg.patience:
                stopped = f"early stopping after {cfg.patience} epochs without improvement"
                break
    return _finish(trainer, out, parent, meta, stopped, time.perf_counter() - t0)


def report_every(cfg: TrainConfig, lines: int = 20) -> int:
    """Epochs between progress lines in a log: about ``lines`` per run, on validated epochs."""
    return cfg.valid_every * max(1, math.ceil(cfg.epochs / cfg.valid_every / lines))


def _after_epoch(trainer: _Trainer, cfg: TrainConfig, train_loss: float, t0: float) -> tuple[dict[str, Any], Metrics]:
    """Validate if due, append the epoch's record to the history and keep the best model."""
    due = trainer.epoch % cfg.valid_every == 0 or trainer.epoch == cfg.epochs
    metrics = trainer.validate() if due else Metrics(n_structures=0.0)  # not validated this epoch
    record = {
        "epoch": trainer.epoch,
        "step": trainer.step,
        "lr": trainer.lr_at(trainer.step),
        "train_loss": train_loss,
        "valid_force_mae": metrics.force_mae,
        "valid_force_rmse": metrics.force_rmse,
        "valid_energy_mae": metrics.energy_mae,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    trainer.history.append(record)
    chosen = selection_metric(cfg, metrics)
    if chosen is not None and chosen < trainer.best["metric"]:
        trainer.best = {
            "epoch": trainer.epoch,
            "metric": chosen,
            "force_mae": metrics.force_mae,
            "model": copy.deepcopy(trainer.eval_model().state_dict()),
        }
    return record, metrics


def _status(trainer: _Trainer, train_loss: float, metrics: Metrics) -> str:
    """The epoch's loss and, on validated epochs, its errors and the best epoch so far. The energy
    error is shown only where the loss trains energies, and then as the error before the energy
    shift is fitted (at the end of the run); a force-only loss leaves the energies to that fit."""
    status = f"loss {train_loss:.4g}"
    if metrics.force_mae is not None:
        where = "valid" if trainer.valid is not None else "train"  # no validation set: training data
        status += f"  {where} F-MAE {metrics.force_mae:.4f} eV/Å"
        if metrics.energy_mae is not None and trainer.cfg.loss != "forces":
            status += f"  E-MAE {metrics.energy_mae:.1f} meV/atom (energy shift not yet fitted)"
        status += f"  (best @ {trainer.best['epoch']})"
    return status


def _meta_kwargs(meta: dict[str, Any], trainer: _Trainer) -> dict[str, Any]:
    extra = {k: v for k, v in meta.items() if k not in ("training", "data_fingerprint")}
    extra["best_epoch"] = trainer.best["epoch"]
    extra["best_valid_force_mae"] = trainer.best.get("force_mae", trainer.best["metric"])
    return {"training": meta["training"], "data_fingerprint": meta.get("data_fingerprint", ""), "extra": extra}


def _finish(
    trainer: _Trainer, out: Path, parent: Parent | None, meta: dict[str, Any], stopped: str, seconds: float
) -> TrainResult:
    model = trainer.model
    if trainer.best["model"] is not None:
        model.load_state_dict(trainer.best["model"])
    model.set_fused(True)  # the compiled step ran it unfused; eager use after training is fastest fused
    shift: dict[str, float] = {}
    if all(s.energy is not None for s in trainer.data.structures):
        shift = fit_energy_shift(model, trainer.data, trainer.cfg.batch_size)
    meta = {**meta, "energy_shift_fit": shift, "stopped": stopped, "history": trainer.history}
    if trainer.rank == 0:
        save_checkpoint(model, out, parent=parent, **_meta_kwargs(meta, trainer))
    best = trainer.best.get("force_mae", trainer.best["metric"])
    return TrainResult(
        model, out, trainer.history, trainer.best["epoch"], None if math.isinf(best) else best, stopped, shift, seconds
    )
