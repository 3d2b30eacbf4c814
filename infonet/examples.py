"""Worked examples and measurements of the differentiable estimator (:mod:`infonet.differentiable`).

Shapes: n samples, d input dimensions, k representation dimensions, S steps.

- :func:`feature_discovery`: x of dimension d, y a non-linear function of one planted
  coordinate plus noise; gradient ascent on MI(w . x; y) over a projection w finds it.
- :func:`independence_regulariser`: a small network maps x to a representation z (k dims) that
  a head uses to predict a target; a penalty lambda * MI(z; s) with a nuisance s removes s from
  z, checked from outside with KSG on held-out samples, while the task loss stays where it was.
- :func:`closeness` and :func:`timing`: the soft estimate against the hard-rank one across
  temperatures, and the cost of a forward and a backward pass.

Every function takes an explicit seed and returns plain numbers; figures are built separately.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from . import baselines, distributions
from .checkpoint import load_pretrained
from .copula import rank_transform
from .differentiable import DEFAULT_TEMPERATURE, mi, soft_rank
from .model import InfoNet

__all__ = [
    "FeatureDiscoveryConfig",
    "FeatureDiscoveryResult",
    "feature_discovery",
    "feature_discovery_figure",
    "IndependenceConfig",
    "IndependenceResult",
    "independence_regulariser",
    "independence_figure",
    "closeness",
    "CLOSENESS_FAMILIES",
    "timing",
]

log = logging.getLogger(__name__)

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "square": lambda t: t**2,
    "sin": lambda t: torch.sin(2 * t),
    "abs": lambda t: t.abs(),
}


# ----------------------------------------------------------------------------- feature discovery


@dataclass
class FeatureDiscoveryConfig:
    dim: int = field(default=16, metadata={"help": "dimension d of x"})
    n: int = field(default=512, metadata={"help": "samples drawn per step"})
    steps: int = field(default=150, metadata={"help": "gradient-ascent steps"})
    restarts: int = field(default=8, metadata={"help": "random initial projections, trained together in one batch"})
    lr: float = field(default=0.02, metadata={"help": "Adam learning rate of the projections"})
    function: str = field(default="sin", metadata={"help": "y = f(x_c) + noise; f: sin (sin 2t), square or abs"})
    noise: float = field(default=0.2, metadata={"help": "std of the additive noise on y"})
    temperature: float = field(default=DEFAULT_TEMPERATURE, metadata={"help": "soft-rank temperature"})
    hard_forward: bool = field(default=False, metadata={"help": "hard ranks forward, soft gradient"})
    seed: int = 0


@dataclass
class FeatureDiscoveryResult:
    planted: int  # the coordinate y depends on
    found: int  # argmax |w| of the restart with the highest held-out MI
    best: int  # that restart
    weights: np.ndarray  # (R, d) final projections, unit norm
    mi: np.ndarray  # (S, R) soft MI of each restart's batch at each step
    alignment: np.ndarray  # (S, R) |w_c| / |w| at each step
    path: np.ndarray  # (S, d) |w| / |w| of the best restart at each step
    final_mi: np.ndarray  # (R,) hard-rank estimate of MI(w . x; y) on fresh samples
    planted_mi: float  # the same for the planted coordinate itself
    seconds: float

    def summary(self) -> str:
        a = self.alignment
        return (
            f"planted coordinate {self.planted}, found {self.found} (restart {self.best} of {a.shape[1]}); "
            f"|cos(w, e_planted)| {a[0, self.best]:.3f} -> {a[-1, self.best]:.3f} in {len(a)} steps ({self.seconds:.1f} s); "
            f"held-out MI(w.x; y) {self.final_mi[self.best]:.3f} nats vs MI(x_planted; y) {self.planted_mi:.3f}; "
            f"restarts aligned (|cos| > 0.9): {int((a[-1] > 0.9).sum())} of {a.shape[1]}"
        )


def _feature_batch(
    cfg: FeatureDiscoveryConfig, planted: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(cfg.n, cfg.dim, generator=gen)  # (n, d)
    y = FUNCTIONS[cfg.function](x[:, planted]) + cfg.noise * torch.randn(cfg.n, generator=gen)  # (n,)
    return x, y


def feature_discovery(
    cfg: FeatureDiscoveryConfig, model: InfoNet | None = None, progress=None
) -> FeatureDiscoveryResult:
    """Gradient ascent on MI(w . x; y) over unit projections w, from several random starts at once.

    Each step draws fresh samples; the R restarts are R pairs of one batched estimate (their
    MIs are summed, so each w gets its own gradient). A random w in 16 dimensions sees the
    planted coordinate with |cos| of about 0.25, where the MI is near the estimator's noise, so
    a single start can wander; the restart with the highest held-out hard-rank MI is reported.

    Args:
        cfg: the example's settings (seeded: the planted coordinate, the initial w and all samples).
        model: an InfoNet (default: the shipped weights on the CPU).
        progress: optional callback ``progress(step, total)``.
    Raises:
        ValueError: for an unknown function or settings out of range.
    """
    if cfg.function not in FUNCTIONS:
        raise ValueError(f"function must be one of {sorted(FUNCTIONS)}, got {cfg.function!r}")
    if cfg.dim < 2 or cfg.steps < 1 or cfg.n < 8 or cfg.restarts < 1:
        raise ValueError(
            f"need dim >= 2, steps, restarts >= 1 and n >= 8; got {cfg.dim}, {cfg.steps}, {cfg.restarts}, {cfg.n}"
        )
    model = model if model is not None else load_pretrained(device="cpu")
    gen = torch.Generator().manual_seed(cfg.seed)
    planted = int(torch.randint(cfg.dim, (1,), generator=gen))
    w = torch.randn(cfg.restarts, cfg.dim, generator=gen)
    w = (w / w.norm(dim=-1, keepdim=True)).requires_grad_(True)  # (R, d)
    opt = torch.optim.Adam([w], lr=cfg.lr)
    mis, path = [], []
    start = time.perf_counter()
    for step in range(cfg.steps):
        x, y = _feature_batch(cfg, planted, gen)
        value = mi(
            w @ x.T, y.expand(cfg.restarts, -1), temperature=cfg.temperature, hard_forward=cfg.hard_forward, model=model
        )
        opt.zero_grad()
        (-value.sum()).backward()
        opt.step()
        with torch.no_grad():
            w /= w.norm(dim=-1, keepdim=True)  # MI ignores the scale of w: keep it on the sphere
            path.append(w.abs().numpy().copy())
        mis.append(value.detach().numpy().copy())
        if progress is not None:
            progress(step + 1, cfg.steps)
    seconds = time.perf_counter() - start
    weights = w.detach().numpy().copy()
    x, y = _feature_batch(cfg, planted, torch.Generator().manual_seed(cfg.seed + 1))
    with torch.no_grad():
        u = rank_transform(torch.cat([w @ x.T, x[:, planted][None]]))  # (R + 1, n)
        held_out = model(u, rank_transform(y).expand(cfg.restarts + 1, -1)).mi.numpy().astype(np.float64)
    best = int(held_out[:-1].argmax())
    path = np.stack(path)  # (S, R, d)
    return FeatureDiscoveryResult(
        planted=planted,
        found=int(np.abs(weights[best]).argmax()),
        best=best,
        weights=weights,
        mi=np.stack(mis),
        alignment=path[:, :, planted],
        path=path[:, best],
        final_mi=held_out[:-1],
        planted_mi=float(held_out[-1]),
        seconds=seconds,
    )


def feature_discovery_figure(result: FeatureDiscoveryResult):
    """Two panels: the soft MI per step, and |w_j| per coordinate (the planted one highlighted)."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(result.mi, color="0.7", lw=0.8)
    a.plot(result.mi[:, result.best], color="tab:blue", lw=1.5, label=f"restart {result.best} (best)")
    a.set_xlabel("step")
    a.set_ylabel("soft MI(w . x; y), nats")
    a.set_title("gradient ascent on MI (all restarts)")
    a.legend()
    for j in range(result.path.shape[1]):
        planted = j == result.planted
        b.plot(
            result.path[:, j],
            color="tab:red" if planted else "0.7",
            lw=2 if planted else 0.8,
            label=f"x_{j} (planted)" if planted else None,
        )
    b.set_xlabel("step")
    b.set_ylabel("|w_j| / |w|")
    b.set_title(f"projection weights, restart {result.best}")
    b.legend(loc="center right")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- independence


