"""Training InfoNet on fresh draws from the prior: single process, one GPU, or DDP under torchrun.

Every step draws a new batch from the training prior (:mod:`infonet.prior`: random Gaussian
mixtures, independent pairs, Student-t copulas, additive noise) on the training device, from a
generator seeded by (seed, step, rank), so the data of a step never depends on what ran before
it: a run resumed from a checkpoint continues bit for bit the same. The sequence length n of a
step is log-uniform in [min_len, max_len], so one network learns every sample size.

Objective, per batch of B sequences:

    loss = supervised_weight * pinball(quantiles, true MI)  +  dv_weight * (-mean DV read-out)

The first term (as in MIST) trains the network to output the quantiles of the MI given the
sample; the second is the paper's, and trains the critic table. With ``augment`` every sequence
is seen under a random symmetry of the copula square (swap x and y, reverse either), under which
MI is invariant, so one pass needs no averaging over them.

Outputs in ``out_dir``: ``last.pt`` (full training state, written atomically every
``ckpt_every`` steps, at the end, on ``max_minutes``, on Ctrl-C and on SIGTERM), ``best.pt``
(model only, best validation score), ``log.csv`` (one validation column set per sample size),
``options.json`` and ``val_set.npz`` (the cached validation set). A lock file keeps two trainers
out of one folder.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import gc
import logging
import math
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import (
    load_checkpoint,
    model_from_checkpoint,
    model_payload,
    resolve_device,
    save_checkpoint,
    usable_device,
)
from .cli import check_out_dir, save_options
from .copula import rank_transform
from .estimate import predict
from .evaluation import ORDER_GAP, LevelSet, TripletSet, make_level_set, make_triplet_set
from .model import MAX_N_SEEN, QUANTILES, InfoNet, InfoNetConfig, SizeRouted, refine_grid
from .pairwise import autocast_for
from .prior import MixtureBank, PriorConfig, sample_prior_batch

__all__ = ["TrainConfig", "ValidationConfig", "RunFolderInUse", "train", "pinball_loss", "validate"]

log = logging.getLogger(__name__)

VAL_SEED = 10_000_019  # validation sets; training seeds are (seed, step, rank), benchmarks use others
BANK_SEED = 30_000_001  # + seed: the training mixture bank
VAL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5)
SCORED_LEVELS = 1.0  # the validation MAE is the mean over levels up to this one (the 0.0-1.0)
# options that may change when resuming; all others must match the checkpoint's
RESUMABLE_CHANGES = {"steps", "max_minutes", "resume", "progress", "val_every", "ckpt_every", "device", "compile"}


@dataclass
class ValidationConfig:
    sizes: tuple[int, ...] = field(default=(32, 64, 128, 256, 2000), metadata={"help": "sample sizes validated"})
    per_level: int = field(default=24, metadata={"help": "mixtures per MI level"})
    triplets_per_k: int = field(default=24, metadata={"help": "triplets per number of components (order accuracy)"})
    components: int = field(default=10, metadata={"help": "triplets for K = 1..components"})
    mc_samples: int = field(default=50_000, metadata={"help": "Monte-Carlo samples of the validation truth"})
    max_chunks: int = field(default=8, metadata={"help": "disjoint chunks per sequence at the small sizes"})
    score_sizes: tuple[int, ...] = field(
        default=(), metadata={"help": "the sizes whose mean MAE is the score that picks best.pt (default: all)"}
    )

    def __post_init__(self):
        self.sizes = tuple(sorted(int(s) for s in self.sizes))
        if not self.sizes or self.sizes[0] < 8:
            raise ValueError(f"validation sizes must be >= 8, got {self.sizes}")
        self.score_sizes = tuple(sorted(int(s) for s in self.score_sizes)) or self.sizes
        if not set(self.score_sizes) <= set(self.sizes):
            raise ValueError(f"score sizes {self.score_sizes} must be among the validation sizes {self.sizes}")
        if min(self.per_level, self.triplets_per_k, self.components, self.max_chunks) < 1 or self.mc_samples < 64:
            raise ValueError(
                "validation per_level, triplets_per_k, components, max_chunks must be >= 1, mc_samples >= 64"
            )


@dataclass
class TrainConfig:
    out_dir: str = field(default="runs/infonet", metadata={"help": "folder for checkpoints and logs"})
    steps: int = field(default=20_000, metadata={"help": "total optimisation steps"})
    batch_size: int = field(default=64, metadata={"help": "sequences per step and process"})
    min_len: int = field(default=16, metadata={"help": "shortest sequence length"})
    max_len: int = field(
        default=MAX_N_SEEN,
        metadata={
            "help": f"longest sequence length (log-uniform in between; at most {MAX_N_SEEN}, the model's longest)"
        },
    )
    lr: float = 1e-3
    min_lr: float = 2e-5
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    supervised_weight: float = field(default=1.0, metadata={"help": "weight of the quantile loss on the true MI"})
    dv_weight: float = field(default=0.1, metadata={"help": "weight of the DV objective (0: no critic training)"})
    augment: bool = field(default=True, metadata={"help": "random copula-square symmetry per sequence"})
    prior: PriorConfig = field(default_factory=PriorConfig)
    val: ValidationConfig = field(default_factory=ValidationConfig)
    val_every: int = 500
    ckpt_every: int = 500
    max_minutes: float = field(
        default=0.0, metadata={"help": "stop cleanly (with a checkpoint) after this long; 0: no limit"}
    )
    resume: bool = field(default=False, metadata={"help": "continue from out_dir/last.pt"})
    init_from: str = field(default="", metadata={"help": "start from these weights (fresh optimiser)"})
    init_refine: int = field(
        default=1, metadata={"help": "with --init-from: put its weights on a grid this many times finer (same tokens)"}
    )
    head_only: bool = field(
        default=False, metadata={"help": "freeze the trunk and fit only the quantile head (a second stage)"}
    )
    seed: int = 0
    device: str = "auto"
    precision: str = field(default="auto", metadata={"help": "auto (bf16 on CUDA), bf16 or fp32"})
    compile: bool = False
    progress: bool = True
    model: InfoNetConfig = field(default_factory=InfoNetConfig)

    def __post_init__(self):
        for name, cls in (("model", InfoNetConfig), ("prior", PriorConfig), ("val", ValidationConfig)):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, cls(**getattr(self, name)))
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 2,
            "min_len": 8 <= self.min_len <= self.max_len,
            "max_len": self.max_len <= MAX_N_SEEN,  # the model reads a longer sequence as chunks of this
            **optimiser_checks(self),
            "precision": self.precision in ("auto", "bf16", "fp32"),
            "supervised_weight": self.supervised_weight >= 0,
            "dv_weight": self.dv_weight >= 0 and self.dv_weight + self.supervised_weight > 0,
            "val_every": self.val_every >= 1,
            "ckpt_every": self.ckpt_every >= 1,
            "max_minutes": self.max_minutes >= 0,
            "seed": self.seed >= 0,
            "init_refine": self.init_refine >= 1 and (self.init_refine == 1 or bool(self.init_from)),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training options: {', '.join(f'{k}={getattr(self, k)}' for k in bad)}")
        usable_device(self.device)


def optimiser_checks(cfg) -> dict[str, bool]:
    """The checks of the optimiser options both trainers have (a NaN fails every comparison)."""
    return {
        "lr": 0 < cfg.lr < math.inf,
        "min_lr": 0 <= cfg.min_lr <= cfg.lr,
        "warmup_steps": cfg.warmup_steps >= 0,
        "weight_decay": 0 <= cfg.weight_decay < math.inf,
        "grad_clip": 0 < cfg.grad_clip < math.inf,
    }


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


def random_symmetry(u: torch.Tensor, v: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row of (u, v) (B, n) under a random map of the copula square: swap, then reverse either."""
    swap, flip_u, flip_v = (torch.rand(3, u.shape[0], 1, generator=g, device=g.device) < 0.5).unbind(0)
    u, v = torch.where(swap, v, u), torch.where(swap, u, v)
    return torch.where(flip_u, 1 - u, u), torch.where(flip_v, 1 - v, v)


