"""Training InfoNet on fresh random mixtures: single process, one GPU, or DDP under torchrun.

Every step draws a new batch of random 2-D Gaussian mixtures on the training device from a
generator seeded by (seed, step, rank), so the data of a step never depends on what ran
before it: a run resumed from a checkpoint continues bit-for-bit the same.

Objective, per batch (B sequences of a common length n drawn log-uniformly per step):

    loss = dv_weight * (-mean DV read-out)  +  supervised_weight * pinball(quantiles, true MI)

The first term is the paper's: it trains the critic table. The second (as in MIST) trains
the calibrated head on the simulator's Monte-Carlo truth; set it to 0 for the paper's
objective alone.

Outputs in ``out_dir``: ``last.pt`` (full training state, written atomically every
``ckpt_every`` steps, at the end, on ``max_minutes`` and on Ctrl-C), ``best.pt`` (model only,
best validation MAE), ``log.csv`` and ``options.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import load_checkpoint, model_from_checkpoint, model_payload, resolve_device, save_checkpoint
from .cli import save_options
from .copula import rank_transform
from .estimate import predict
from .evaluation import LevelSet, TripletSet, make_level_set, make_triplet_set
from .mixtures import sample_training_batch
from .model import QUANTILES, InfoNet, InfoNetConfig
from .pairwise import autocast_for

__all__ = ["TrainConfig", "train", "pinball_loss"]

log = logging.getLogger(__name__)

VAL_SEED = 10_000_019  # validation sets; training seeds are (seed, step, rank), benchmarks use others
VAL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.2, 1.6)
# options that may change when resuming; all others must match the checkpoint's
RESUMABLE_CHANGES = {"steps", "max_minutes", "resume", "progress", "val_every", "ckpt_every", "device", "compile"}


@dataclass
class TrainConfig:
    out_dir: str = field(default="runs/infonet", metadata={"help": "folder for checkpoints and logs"})
    steps: int = field(default=20_000, metadata={"help": "total optimisation steps"})
    batch_size: int = field(default=64, metadata={"help": "sequences per step and process"})
    min_len: int = field(default=32, metadata={"help": "shortest sequence length"})
    max_len: int = field(default=4096, metadata={"help": "longest sequence length (log-uniform in between)"})
    lr: float = 3e-4
    min_lr: float = 1e-5
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    dv_weight: float = field(default=1.0, metadata={"help": "weight of the DV objective"})
    supervised_weight: float = field(
        default=1.0, metadata={"help": "weight of the supervised quantile loss (0: DV only)"}
    )
    max_components: int = field(default=20, metadata={"help": "mixtures have K ~ U{1..max_components}"})
    flatten_mi: bool = field(default=True, metadata={"help": "resample batches towards a flat MI histogram"})
    mc_samples: int = field(default=2048, metadata={"help": "Monte-Carlo samples of the training truth"})
    val_every: int = 500
    val_per_level: int = 24
    val_triplets_per_k: int = 24
    ckpt_every: int = 500
    max_minutes: float = field(
        default=0.0, metadata={"help": "stop cleanly (with a checkpoint) after this long; 0: no limit"}
    )
    resume: bool = field(default=False, metadata={"help": "continue from out_dir/last.pt"})
    init_from: str = field(default="", metadata={"help": "start from these weights (fresh optimiser)"})
    head_only: bool = field(
        default=False, metadata={"help": "freeze the trunk and fit only the calibration head (a second stage)"}
    )
    seed: int = 0
    device: str = "auto"
    precision: str = field(default="auto", metadata={"help": "auto (bf16 on CUDA), bf16 or fp32"})
    compile: bool = False
    progress: bool = True
    model: InfoNetConfig = field(default_factory=InfoNetConfig)

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = InfoNetConfig(**self.model)
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 2,
            "min_len": 8 <= self.min_len <= self.max_len,
            "lr": self.lr > 0,
            "max_components": self.max_components >= 1,
            "mc_samples": self.mc_samples >= 64,
            "val_every": self.val_every >= 1,
            "ckpt_every": self.ckpt_every >= 1,
            "max_minutes": self.max_minutes >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training options: {', '.join(f'{k}={getattr(self, k)}' for k in bad)}")


def pinball_loss(quantiles: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss of (B, Q) predictions at QUANTILES against (B,) targets."""
    tau = torch.tensor(QUANTILES, device=quantiles.device, dtype=quantiles.dtype)
    diff = target.unsqueeze(-1) - quantiles
    return torch.maximum(tau * diff, (tau - 1) * diff).sum(-1).mean()


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at the last step."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.min_lr / cfg.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device).manual_seed((seed * 1_000_003 + step) * 1_009 + rank)


