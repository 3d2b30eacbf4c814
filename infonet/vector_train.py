"""Training the multivariate InfoNet on fresh draws from the vector prior, resumable in slices.

Every step draws one sample size n (log-uniform in [min_len, max_len]), one pair of dimensions
(dx, dy) (:func:`sample_dims`) and a batch from :mod:`infonet.vector_prior`, from a generator seeded
by (seed, step), so a resumed run continues bit for bit the same. The batch holds about
``tokens_per_step`` samples in all (B = tokens_per_step / n, within [min_batch, batch_size]), so a
step costs about the same at every n. The loss is the pinball loss of the 5 / 50 / 95 % quantiles
against the exact MI (MIST's quantile regression), weighted by :func:`step_weight`; the two sides are swapped at random (MI is
symmetric) and every canonical pair's sign is flipped at random.

Outputs in ``out_dir`` as for the 1-D trainer (:mod:`infonet.train`): ``last.pt`` (full state,
written atomically every ``ckpt_every`` steps, on ``max_minutes``, Ctrl-C and SIGTERM), ``best.pt``
(the best validation score), ``log.csv``, ``options.json`` and ``val_set.npz``, under a lock.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, resolve_device, save_checkpoint, usable_device
from .cli import save_options
from .train import (
    CsvLog,
    Terminated,
    locked_run_folder,
    lr_factor,
    optimiser_checks,
    pinball_loss,
    sigterm_raises,
    step_generator,
)
from .vector_estimate import scores
from .vector_model import MAX_DIM, DomainRouted, VectorInfoNet, VectorNetConfig
from .vector_prior import FAMILIES, VectorMixtureBank, VectorPriorConfig, sample_vector_batch

__all__ = ["VectorTrainConfig", "train_vector", "validate_vector", "VectorValidationSet", "sample_dims", "to_scores"]

log = logging.getLogger(__name__)

VAL_SEED = 20_000_003  # the validation set; training seeds are (seed, step); benchmarks use others
BANK_SEED = 40_000_001  # + seed: the training mixture bank
VAL_DIMS = ((2, 2), (3, 3), (5, 5), (1, 4), (10, 10), (25, 25), (32, 32))
VAL_SIZES = (32, 128, 1000)
# options a resumed run may change (the folder may have moved); a changed prior (a curriculum: shares of the families) is logged
RESUMABLE_CHANGES = {
    "out_dir",
    "steps",
    "max_minutes",
    "resume",
    "progress",
    "val_every",
    "ckpt_every",
    "device",
    "prior",
    "init_from",
}


@dataclass
class VectorTrainConfig:
    out_dir: str = field(default="runs/vector", metadata={"help": "folder for checkpoints and logs"})
    steps: int = field(default=40_000, metadata={"help": "total optimisation steps"})
    batch_size: int = field(default=64, metadata={"help": "largest number of sequences per step"})
    min_batch: int = field(default=16, metadata={"help": "smallest number of sequences per step"})
    tokens_per_step: int = field(default=32_768, metadata={"help": "samples per step in all (B = this / n)"})
    min_len: int = field(default=16, metadata={"help": "shortest sequence length"})
    max_len: int = field(default=4096, metadata={"help": "longest sequence length (log-uniform in between)"})
    lr: float = 1e-3
    min_lr: float = 3e-5
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    gate_lr_scale: float = field(
        default=1.0,
        metadata={"help": "learning-rate factor of the head's knn_start gates (a fine-tune that adds them)"},
    )
    prior: VectorPriorConfig = field(default_factory=VectorPriorConfig)
    val_per_cell: int = field(default=48, metadata={"help": "validation sequences per (dims, n) cell"})
    val_every: int = 500
    ckpt_every: int = 250
    max_minutes: float = field(default=0.0, metadata={"help": "stop cleanly after this long; 0: no limit"})
    resume: bool = field(default=False, metadata={"help": "continue from out_dir/last.pt"})
    init_from: str = field(
        default="",
        metadata={
            "help": "start from this checkpoint's weights (a fine-tune: fresh optimiser and schedule; same --model.*)"
        },
    )
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    model: VectorNetConfig = field(default_factory=VectorNetConfig)

    def __post_init__(self):
        for name, cls in (("model", VectorNetConfig), ("prior", VectorPriorConfig)):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, cls(**getattr(self, name)))
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 2,
            "min_batch": 2 <= self.min_batch <= self.batch_size,
            "tokens_per_step": self.tokens_per_step >= 64,
            "min_len": 8 <= self.min_len <= self.max_len,
            "max_len": self.max_len <= self.model.max_len,
            **optimiser_checks(self),
            "gate_lr_scale": 0 < self.gate_lr_scale <= 1000,
            "val_per_cell": self.val_per_cell >= 1,
            "val_every": self.val_every >= 1,
            "ckpt_every": self.ckpt_every >= 1,
            "max_minutes": self.max_minutes >= 0,
            "seed": self.seed >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid training options: {', '.join(f'--{k.replace(chr(95), chr(45))}={getattr(self, k)}' for k in bad)}"
            )
        usable_device(self.device)


def sample_dims(g: torch.Generator, max_dim: int = MAX_DIM) -> tuple[int, int]:
    """(dx, dy), never (1, 1): each side 1-5 with probability 0.55, 6-12 with 0.25, 13-32 with 0.2;
    both sides equal half of the time (as in most benchmarks). With ``max_dim`` below 32 each side is
    uniform in 1..max_dim instead."""

    def one() -> int:
        r, t = torch.rand(2, generator=g, device=g.device).tolist()
        lo, hi = (1, 5) if r < 0.55 else (6, 12) if r < 0.8 else (13, MAX_DIM)
        if max_dim < MAX_DIM:
            lo, hi = 1, max_dim
        return lo + min(int(t * (hi - lo + 1)), hi - lo)

    while True:
        dx = one()
        dy = dx if torch.rand((), generator=g, device=g.device).item() < 0.5 else one()
        if dx > 1 or dy > 1:
            return dx, dy


def to_scores(x: torch.Tensor) -> torch.Tensor:
    """(B, n, d) samples -> normal scores of their per-coordinate mid-ranks (the estimator's own :func:`scores`)."""
    return scores(x, ties="average")


# ----------------------------------------------------------------------------- validation


@dataclass
class VectorValidationSet:
    """Fixed validation sequences: per (dims, n) cell, ``val_per_cell`` draws of the prior (other seed)."""

    cells: list  # [(dx, dy, n, x (S, n, dx), y (S, n, dy), mi (S,), family (S,))]

    @classmethod
    def build(
        cls, per_cell: int, prior: VectorPriorConfig, cache: Path | None = None, model: VectorNetConfig | None = None
    ) -> VectorValidationSet:
        """The cells of VAL_DIMS x VAL_SIZES inside ``model``'s domain (its max_dim and max_len)."""
        model = model or VectorNetConfig()
        dims = [d for d in VAL_DIMS if max(d) <= model.max_dim]
        sizes = [n for n in VAL_SIZES if n <= model.max_len]
        grid = [(d, n) for d in dims for n in sizes]
        key = np.array([per_cell, VAL_SEED, *[v for (d, n) in grid for v in (*d, n)]])
        if cache is not None and cache.is_file():
            with np.load(cache, allow_pickle=False) as data:
                if np.array_equal(data["key"], key):
                    cells = []
                    for i, ((dx, dy), n) in enumerate(grid):
                        arrays = [torch.from_numpy(data[f"{name}{i}"]) for name in ("x", "y", "mi", "family")]
                        cells.append((dx, dy, n, *arrays))
                    return cls(cells)
        log.info("building the vector validation set (seed %d)", VAL_SEED)
        device = torch.device("cpu")
        bank = VectorMixtureBank(dataclasses.replace(prior, bank_per_dims=32), VAL_SEED + 1, device)
        g = torch.Generator(device).manual_seed(VAL_SEED)
        cells = [
            (dx, dy, n, *sample_vector_batch(per_cell, n, dx, dy, g, prior, bank)) for (dx, dy) in dims for n in sizes
        ]
        if cache is not None:
            arrays = {"key": key}
            for i, (_, _, _, x, y, mi, fam) in enumerate(cells):
                arrays.update({f"x{i}": x.numpy(), f"y{i}": y.numpy(), f"mi{i}": mi.numpy(), f"family{i}": fam.numpy()})
            tmp = cache.with_name(cache.name + ".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(cache)
        return cls(cells)


@torch.no_grad()
def validate_vector(model: VectorInfoNet, val: VectorValidationSet) -> dict[str, float]:
    """Per n: MAE of the estimate and of the Gaussian-copula formula, the mean estimate on independent
    pairs, 90 % coverage; per family, the MAE over all cells; ``score``: the mean MAE over all cells."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for dx, dy, n, x, y, mi, fam in val.cells:
        out = model(to_scores(x.to(device)), to_scores(y.to(device)))
        q = out.quantiles.cpu()
        rows.append((n, dx, dy, mi, fam, q, out.gc.cpu()))
    metrics = {}
    sizes = sorted({r[0] for r in rows})
    for n in sizes:
        sel = [r for r in rows if r[0] == n]
        err = torch.cat([(r[5][:, 1] - r[3]).abs() for r in sel])
        err_gc = torch.cat([(r[6] - r[3]).abs() for r in sel])
        zero = torch.cat([r[5][r[4] == 3, 1] for r in sel])
        inside = torch.cat([(r[5][:, 0] <= r[3]) & (r[3] <= r[5][:, 2]) for r in sel]).float()
        metrics.update({f"mae_n{n}": err.mean().item(), f"mae_gc_n{n}": err_gc.mean().item()})
        metrics.update({f"zero_mi_n{n}": zero.mean().item(), f"coverage90_n{n}": inside.mean().item()})
    for code, family in enumerate(FAMILIES):
        err = torch.cat([(r[5][r[4] == code, 1] - r[3][r[4] == code]).abs() for r in rows])
        metrics[f"mae_{family}"] = err.mean().item() if len(err) else math.nan
    for dims in sorted({(r[1], r[2]) for r in rows}):
        err = torch.cat([(r[5][:, 1] - r[3]).abs() for r in rows if (r[1], r[2]) == dims])
        metrics[f"mae_d{dims[0]}x{dims[1]}"] = err.mean().item()
    metrics["score"] = float(np.mean([metrics[f"mae_n{n}"] for n in sizes]))
    model.train(was_training)
    return metrics


def _log_fields() -> list[str]:
    per_n = [f"{m}_n{n}" for n in VAL_SIZES for m in ("mae", "mae_gc", "zero_mi", "coverage90")]
    return (
        ["step", "minutes", "lr", "n", "dx", "dy", "batch", "loss", "grad_norm", "score"]
        + per_n
        + [f"mae_{f}" for f in FAMILIES]
        + [f"mae_d{a}x{b}" for a, b in VAL_DIMS]
    )


# ----------------------------------------------------------------------------- training


def vector_payload(model: VectorInfoNet | DomainRouted, **extra) -> dict:
    """The checkpoint of a vector network: ``{"kind": "vector", "config", "model", ...}``; the config of a
    :class:`~infonet.vector_model.DomainRouted` set is ``{"experts": [...]}``."""
    if isinstance(model, DomainRouted):
        config = {"experts": [asdict(e.cfg) for e in model.experts]}
    else:
        config = asdict(model.cfg)
    return {"kind": "vector", "config": config, "model": model.state_dict(), **extra}


def _augment(zx: torch.Tensor, zy: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap the sides (half of the steps) and reverse each coordinate's ranks at random (MI unchanged)."""
    if torch.rand((), generator=g, device=g.device).item() < 0.5:
        zx, zy = zy, zx
    flip = lambda z: (
        z * torch.where(torch.rand(z.shape[0], 1, z.shape[2], generator=g, device=g.device) < 0.5, -1.0, 1.0)
    )  # noqa: E731
    return flip(zx), flip(zy)


def step_weight(n: int, dx: int, dy: int) -> float:
    """The loss weight of a step: 1 / (1 + dx dy / 2n), the inverse of (1 + the Gaussian-copula MI's
    bias at MI 0). Steps where n is small against dx dy (32 x 32 dimensions from 16 samples) have errors
    of nats and, unweighted, their gradients (norm 3.4 against 0.9, clipped) steered training: half of all
    steps were clipped at 2,500 steps. A weight that depends only on (n, dx, dy) leaves the quantiles that
    minimise the loss at each input unchanged; it only shares the network's capacity differently."""
    return 1.0 / (1.0 + dx * dy / (2.0 * n))


def _step(model, opt, sched, cfg: VectorTrainConfig, step: int, bank, device) -> dict:
    g = step_generator(cfg.seed, step, 0, device)
    lo, hi = math.log(cfg.min_len), math.log(cfg.max_len)
    n = int(round(math.exp(lo + torch.rand((), generator=g, device=device).item() * (hi - lo))))
    dx, dy = sample_dims(g, cfg.model.max_dim)
    batch = max(cfg.min_batch, min(cfg.batch_size, cfg.tokens_per_step // n))
    x, y, mi, _ = sample_vector_batch(batch, n, dx, dy, g, cfg.prior, bank)
    zx, zy = _augment(to_scores(x), to_scores(y), g)
    out = model(zx, zy)
    loss = pinball_loss(out.quantiles, mi) * step_weight(n, dx, dy)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    sched.step()
    return {
        "step": step + 1,
        "lr": sched.get_last_lr()[0],
        "n": n,
        "dx": dx,
        "dy": dy,
        "batch": batch,
        "loss": loss.item(),
        "grad_norm": grad_norm.item(),
    }


def _check_resume(cfg: VectorTrainConfig, saved: dict) -> None:
    now = asdict(cfg)
    # a run saved before a model or prior option existed ran with its default
    nested = (("model", VectorNetConfig), ("prior", VectorPriorConfig))
    saved = {**saved, **{k: asdict(cls(**saved[k])) for k, cls in nested if k in saved}}
    diffs = [k for k in now if k not in RESUMABLE_CHANGES and k in saved and now[k] != saved[k]]
    if "prior" in saved and now["prior"] != saved["prior"]:
        log.warning("resuming with a changed prior: %s (was %s)", now["prior"], saved["prior"])
    if diffs:
        raise ValueError(
            "cannot resume with different options: "
            + ", ".join(f"{k}: checkpoint {saved[k]!r} vs now {now[k]!r}" for k in diffs)
        )


def _initial_weights(cfg: VectorTrainConfig, model: VectorInfoNet) -> dict:
    """The state dict of ``cfg.init_from``, a vector checkpoint whose model options are ``cfg.model``'s,
    or the same but for ``knn`` off: then the layers that read the side features get zero weights
    for the new ones (:func:`widen_side_inputs`), so the fine-tune starts from the same estimates;
    or the same but for ``knn_start`` off: then the head's gates are new and start closed.
    Options that change only how a feature is read (``FEATURE_READS``, such as ``knn_samples``) may
    differ: the fine-tune teaches the network the new reading."""
    saved = load_checkpoint(Path(cfg.init_from))
    if saved.get("kind") != "vector":
        raise ValueError(f"--init-from {cfg.init_from}: not a multivariate network's checkpoint")
    now, then = asdict(cfg.model), asdict(VectorNetConfig(**saved["config"]))  # fields it lacks: their defaults
    diffs = [k for k in now if then[k] != now[k] and k not in FEATURE_READS]
    if diffs == ["knn"] and now["knn"]:
        return widen_side_inputs(saved["model"], model)
    if diffs == ["knn_start"] and now["knn_start"]:  # the gates are new and start closed (VectorHead)
        return {**model.state_dict(), **saved["model"]}
    if diffs:
        raise ValueError(
            f"--init-from {cfg.init_from}: its model options differ: "
            + ", ".join(f"{k}: checkpoint {saved['config'].get(k)!r} vs now {now[k]!r}" for k in diffs)
        )
    return saved["model"]


FEATURE_READS = ("knn_samples",)  # options that change how a feature is read, not the weights' shapes

SIDE_INPUTS = ("side_embed.weight", "head.net.0.weight")  # the layers whose last input columns are the side features


def widen_side_inputs(state: dict, model: VectorInfoNet) -> dict:
    """``state`` of a network with fewer side features, its side-reading layers padded with zero
    columns to ``model``'s: the new features start unread."""
    target = model.state_dict()
    out = dict(state)
    for key in SIDE_INPUTS:
        extra = target[key].shape[-1] - state[key].shape[-1]
        out[key] = torch.nn.functional.pad(state[key], (0, extra))
    return out


def _build(cfg: VectorTrainConfig, device, ckpt: dict | None):
    """The model, AdamW (no decay on biases and norms), the schedule, the step and best score; from ``ckpt`` when resuming."""
    torch.manual_seed(cfg.seed)
    model = VectorInfoNet(cfg.model).to(device).train()
    gates = set(model.head.gate.parameters()) if model.head.gate is not None and cfg.gate_lr_scale != 1 else set()
    rest = [p for p in model.parameters() if p not in gates]
    decay = [p for p in rest if p.ndim >= 2]
    no_decay = [p for p in rest if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if gates:  # new and starting closed: a larger step lets them open within a short fine-tune
        groups.append({"params": list(gates), "weight_decay": 0.0, "lr": cfg.lr * cfg.gate_lr_scale})
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    if not ckpt:
        if cfg.init_from:
            model.load_state_dict(_initial_weights(cfg, model))
        return model, opt, sched, 0, math.inf
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    return model, opt, sched, int(ckpt["step"]), float(ckpt.get("best", math.inf))


def _validate(model: VectorInfoNet, val, row: dict, best: float, best_path: Path) -> float:
    """Scores the validation set into ``row``, saves ``best_path`` on a new best, logs; returns the best score."""
    row.update(validate_vector(model, val))
    if row["score"] < best:
        best = row["score"]
        save_checkpoint(best_path, vector_payload(model, step=row["step"], validation=row))
    sizes = [n for n in VAL_SIZES if f"mae_n{n}" in row]  # those inside the network's domain
    log.info(
        "step %d: score %.4f, MAE by n %s, independent by n %s, coverage %s",
        row["step"],
        row["score"],
        *({n: round(row[f"{name}_n{n}"], 3) for n in sizes} for name in ("mae", "zero_mi", "coverage90")),
    )
    return best


def _progress_bar(cfg: VectorTrainConfig, step: int):
    if not cfg.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=step, desc="train", dynamic_ncols=True)


def train_vector(cfg: VectorTrainConfig) -> Path:
    """Trains (or resumes) the vector network; returns the path of the last checkpoint."""
    device = resolve_device(cfg.device)
    out = Path(cfg.out_dir)
    if cfg.init_from and not cfg.resume and not Path(cfg.init_from).is_file():  # before the run folder exists
        raise FileNotFoundError(f"--init-from: no checkpoint at {cfg.init_from}")
    with locked_run_folder(out), sigterm_raises():
        last = out / "last.pt"
        ckpt = None
        if cfg.resume:
            if not last.is_file():
                raise FileNotFoundError(f"--resume: no checkpoint at {last}")
            ckpt = load_checkpoint(last)
            _check_resume(cfg, ckpt.get("train_config", {}))
        elif last.is_file():
            raise ValueError(f"{last} exists: pass --resume to continue it, or choose another --out-dir")
        model, opt, sched, step, best = _build(cfg, device, ckpt)
        save_options(cfg, out / "options.json")
        csv_log = CsvLog(out / "log.csv", _log_fields(), resume_step=step if cfg.resume else None)
        val = VectorValidationSet.build(cfg.val_per_cell, cfg.prior, out / "val_set.npz", cfg.model)
        bank = VectorMixtureBank(cfg.prior, BANK_SEED + cfg.seed, device) if cfg.prior.mixture > 0 else None
        log.info("vector model: %d parameters on %s", model.num_params(), device)

        def save_last():  # the full state, for --resume
            state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "train_config": asdict(cfg)}
            save_checkpoint(last, vector_payload(model, **state, step=step, best=best))

        bar = _progress_bar(cfg, step)
        t0 = time.time()
        try:
            while step < cfg.steps:
                row = _step(model, opt, sched, cfg, step, bank, device)
                step += 1
                row["minutes"] = round((time.time() - t0) / 60, 3)
                if step % cfg.val_every == 0 or step == cfg.steps:
                    best = _validate(model, val, row, best, out / "best.pt")
                csv_log.write(row)
                if bar is not None:
                    bar.set_postfix(loss=f"{row['loss']:.3f}", n=row["n"], d=f"{row['dx']}x{row['dy']}", refresh=False)
                    bar.update(1)
                if step % cfg.ckpt_every == 0:
                    save_last()
                if cfg.max_minutes > 0 and (time.time() - t0) / 60 >= cfg.max_minutes:
                    log.info("max_minutes reached at step %d", step)
                    break
        except (KeyboardInterrupt, Terminated) as err:
            log.warning("interrupted at step %d (%s): saving a checkpoint", step, type(err).__name__)
            save_last()
            raise KeyboardInterrupt from None
        finally:
            if bar is not None:
                bar.close()
        save_last()
    return last