# ----------------------------------------------------------------------------- validation


@dataclass
class ValidationSet:
    levels: LevelSet  # at the largest validation size
    triplets: TripletSet

    @classmethod
    def build(cls, cfg: ValidationConfig, cache: Path) -> ValidationSet:
        """The fixed validation set, cached as plain arrays in ``cache`` (an .npz file)."""
        key = np.array([cfg.per_level, cfg.triplets_per_k, cfg.components, cfg.mc_samples, max(cfg.sizes), VAL_SEED])
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as data:
                if "key" in data and np.array_equal(data["key"], key):
                    levels = LevelSet(**{f.name: data["levels_" + f.name] for f in dataclasses.fields(LevelSet)})
                    triplets = TripletSet(
                        **{f.name: data["triplets_" + f.name] for f in dataclasses.fields(TripletSet)}
                    )
                    return cls(levels, triplets)
        log.info("building the validation set (seed %d)", VAL_SEED)
        n = max(cfg.sizes)
        levels = make_level_set(VAL_LEVELS, cfg.per_level, n, VAL_SEED, mc_samples=cfg.mc_samples)
        triplets = make_triplet_set(
            cfg.triplets_per_k, range(1, cfg.components + 1), n, VAL_SEED + 1, mc_samples=cfg.mc_samples
        )
        arrays = {"key": key}
        arrays.update({"levels_" + k: v for k, v in asdict(levels).items()})
        arrays.update({"triplets_" + k: v for k, v in asdict(triplets).items()})
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)
        return cls(levels, triplets)