def sequence_length(g: torch.Generator, cfg: TrainConfig) -> int:
    lo, hi = math.log(cfg.min_len), math.log(cfg.max_len)
    r = torch.rand((), generator=g, device=g.device).item()
    return int(round(math.exp(lo + r * (hi - lo))))


# ----------------------------------------------------------------------------- validation


@dataclass
class ValidationSet:
    levels: LevelSet
    triplets: TripletSet

    @classmethod
    def build(cls, cfg: TrainConfig, cache: Path) -> ValidationSet:
        """The fixed validation set, cached as plain arrays in ``cache`` (an .npz file)."""
        key = np.array([cfg.val_per_level, cfg.val_triplets_per_k, VAL_SEED])
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as data:
                if np.array_equal(data["key"], key):
                    levels = LevelSet(**{f.name: data["levels_" + f.name] for f in dataclasses.fields(LevelSet)})
                    triplets = TripletSet(
                        **{f.name: data["triplets_" + f.name] for f in dataclasses.fields(TripletSet)}
                    )
                    return cls(levels, triplets)
        log.info("building the validation set (seed %d)", VAL_SEED)
        levels = make_level_set(VAL_LEVELS, cfg.val_per_level, 2000, VAL_SEED, mc_samples=50_000)
        triplets = make_triplet_set(cfg.val_triplets_per_k, range(1, 11), 2000, VAL_SEED + 1, mc_samples=50_000)
        arrays = {"key": key}
        arrays.update({"levels_" + k: v for k, v in asdict(levels).items()})
        arrays.update({"triplets_" + k: v for k, v in asdict(triplets).items()})
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)
        return cls(levels, triplets)


def validate(model: InfoNet, val: ValidationSet) -> dict[str, float]:
    """Mean and worst per-level MAE of the head and of the DV read-out; triplet order accuracy."""
    model.eval()
    lv = val.levels
    out = predict(model, lv.x, lv.y)
    metrics = {}
    for name in ("mi", "dv"):
        err = np.abs(out[name] - lv.mi)
        per_level = [err[lv.level == level].mean() for level in np.unique(lv.level)]
        metrics[f"val_mae_{name}"] = float(np.mean(per_level))
        metrics[f"val_worst_{name}"] = float(np.max(per_level))
        metrics[f"val_bias_{name}"] = float(np.mean(out[name] - lv.mi))
    tr = val.triplets
    both = predict(model, np.concatenate([tr.x, tr.x]), np.concatenate([tr.y, tr.z]))
    for name in ("mi", "dv"):
        est = both[name]
        right = (est[: len(tr.x)] > est[len(tr.x) :]) == (tr.mi_xy > tr.mi_xz)
        metrics[f"val_order_{name}"] = float(right.mean())
    inside = (out["quantiles"][:, 0] <= lv.mi) & (lv.mi <= out["quantiles"][:, 2])
    metrics["val_coverage90"] = float(inside.mean())
    model.train()
    return metrics


# ----------------------------------------------------------------------------- training


LOG_FIELDS = (
    ["step", "minutes", "lr", "n", "loss", "dv", "pinball", "grad_norm"]
    + [f"val_{m}_{k}" for m in ("mae", "worst", "bias", "order") for k in ("mi", "dv")]
    + ["val_coverage90"]
)