@dataclass
class IndependenceConfig:
    input_dim: int = field(default=6, metadata={"help": "dimension of x: a random mix of a, s and noise"})
    rep_dim: int = field(default=2, metadata={"help": "dimension k of the representation z"})
    hidden: int = 32
    n: int = field(default=512, metadata={"help": "training samples per step"})
    steps: int = field(default=300, metadata={"help": "training steps"})
    lr: float = 3e-3
    # 0.3 with a 30 % ramp kept the task MSE within 0.003 of the plain run's for seeds 0-2 (1.0 cost 0.02-0.03,
    # 1.0 ramped 0.008-0.013); docs/notes/issue-15.md
    penalty: float = field(default=0.3, metadata={"help": "weight lambda of MI(z; s) in the loss"})
    nuisance_scale: float = field(default=3.0, metadata={"help": "std of the nuisance s in x (a and the noise have 1)"})
    warmup: float = field(
        default=0.3, metadata={"help": "share of the steps over which the penalty ramps linearly from 0 to lambda"}
    )
    num_projections: int = field(default=8, metadata={"help": "random projections of z for the sliced MI"})
    eval_every: int = 25
    eval_n: int = field(default=2000, metadata={"help": "held-out samples for KSG and the task loss"})
    temperature: float = DEFAULT_TEMPERATURE
    seed: int = 0