def _chunks(a: np.ndarray, size: int, max_chunks: int) -> np.ndarray:
    """(S, n) -> (S * c, size): the first c disjoint chunks of each sequence, c = min(max_chunks, n // size)."""
    c = max(1, min(max_chunks, a.shape[1] // size))
    return a[:, : c * size].reshape(-1, size)


def validate(model: InfoNet, val: ValidationSet, cfg: ValidationConfig) -> dict[str, float]:
    """Per validation size n: MAE over levels 0.0-1.0 of the estimate and of the DV read-out, the worst
    level, the mean estimate on independent pairs (true MI 0) and the 90 % interval coverage; at the
    largest n, order accuracy on all triplets and on the paper's (true MIs >= 0.02 apart). ``score`` is
    the mean MAE over ``score_sizes`` (best.pt is chosen on it)."""
    was_training = model.training
    model.eval()
    lv, tr = val.levels, val.triplets
    scored = lv.level <= SCORED_LEVELS + 1e-9
    g = np.random.default_rng(VAL_SEED)
    shuffled_y = np.take_along_axis(lv.y, g.random(lv.y.shape).argsort(axis=1), axis=1)  # exactly independent
    metrics = {}
    for n in cfg.sizes:
        c = max(1, min(cfg.max_chunks, lv.x.shape[1] // n))
        out = predict(model, _chunks(lv.x, n, c), _chunks(lv.y, n, c))
        truth, level = np.repeat(lv.mi, c), np.repeat(lv.level, c)
        mask = np.repeat(scored, c)
        for name in ("mi", "dv"):
            err = np.abs(out[name] - truth)
            per_level = [err[mask & (level == lev)].mean() for lev in np.unique(level[mask])]
            metrics[f"mae_{name}_n{n}"] = float(np.mean(per_level))
            metrics[f"worst_{name}_n{n}"] = float(np.max(per_level))
        low, high = out["quantiles"][:, 0], out["quantiles"][:, 2]
        null = predict(model, _chunks(lv.x, n, c), _chunks(shuffled_y, n, c))
        metrics[f"zero_mi_n{n}"] = float(null["mi"].mean())
        inside = np.concatenate([((low <= truth) & (truth <= high))[mask], null["quantiles"][:, 0] <= 0.0])
        metrics[f"coverage90_n{n}"] = float(inside.mean())
    both = predict(model, np.concatenate([tr.x, tr.x]), np.concatenate([tr.y, tr.z]))
    gap = np.abs(tr.mi_xy - tr.mi_xz) >= ORDER_GAP
    for name in ("mi", "dv"):
        est = both[name]
        right = (est[: len(tr.x)] > est[len(tr.x) :]) == (tr.mi_xy > tr.mi_xz)
        metrics[f"order_{name}"] = float(right.mean())
        metrics[f"order_gap_{name}"] = float(right[gap].mean()) if gap.any() else math.nan
    metrics["score"] = float(np.mean([metrics[f"mae_mi_n{n}"] for n in cfg.score_sizes]))
    model.train(was_training)
    return metrics


def log_fields(cfg: ValidationConfig) -> list[str]:
    per_size = [
        f"{m}_n{n}" for n in cfg.sizes for m in ("mae_mi", "worst_mi", "zero_mi", "coverage90", "mae_dv", "worst_dv")
    ]
    return (
        ["step", "minutes", "lr", "n", "loss", "pinball", "dv", "grad_norm", "score"]
        + ["order_mi", "order_gap_mi", "order_dv", "order_gap_dv"]
        + per_size
    )


class CsvLog:
    """Appends rows with fixed fields (validation columns empty between validations).

    On resume the log is cut back to the resumed step, so rows written after the last checkpoint
    by the interrupted run are not repeated.
    """

    def __init__(self, path: Path, fields: list[str], resume_step: int | None = None):
        self.path, self.fields = path, fields
        if resume_step is not None and path.is_file():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= resume_step]
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.DictWriter(f, fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, path)
        elif not path.is_file() or resume_step is None:
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(fields)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)


# ----------------------------------------------------------------------------- the run folder


class RunFolderInUse(RuntimeError, ValueError):
    """Another trainer holds the run folder. A ValueError too, so a command line reports it in one line."""


@contextmanager
def locked_run_folder(out: Path):
    """Holds an exclusive lock on ``out`` for the duration (released by the OS if the process dies).

    Raises:
        RunFolderInUse: another trainer holds the folder (its pid is named); a RuntimeError and a ValueError.
        ValueError: ``out`` is a file or cannot be created.
    """
    check_out_dir(out, overwrite=True, flag="--out-dir")
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunFolderInUse(
            f"{out} is in use by another training process (pid {other}); choose another --out-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        for stale in out.glob(".*.pt.*.tmp"):  # left by a process killed while saving; we hold the lock
            log.info("removing the stale temporary file %s", stale)
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Terminated(Exception):
    """SIGTERM arrived (a job scheduler or ``timeout``): the loop saves a checkpoint and stops."""


@contextmanager
def sigterm_raises():
    """Turns SIGTERM into :class:`Terminated` in the main thread while the block runs."""

    def handler(signum, frame):
        raise Terminated(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ----------------------------------------------------------------------------- training


@dataclass
class RunState:
    model: InfoNet
    net: torch.nn.Module  # the model as trained: wrapped by DDP and/or torch.compile
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    cfg: TrainConfig
    bank: MixtureBank | None = None
    step: int = 0
    best: float = math.inf


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
    if cfg.init_from:  # the model is the checkpoint's (possibly refined), not the --model options
        current.pop("model")

    def differs(now, then) -> bool:  # options added since the checkpoint was written are not compared
        if isinstance(now, dict) and isinstance(then, dict):
            return any(differs(now[k], then[k]) for k in now if k in then)
        return now != then

    diffs = [k for k in current if k not in RESUMABLE_CHANGES and k in saved and differs(current[k], saved[k])]
    if diffs:
        raise ValueError(
            "cannot resume with different options: "
            + ", ".join(f"{k}: checkpoint {saved[k]!r} vs now {current[k]!r}" for k in diffs)
        )


def _load_resume(cfg: TrainConfig, last: Path) -> dict | None:
    if not cfg.resume:
        if last.is_file():
            raise ValueError(f"{last} exists: pass --resume to continue it, or choose another --out-dir")
        return None
    if not last.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {last}")
    ckpt = load_checkpoint(last)
    _check_resume(cfg, ckpt.get("train_config", {}))
    return ckpt


def _build_run(cfg: TrainConfig, ckpt: dict | None, world: int, device: torch.device) -> RunState:
    with torch.random.fork_rng(devices=[]):  # the initial weights depend on cfg.seed only
        torch.manual_seed(cfg.seed)
        model = model_from_checkpoint(ckpt) if ckpt else InfoNet(cfg.model)
    if cfg.init_from and not ckpt:
        model = model_from_checkpoint(load_checkpoint(cfg.init_from))
        if isinstance(model, SizeRouted):  # the network that answers the middle of the training range
            middle = round(math.sqrt(cfg.min_len * cfg.max_len))
            model = model.expert_for(middle)
            log.info("--init-from holds size-routed networks: starting from the one for n = %d", middle)
        if cfg.init_refine > 1:  # the same tokens on a finer grid
            fine_cfg, state = refine_grid(model.state_dict(), model.cfg, cfg.init_refine)
            model = InfoNet(fine_cfg)
            model.load_state_dict(state)
        with torch.no_grad():  # calibrated weights: train the raw quantiles (calibrate again after)
            model.head.width_scale.fill_(1.0)
    cfg = dataclasses.replace(cfg, model=model.cfg)
    model.to(device).train()
    if cfg.head_only:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("head."))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.ndim >= 2 and n != "pos"]
    no_decay = [p for n, p in params if p.ndim < 2 or n == "pos"]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    state = RunState(model, model, opt, sched, cfg)
    if cfg.prior.bank_size:
        log.info("building the mixture bank (%d mixtures)", cfg.prior.bank_size)
        state.bank = MixtureBank(cfg.prior, seed=BANK_SEED + cfg.seed, device=device)
    if ckpt:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state.step, state.best = int(ckpt["step"]), float(ckpt.get("best", math.inf))
    if world > 1:
        state.net = DistributedDataParallel(model)
    if cfg.compile:
        state.net = torch.compile(state.net)
    return state


def _train_step(state: RunState, rank: int, device: torch.device) -> dict:
    """One optimisation step on a fresh batch; returns the row for the log."""
    cfg = state.cfg
    g = step_generator(cfg.seed, state.step, rank, device)
    n = sequence_length(g, cfg)
    x, y, mi = sample_prior_batch(cfg.batch_size, n, g, cfg.prior, state.bank)
    u, v = rank_transform(x), rank_transform(y)
    if cfg.augment:
        u, v = random_symmetry(u, v, g)
    with autocast_for(device, cfg.precision):
        res = state.net(u, v)
    sup_term = pinball_loss(res.quantiles.float(), mi)
    dv = res.dv.float().mean()
    loss = cfg.supervised_weight * sup_term - cfg.dv_weight * dv
    state.opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), cfg.grad_clip)
    state.opt.step()
    state.sched.step()
    state.step += 1
    return {
        "step": state.step,
        "lr": state.sched.get_last_lr()[0],
        "n": n,
        "loss": loss.item(),
        "pinball": sup_term.item(),
        "dv": dv.item(),
        "grad_norm": grad_norm.item(),
    }