class CsvLog:
    """Appends rows with the fixed LOG_FIELDS (validation columns empty between validations)."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(LOG_FIELDS)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS, extrasaction="ignore").writerow(row)


def _setup_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, resolve_device(cfg.device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def _check_resume(cfg: TrainConfig, saved: dict) -> None:
    current = asdict(cfg)
    diffs = [k for k in current if k not in RESUMABLE_CHANGES and k in saved and current[k] != saved[k]]
    if diffs:
        raise ValueError(
            "cannot resume with different options: "
            + ", ".join(f"{k}: checkpoint {saved[k]!r} vs now {current[k]!r}" for k in diffs)
        )


def train(cfg: TrainConfig) -> Path:
    """Trains (or resumes) and returns the path of the last checkpoint."""
    rank, world, device = _setup_distributed(cfg)
    out = Path(cfg.out_dir)
    last = out / "last.pt"
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    start_step, best = 0, math.inf
    ckpt = None
    if cfg.resume:
        if not last.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {last}")
        ckpt = load_checkpoint(last)
        _check_resume(cfg, ckpt.get("train_config", {}))
        cfg = dataclasses.replace(cfg, model=InfoNetConfig(**ckpt["config"]))
        start_step, best = int(ckpt["step"]), float(ckpt.get("best", math.inf))
    elif rank == 0 and last.is_file():
        raise ValueError(f"{last} exists: pass --resume to continue it, or choose another --out-dir")

    with torch.random.fork_rng(devices=[]):  # the initial weights depend on cfg.seed only
        torch.manual_seed(cfg.seed)
        model = model_from_checkpoint(ckpt) if ckpt else InfoNet(cfg.model)
    if cfg.init_from and not ckpt:
        model = model_from_checkpoint(load_checkpoint(cfg.init_from))
        cfg = dataclasses.replace(cfg, model=model.cfg)
    model.to(device).train()

    if cfg.head_only:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("head."))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.ndim >= 2 and n != "latents"]
    no_decay = [p for n, p in params if p.ndim < 2 or n == "latents"]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    if ckpt:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])

    net = DistributedDataParallel(model) if world > 1 else model
    if cfg.compile:
        net = torch.compile(net)

    val, csv_log = None, None
    if rank == 0:
        save_options(cfg, out / "options.json")
        csv_log = CsvLog(out / "log.csv")
        val = ValidationSet.build(cfg, out / "val_set.npz")

    def save(step: int) -> None:
        if rank != 0:
            return
        payload = model_payload(
            model,
            optimizer=opt.state_dict(),
            scheduler=sched.state_dict(),
            step=step,
            best=best,
            train_config=asdict(cfg),
        )
        save_checkpoint(last, payload)

    log.info("model: %d parameters; %d process(es) on %s", model.num_params(), world, device)
    t0 = time.time()
    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, desc="train", dynamic_ncols=True)
    step = start_step
    seen, t_last = 0, time.time()
    try:
        while step < cfg.steps:
            g = step_generator(cfg.seed, step, rank, device)
            n = sequence_length(g, cfg)
            x, y, mi = sample_training_batch(
                cfg.batch_size,
                n,
                g,
                num_components=(1, cfg.max_components),
                mc_samples=cfg.mc_samples,
                flatten=cfg.flatten_mi,
            )
            with autocast_for(device, cfg.precision):
                res = net(rank_transform(x), rank_transform(y))
            dv_term = -res.dv.float().mean()
            sup_term = pinball_loss(res.quantiles.float(), mi)
            loss = cfg.dv_weight * dv_term + cfg.supervised_weight * sup_term
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            seen += cfg.batch_size * world

            if rank == 0:
                row = {
                    "step": step,
                    "minutes": round((time.time() - t0) / 60, 3),
                    "lr": sched.get_last_lr()[0],
                    "n": n,
                    "loss": loss.item(),
                    "dv": -dv_term.item(),
                    "pinball": sup_term.item(),
                    "grad_norm": grad_norm.item(),
                }
                if step % cfg.val_every == 0 or step == cfg.steps:
                    row.update(validate(model, val))
                    if row["val_mae_mi"] < best:
                        best = row["val_mae_mi"]
                        save_checkpoint(out / "best.pt", model_payload(model, step=step, validation=row))
                    log.info("step %d: %s", step, {k: round(v, 4) for k, v in row.items() if k.startswith("val")})
                csv_log.write(row)
                if bar is not None:
                    now = time.time()
                    bar.set_postfix(
                        loss=f"{row['loss']:.3f}", seq_s=f"{seen / max(now - t_last, 1e-9):.0f}", refresh=False
                    )
                    bar.update(1)
                    if now - t_last > 10:
                        seen, t_last = 0, now
            if step % cfg.ckpt_every == 0:
                save(step)
            stop = torch.tensor(
                float(cfg.max_minutes > 0 and (time.time() - t0) / 60 >= cfg.max_minutes), device=device
            )
            if world > 1:  # rank 0's clock decides for everyone
                dist.broadcast(stop, src=0)
            if stop.item():
                log.info("max_minutes reached at step %d", step)
                break
    except KeyboardInterrupt:
        log.warning("interrupted at step %d: saving a checkpoint", step)
        save(step)
        raise
    finally:
        if bar is not None:
            bar.close()
    save(step)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return last