@dataclass
class IndependenceResult:
    steps: np.ndarray  # (E,) evaluation steps
    task: dict[str, np.ndarray]  # "penalised" / "plain" -> (E,) held-out task MSE
    ksg: dict[str, np.ndarray]  # -> (E,) held-out KSG MI(z; s), nats
    infonet: dict[str, np.ndarray]  # -> (E,) held-out sliced InfoNet MI(z; s) (hard ranks), nats
    target_var: float  # variance of the target: the MSE of predicting its mean
    oracle_mse: float  # MSE of sin(1.5 a), a read from x alone: reachable with no trace of s
    oracle_ksg: float  # KSG MI(a; s) of that nuisance-free representation, nats (0 in truth)
    seconds: float

    def summary(self) -> str:
        rows = []
        for run in ("plain", "penalised"):
            rows.append(
                f"{run:>9}: task MSE {self.task[run][0]:.3f} -> {self.task[run][-1]:.3f}, "
                f"KSG MI(z; s) {self.ksg[run][0]:.3f} -> {self.ksg[run][-1]:.3f} nats, "
                f"InfoNet MI(z; s) {self.infonet[run][0]:.3f} -> {self.infonet[run][-1]:.3f}"
            )
        return "\n".join(rows) + (
            f"\n(target variance {self.target_var:.3f}; nuisance-free solution z = a: task MSE {self.oracle_mse:.3f}, "
            f"KSG MI(a; s) {self.oracle_ksg:.3f}; {self.seconds:.1f} s)"
        )