def _save_last(state: RunState, path: Path) -> None:
    payload = model_payload(
        state.model,
        optimizer=state.opt.state_dict(),
        scheduler=state.sched.state_dict(),
        step=state.step,
        best=state.best,
        train_config=asdict(state.cfg),
    )
    save_checkpoint(path, payload)


def _validate_and_keep_best(state: RunState, val: ValidationSet, out: Path, row: dict) -> None:
    row.update(validate(state.model, val, state.cfg.val))
    if row["score"] < state.best:
        state.best = row["score"]
        save_checkpoint(out / "best.pt", model_payload(state.model, step=state.step, validation=row))
    sizes = state.cfg.val.sizes
    log.info(
        "step %d: score %.4f, MAE by n %s, MI-0 estimate by n %s, order %.3f",
        state.step,
        row["score"],
        {n: round(row[f"mae_mi_n{n}"], 3) for n in sizes},
        {n: round(row[f"zero_mi_n{n}"], 3) for n in sizes},
        row["order_mi"],
    )


def _should_stop(cfg: TrainConfig, t0: float, world: int, device: torch.device) -> bool:
    stop = torch.tensor(float(cfg.max_minutes > 0 and (time.time() - t0) / 60 >= cfg.max_minutes), device=device)
    if world > 1:  # rank 0's clock decides for everyone
        dist.broadcast(stop, src=0)
    return bool(stop.item())


def _loop(state: RunState, rank: int, world: int, device: torch.device, out: Path) -> None:
    cfg = state.cfg
    val = csv_log = bar = None
    first_step = state.step
    try:
        if rank == 0:
            save_options(cfg, out / "options.json")
            csv_log = CsvLog(out / "log.csv", log_fields(cfg.val), resume_step=state.step if cfg.resume else None)
            val = ValidationSet.build(cfg.val, out / "val_set.npz")  # minutes the first time: interruptible
            if cfg.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=cfg.steps, initial=state.step, desc="train", dynamic_ncols=True)
        log.info("model: %d parameters; %d process(es) on %s", state.model.num_params(), world, device)
        t0 = time.time()
        while state.step < cfg.steps:
            row = _train_step(state, rank, device)
            if rank == 0:
                row["minutes"] = round((time.time() - t0) / 60, 3)
                if state.step % cfg.val_every == 0 or state.step == cfg.steps:
                    _validate_and_keep_best(state, val, out, row)
                csv_log.write(row)
                if bar is not None:
                    bar.set_postfix(loss=f"{row['loss']:.3f}", n=row["n"], refresh=False)
                    bar.update(1)
            if rank == 0 and state.step % cfg.ckpt_every == 0:
                _save_last(state, out / "last.pt")
            if _should_stop(cfg, t0, world, device):
                log.info("max_minutes reached at step %d", state.step)
                break
    except (KeyboardInterrupt, Terminated) as err:
        if state.step == first_step:  # nothing trained yet: no checkpoint, so a fresh run can start again
            log.warning("interrupted before the first step (%s): nothing to save", type(err).__name__)
            raise KeyboardInterrupt from None
        log.warning("interrupted at step %d (%s): saving a checkpoint", state.step, type(err).__name__)
        if rank == 0:
            _save_last(state, out / "last.pt")
        raise KeyboardInterrupt from None
    finally:
        if bar is not None:
            bar.close()
    if rank == 0:
        _save_last(state, out / "last.pt")