class _Encoder(nn.Module):
    def __init__(self, cfg: IndependenceConfig):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(cfg.input_dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.hidden), nn.GELU()
        )
        self.rep = nn.Linear(cfg.hidden, cfg.rep_dim)
        self.head = nn.Sequential(nn.Linear(cfg.rep_dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.rep(self.body(x))  # (n, k) representation
        return z, self.head(z).squeeze(-1)  # (n,) prediction of the target


def _independence_mix(cfg: IndependenceConfig) -> torch.Tensor:
    """(input_dim, input_dim) seeded random rotation: x = latent @ mix, so latent = x @ mix.T exactly.

    So the task admits a solution free of the nuisance: a is a linear function of x, and sin(1.5 a)
    reaches the noise floor (MSE 0.01) while being independent of s.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    return torch.linalg.qr(torch.randn(cfg.input_dim, cfg.input_dim, generator=gen)).Q


def _independence_data(cfg: IndependenceConfig, mix: torch.Tensor, n: int, gen: torch.Generator):
    """x (n, input_dim) mixing the signal a, the nuisance s and noise; target sin(1.5 a) + noise; s (n,)."""
    latent = torch.randn(n, cfg.input_dim, generator=gen)  # column 0: a, column 1: s, the rest noise
    latent[:, 1] *= cfg.nuisance_scale  # a loud nuisance: most of x's variance, useless for the task
    a, s = latent[:, 0], latent[:, 1]
    target = torch.sin(1.5 * a) + 0.1 * torch.randn(n, generator=gen)
    return latent @ mix, target, s


def independence_regulariser(
    cfg: IndependenceConfig, model: InfoNet | None = None, progress=None
) -> IndependenceResult:
    """Trains the same network twice from the same seed, with and without lambda * MI(z; s).

    The task is predicting sin(1.5 a) from x, a random rotation of (a, s, noise) in which the
    nuisance s (std ``nuisance_scale``) carries most of the variance: s is useless for the task
    and a is exactly linear in x, so a representation free of s loses nothing (the result
    reports that solution's MSE and KSG), but nothing in the task loss removes the s that a
    random network puts into z. The penalty is the sliced soft MI over ``num_projections``
    random directions of z (new directions each step), its weight ramped linearly from 0 to
    ``penalty`` over the first ``warmup`` share of the steps: at weight 1 from the start, the
    penalty's gradient (noisy near independence) slowed the task's learning and left its MSE
    3-4 times the plain run's after 300 steps.
    """
    if cfg.input_dim < 2 or cfg.rep_dim < 1 or cfg.steps < 1 or cfg.eval_every < 1:
        raise ValueError("need input_dim >= 2, rep_dim >= 1, steps >= 1 and eval_every >= 1")
    if not 0 <= cfg.warmup <= 1 or cfg.penalty < 0:
        raise ValueError(f"need penalty >= 0 and warmup in [0, 1]; got {cfg.penalty}, {cfg.warmup}")
    model = model if model is not None else load_pretrained(device="cpu")
    mix = _independence_mix(cfg)
    x_eval, t_eval, s_eval = _independence_data(cfg, mix, cfg.eval_n, torch.Generator().manual_seed(cfg.seed + 1))
    a_eval = (x_eval @ mix.T)[:, 0]  # the signal, recovered from x alone
    start = time.perf_counter()
    task, ksg, neural, steps = {}, {}, {}, []
    for run, weight in (("plain", 0.0), ("penalised", cfg.penalty)):
        with torch.random.fork_rng():  # the same initial network for both runs, the caller's RNG untouched
            torch.manual_seed(cfg.seed + 2)
            net = _Encoder(cfg)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        data_gen = torch.Generator().manual_seed(cfg.seed + 3)
        task[run], ksg[run], neural[run], steps = [], [], [], []
        for step in range(cfg.steps + 1):
            if step % cfg.eval_every == 0 or step == cfg.steps:
                mse, k, m = _evaluate(net, x_eval, t_eval, s_eval, model)
                task[run].append(mse)
                ksg[run].append(k)
                neural[run].append(m)
                steps.append(step)
            if step == cfg.steps:
                break
            x, t, s = _independence_data(cfg, mix, cfg.n, data_gen)
            z, pred = net(x)
            loss = ((pred - t) ** 2).mean()
            ramp = min(1.0, step / (cfg.warmup * cfg.steps)) if cfg.warmup > 0 else 1.0
            if weight > 0:
                dep = mi(
                    z,
                    s,
                    sliced=True,
                    num_projections=cfg.num_projections,
                    seed=step,
                    temperature=cfg.temperature,
                    model=model,
                )
                loss = loss + weight * ramp * dep
            opt.zero_grad()
            loss.backward()
            opt.step()
            if progress is not None:
                progress(step + 1, cfg.steps)
    return IndependenceResult(
        steps=np.array(steps),
        task={k: np.array(v) for k, v in task.items()},
        ksg={k: np.array(v) for k, v in ksg.items()},
        infonet={k: np.array(v) for k, v in neural.items()},
        target_var=float(t_eval.var()),
        oracle_mse=float(((torch.sin(1.5 * a_eval) - t_eval) ** 2).mean()),
        oracle_ksg=baselines.ksg(a_eval.numpy().astype(np.float64), s_eval.numpy().astype(np.float64)),
        seconds=time.perf_counter() - start,
    )


@torch.no_grad()
def _evaluate(net: _Encoder, x, t, s, model) -> tuple[float, float, float]:
    z, pred = net(x)
    mse = float(((pred - t) ** 2).mean())
    k = baselines.ksg(z.numpy().astype(np.float64), s.numpy().astype(np.float64))
    m = float(mi(z, s, sliced=True, num_projections=32, seed=10**6, hard_forward=True, model=model))
    return mse, k, m


def independence_figure(result: IndependenceResult):
    """Held-out task MSE and KSG MI(z; s) against the step, with and without the penalty."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for run, colour in (("plain", "0.5"), ("penalised", "tab:red")):
        a.plot(result.steps, result.task[run], color=colour, marker="o", ms=3, label=run)
        b.plot(result.steps, result.ksg[run], color=colour, marker="o", ms=3, label=f"{run} (KSG)")
        b.plot(result.steps, result.infonet[run], color=colour, ls="--", lw=1, label=f"{run} (InfoNet, hard ranks)")
    a.axhline(result.target_var, color="k", lw=0.6, ls=":", label="target variance")
    a.axhline(result.oracle_mse, color="tab:green", lw=0.8, ls="--", label="z = a (free of s)")
    a.set_xlabel("step")
    a.set_ylabel("held-out task MSE")
    a.set_yscale("log")
    a.set_title("task loss")
    a.legend()
    b.set_xlabel("step")
    b.set_ylabel("MI(z; nuisance), nats")
    b.set_title("dependence on the nuisance")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- measurements

CLOSENESS_FAMILIES = (
    distributions.gaussian(0.0),
    distributions.gaussian(0.5),
    distributions.gaussian(0.9),
    distributions.half_cube(0.7),
    distributions.asinh(0.7),
    distributions.student_t(0.5, 2.0),
    distributions.additive_uniform(0.5),
)


def closeness(
    model: InfoNet,
    temperatures=(0.1, 0.03, 0.01, 0.003, 0.001),
    ns=(128, 512, 2048),
    repeats: int = 4,
    seed: int = 0,
) -> list[dict]:
    """Soft-rank estimate against the hard-rank one (the same network, one symmetry) per n and temperature.

    Returns one row per (n, temperature): mean and max |soft - hard| and the mean signed
    difference over ``repeats`` samples of each of :data:`CLOSENESS_FAMILIES`, the largest
    |soft rank - hard rank| in copula units, and the mean gradient norm |d MI / d x| per pair
    (it vanishes as the temperature falls below the gaps between samples).
    """
    rows = []
    for n in ns:
        xs, ys = [], []
        for i, dist in enumerate(CLOSENESS_FAMILIES):
            for r in range(repeats):
                x, y = dist.sample(n, seed=seed + 1000 * i + r)
                xs.append(x)
                ys.append(y)
        x = torch.as_tensor(np.stack(xs), dtype=torch.float32)  # (B, n)
        y = torch.as_tensor(np.stack(ys), dtype=torch.float32)
        with torch.no_grad():
            hard = model(rank_transform(x), rank_transform(y)).mi
        for tau in temperatures:
            xg = x.clone().requires_grad_(True)
            soft = mi(xg, y, temperature=tau, model=model)
            soft.sum().backward()
            diff = soft.detach() - hard
            rank_gap = (soft_rank(x, tau) - rank_transform(x)).abs().max()
            rows.append(
                {
                    "n": n,
                    "temperature": tau,
                    "mean_abs_diff": float(diff.abs().mean()),
                    "max_abs_diff": float(diff.abs().max()),
                    "mean_diff": float(diff.mean()),
                    "max_rank_gap": float(rank_gap),
                    "grad_norm": float(xg.grad.norm(dim=-1).mean()),
                }
            )
            log.info("closeness n=%d tau=%g: %s", n, tau, rows[-1])
    return rows


def timing(model: InfoNet, batch: int = 256, n: int = 512, repeats: int = 5, seed: int = 0) -> list[dict]:
    """Median seconds of: the hard-rank forward (no gradient), the soft forward, and soft forward + backward.

    Rows: ``{"pass", "seconds", "best_seconds", "pairs_per_s"}`` for B = ``batch`` pairs of n samples
    (one symmetry); ``seconds`` is the median, ``best_seconds`` the fastest of the repeats.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=gen)
    y = 0.6 * x + 0.8 * torch.randn(batch, n, generator=gen)

    def hard_forward():
        with torch.no_grad():
            return model(rank_transform(x), rank_transform(y)).mi

    def soft_ranks_only():
        with torch.no_grad():
            soft_rank(x), soft_rank(y)

    def soft_forward():
        with torch.no_grad():
            mi(x, y, model=model)

    def soft_backward():
        xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        mi(xg, yg, model=model).sum().backward()

    def straight_through_backward():
        xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        mi(xg, yg, model=model, hard_forward=True).sum().backward()

    passes = {
        "forward, hard ranks (no gradient)": hard_forward,
        "soft ranks of x and y alone (no gradient)": soft_ranks_only,
        "forward, soft ranks (no gradient)": soft_forward,
        "forward + backward, soft ranks": soft_backward,
        "forward + backward, hard_forward=True": straight_through_backward,
    }
    rows = []
    for name, fn in passes.items():
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        # the fastest run too: on a shared machine the median carries the other jobs' load
        rows.append({"pass": name, "seconds": sec, "best_seconds": min(times), "pairs_per_s": batch / sec})
    return rows