def train(cfg: TrainConfig) -> Path:
    """Trains (or resumes) and returns the path of the last checkpoint.

    Raises:
        ValueError: options that contradict the run folder (an existing run without ``resume``,
            changed options on resume).
        RunFolderInUse: another trainer holds the run folder (a RuntimeError and a ValueError).
        KeyboardInterrupt: Ctrl-C or SIGTERM (after saving a checkpoint if a step was taken).
    """
    rank, world, device = _setup_distributed(cfg)
    out = Path(cfg.out_dir)
    lock = locked_run_folder(out) if rank == 0 else _nothing()
    try:
        with lock, sigterm_raises():
            ckpt = _load_resume(cfg, out / "last.pt") if rank == 0 or cfg.resume else None
            state = _build_run(cfg, ckpt, world, device)
            _loop(state, rank, world, device, out)
    except Terminated:  # while loading or building (the mixture bank): nothing trained, nothing to save
        log.warning("interrupted by SIGTERM before training began")
        raise KeyboardInterrupt from None
    if world > 1:
        # the DDP wrapper's reducer holds work on the process group: free it while the group is alive
        # (a gloo worker left holding it aborted a rank at exit, once in many CI runs)
        del state
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
    return out / "last.pt"


@contextmanager
def _nothing():
    yield
