"""The multivariate InfoNet: MI between X (n, dx) and Y (n, dy), dx and dy from 1 to 32, in one pass.

Shapes: B batch of sequences, n samples, dx / dy dimensions, k = min(dx, dy) canonical pairs,
S = MAX_DIM slots per side, L latents, D width, Q quantiles.

    normal scores of the per-coordinate ranks zx (B, n, dx), zy (B, n, dy)
      -> whitened per side with a shrunk correlation matrix (Cholesky), then rotated into canonical
         coordinates (CCA): a (B, n, dx), b (B, n, dy), canonical correlations s (B, k)
      -> the Gaussian-copula MI  gc = -1/2 sum log(1 - s_i^2)  (exact for a Gaussian copula, as n grows)
      -> one token per sample: a, b and a * b padded to S slots, the squared radii |a|^2 / dx, |b|^2 / dy
      -> L latents read the n tokens once (cross-attention, Perceiver), `depth` latent self-attention
         blocks, mean-pooled (B, D)
      -> quantile head on the pooled latents and the side features (log n, dx, dy, s, gc, and moments
         of the canonical pairs that vanish for a Gaussian copula, :func:`gaussian_departures`):
         the median starts at gc and learns the correction; the 5 / 95 % quantiles beside it (B, Q)

With ``knn`` the side features also carry two Kraskov-Stoegbauer-Grassberger estimates (k = 3 and 10)
read on the canonical coordinates of at most ``knn_samples`` samples (:func:`knn_mi`; 256, and 4,096
in the shipped network for long samples, whose estimates then keep improving with n): a Gaussian
mixture whose clusters pair up across the sides has high MI and a Gaussian-copula MI near 0, and
16 latents reading the samples once did not see it (0.17 read for a truth of 1.47 at n = 1000, where
KSG reads 1.26); the network learns when to trust those neighbour counts and how to undo their bias.
With ``knn_start`` (the shipped network for long samples) the median's start moves from the
Gaussian-copula MI towards those counts by gates the head learns (:class:`VectorHead`).

With ``unbiased_gc`` the median starts instead at the Gaussian-copula MI with the exact small-sample
bias of its log-determinants removed (:func:`unbiased_gaussian_mi`, where n >= dx + dy + 16), which
the side features carry too: the plug-in formula reads about 3 nats too much at d = 25, n = 128.

Why this shape. Canonical coordinates put everything a Gaussian copula can say into k numbers, which
the head reads directly: the network need not rediscover the Gaussian formula, only its small-sample
bias (large at d = 25, n = 128) and what a Gaussian copula cannot see (a shared scale as in a
Student-t, spirals, clusters), which lives in the samples' joint shape and reaches the head through
the latents and the moments. (Without the moments, trained on a prior where a third of the pairs was
bent, the network could not tell a bent pair from a Gaussian one and added about 0.6 nats to every
Gaussian: measured on the BMI tasks at 2,500 steps.) The latents read the samples once, so the cost grows linearly in n with a small constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import Block, QuantileHead, attend, log_n_feature, softmax_keys

__all__ = [
    "DomainRouted",
    "VectorNetConfig",
    "VectorInfoNet",
    "VectorOutput",
    "canonical_view",
    "knn_mi",
    "normal_scores",
    "MAX_DIM",
]

MAX_DIM = 32  # S: dimensions per side the network answers
SIDE_FEATURES = 3 + MAX_DIM + 3 + 2 * MAX_DIM + 1  # log n, dx, dy; |s|; gc, shrinkages; moments; radii
UNBIASED_FEATURES = 2  # with unbiased_gc: the bias-corrected Gaussian MI and whether it was computed
KNN_NEIGHBOURS = (3, 10)  # with knn: a KSG estimate for each of these k
KNN_SAMPLES = 256  # ... read on at most this many samples (the cost is quadratic in them)
TOKEN_FEATURES = 3 * MAX_DIM + 2  # a, b, a * b padded; the two squared radii
MAX_CORRELATION = 0.9999  # canonical correlations are clamped here before the log
SHORT_KEYS = 64  # attention over at most this many keys is written out (:func:`~infonet.model.attend`)


@dataclass
class VectorNetConfig:
    dim: int = 96  # D
    latents: int = 16  # L
    depth: int = 2  # latent self-attention blocks after the cross-attention
    heads: int = 4
    mlp_ratio: int = 2
    read_samples: bool = True  # False: the head reads only the side features (a Gaussian-copula corrector)
    shrinkage: float = 1.0  # correlation matrices are shrunk towards I by shrinkage * d / (n + d)
    pair_correlations: bool = False  # s: each canonical pair's own correlation, not the singular values
    unbiased_gc: bool = False  # the median starts at the bias-corrected Gaussian-copula MI (unbiased_gaussian_mi)
    knn: bool = False  # the side features carry KSG estimates on the canonical coordinates (knn_mi)
    knn_samples: int = KNN_SAMPLES  # ... read on at most this many of the samples
    knn_start: bool = False  # with knn: the median starts at a learned blend of the Gaussian MI and the KSG estimates
    # the domain it is trained on and answers: dimensions per side and samples (training and calibration draw
    # within them; a network for short, low-dimensional pairs answers those where it is routed, see vector_estimate)
    max_dim: int = MAX_DIM
    max_len: int = 4096

    def __post_init__(self):
        if not 2 <= self.max_dim <= MAX_DIM:
            raise ValueError(f"max_dim must be in [2, {MAX_DIM}], got {self.max_dim}")
        if self.max_len < 16:
            raise ValueError(f"max_len must be >= 16, got {self.max_len}")
        for name in ("dim", "latents", "depth", "heads", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        if self.knn_samples < 16:
            raise ValueError(f"knn_samples must be >= 16, got {self.knn_samples}")
        if self.knn_start and not self.knn:
            raise ValueError("knn_start needs knn (the KSG estimates it blends in)")


@dataclass
class VectorOutput:
    mi: torch.Tensor  # (B,) the estimate (the median quantile), nats
    quantiles: torch.Tensor  # (B, Q) at QUANTILES
    gc: torch.Tensor  # (B,) the Gaussian-copula MI the median starts from (bias-corrected with unbiased_gc), nats


# ----------------------------------------------------------------------------- helpers


def normal_scores(u: torch.Tensor) -> torch.Tensor:
    """Copula positions in (0, 1) -> standard normal scores (the inverse normal CDF)."""
    return torch.special.ndtri(u.clamp(1e-6, 1 - 1e-6))


def _whiten(z: torch.Tensor, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised z (B, n, d) -> z L^-T (B, n, d), where L L^T is z's correlation shrunk towards I;
    and the shrinkage weight (B,)."""
    B, n, d = z.shape
    corr = z.transpose(1, 2) @ z / n  # (B, d, d)
    lam = shrinkage * d / (n + d)
    eye = torch.eye(d, device=z.device, dtype=z.dtype)
    chol = torch.linalg.cholesky((1 - lam) * corr + (lam + 1e-5) * eye)
    # L^-1 of the small (d, d) factor, then one matmul: a batched triangular solve against the n samples is slow on CPUs
    inv = torch.linalg.solve_triangular(chol, eye.expand(B, d, d), upper=False)
    white = z @ inv.transpose(1, 2)
    return white, torch.full((B,), lam, device=z.device, dtype=z.dtype)


def canonical_view(zx: torch.Tensor, zy: torch.Tensor, shrinkage: float = 1.0, pair_correlations: bool = False):
    """Canonical coordinates of two samples (regularised CCA).

    Args:
        zx: (B, n, dx), zy: (B, n, dy) samples (normal scores of ranks).
    Returns:
        a (B, n, dx), b (B, n, dy): each side whitened and rotated so that a_i and b_i (i < k) are the
        i-th canonical pair and all other cross-correlations vanish; s (B, k) the canonical
        correlations, descending; lam (B, 2) the shrinkage weights of x and y.

    With shrinkage the whitened sides are not exactly white, and a side with one strong common factor
    can give a singular value above 1 (1.13 for BMI's dense 25-D task at n = 128, truth 0.96), which the
    Gaussian formula clamps. ``pair_correlations`` reads s as each canonical pair's own sample
    correlation instead, which is always a correlation; a network is trained on one of the two.

    The rotations come from an SVD taken without gradient; s is read as diag(U^T C V) with them,
    which has the SVD's exact derivative (distinct singular values), and a, b carry gradients
    through the whitening. So the differentiable MI has stable gradients even where singular
    values repeat (the zeros beyond k always do).
    """
    zx = zx - zx.mean(1, keepdim=True)
    zy = zy - zy.mean(1, keepdim=True)
    zx = zx / zx.square().mean(1, keepdim=True).sqrt().clamp_min(1e-6)
    zy = zy / zy.square().mean(1, keepdim=True).sqrt().clamp_min(1e-6)
    xw, lam_x = _whiten(zx, shrinkage)
    yw, lam_y = _whiten(zy, shrinkage)
    cross = xw.transpose(1, 2) @ yw / zx.shape[1]  # (B, dx, dy)
    with torch.no_grad():
        u, _, vh = torch.linalg.svd(cross.float(), full_matrices=True)
    u, v = u.to(cross.dtype), vh.transpose(1, 2).to(cross.dtype)
    k = min(zx.shape[-1], zy.shape[-1])
    s = torch.diagonal(u.transpose(1, 2) @ cross @ v, dim1=-2, dim2=-1)[:, :k]
    a, b = xw @ u, yw @ v
    if pair_correlations:
        ak, bk = a[..., :k], b[..., :k]
        s = (ak * bk).mean(1) / (ak.square().mean(1) * bk.square().mean(1)).sqrt().clamp_min(1e-12)
    return a, b, s, torch.stack([lam_x, lam_y], -1)


def gaussian_copula_mi(s: torch.Tensor) -> torch.Tensor:
    """-1/2 sum log(1 - s_i^2) over canonical correlations s (B, k) -> (B,)."""
    s = s.abs().clamp(max=MAX_CORRELATION)
    return -0.5 * torch.log1p(-s.square()).sum(-1)


UNBIASED_MARGIN = 16  # samples beyond dx + dy below which the bias-corrected formula is not used


def _log_det_bias(d: int, n: int) -> float:
    """E[log det S] - log det Sigma for the covariance S of n Gaussian samples in d dimensions (n - 1 dof)."""
    half = (n - torch.arange(1, d + 1, dtype=torch.float64)) / 2
    return float(torch.special.digamma(half).sum() + d * math.log(2 / (n - 1)))


def _log_det(c: torch.Tensor) -> torch.Tensor:
    """log det of symmetric positive definite matrices (..., d, d), by Cholesky."""
    eye = torch.eye(c.shape[-1], dtype=c.dtype, device=c.device)
    return 2 * torch.linalg.cholesky(c + 1e-9 * eye).diagonal(dim1=-2, dim2=-1).log().sum(-1)


def unbiased_gaussian_mi(zx: torch.Tensor, zy: torch.Tensor) -> torch.Tensor | None:
    """The Gaussian MI of zx (B, n, dx) and zy (B, n, dy) with the exact small-sample bias of each
    log-determinant removed (the sample covariance's Wishart expectation), -> (B,); None where
    n < dx + dy + UNBIASED_MARGIN (the joint covariance is near singular).

    Unbiased for Gaussian samples whatever d / n: at d = 25 per side and n = 128 the plug-in formula
    reads about 3.2 nats for truths of 1.0-1.3, and this one is off by 0.16 on average (BMI development
    samples). On normal scores of ranks it is the Gaussian-copula MI, bias-corrected; it can be negative.
    """
    n, dx, dy = zx.shape[1], zx.shape[-1], zy.shape[-1]
    if n < dx + dy + UNBIASED_MARGIN:
        return None
    z = torch.cat([zx, zy], -1).double()
    z = z - z.mean(1, keepdim=True)
    cov = z.transpose(1, 2) @ z / (n - 1)
    plug_in = 0.5 * (_log_det(cov[:, :dx, :dx]) + _log_det(cov[:, dx:, dx:]) - _log_det(cov))
    bias = 0.5 * (_log_det_bias(dx, n) + _log_det_bias(dy, n) - _log_det_bias(dx + dy, n))
    return (plug_in - bias).to(zx.dtype)


def gaussian_departures(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> list[torch.Tensor]:
    """Moments of the canonical coordinates that vanish for a Gaussian copula (so the network can tell).

    For a canonical pair (a_i, b_i) of a Gaussian, E[a^2 b^2] = 1 + 2 s^2 and E[a b^3 + a^3 b] / 2 = 3 s;
    and the squared radii |a|^2, |b|^2 have covariance 2 sum s^2. Heavy joint tails (Student-t), bends
    (spirals) and mixtures move them. Returns [(B, MAX_DIM), (B, MAX_DIM), (B, 1)], signed with s.
    """
    k = s.shape[-1]
    ak, bk = a[..., :k], b[..., :k]
    sign = torch.where(s < 0, -1.0, 1.0).to(s.dtype)
    ab = ak * bk
    m22 = ab.square().mean(1) - (1 + 2 * s.square())
    m13 = sign * 0.5 * (ab * (ak.square() + bk.square())).mean(1) - 3 * s.abs()
    ra, rb = a.square().sum(-1), b.square().sum(-1)  # (B, n)
    cov = ((ra - ra.mean(1, keepdim=True)) * (rb - rb.mean(1, keepdim=True))).mean(1)
    radii = (cov - 2 * s.square().sum(-1)) / (2 * math.sqrt(a.shape[-1] * b.shape[-1]))
    return [_pad(m22).clamp(-10, 10), _pad(m13).clamp(-10, 10), radii.clamp(-10, 10).unsqueeze(-1)]


def _digamma(x: float) -> float:
    return float(torch.special.digamma(torch.tensor(float(x), dtype=torch.float64)))


@torch.no_grad()
def knn_mi(a: torch.Tensor, b: torch.Tensor, ks=KNN_NEIGHBOURS, max_samples: int = KNN_SAMPLES) -> torch.Tensor:
    """KSG estimates (Kraskov et al. 2004, the first estimator, max-norm) of a (B, n, dx) against
    b (B, n, dy), one per k in ``ks`` -> (B, len(ks)), nats; no gradient (the counts are steps).

    With n > ``max_samples`` it reads ``max_samples`` samples evenly spaced in the order of a's first
    coordinate, so the result does not depend on the order of the samples.
    """
    B, n, _ = a.shape
    if n > max_samples:
        order = a[..., 0].argsort(dim=1)
        pick = order[:, torch.linspace(0, n - 1, max_samples, device=a.device).round().long()]
        a = a.gather(1, pick.unsqueeze(-1).expand(-1, -1, a.shape[-1]))
        b = b.gather(1, pick.unsqueeze(-1).expand(-1, -1, b.shape[-1]))
    m = a.shape[1]
    ks = [min(k, m - 1) for k in ks]
    dist_a, dist_b = (torch.cdist(z.float(), z.float(), p=math.inf) for z in (a, b))
    # each sample is its own nearest point (distance 0): the k_max + 1 smallest hold it first, and the
    # counts below hold it wherever eps > 0; so no diagonal is masked (a third of the cost at m = 1000)
    nearest = torch.maximum(dist_a, dist_b).topk(max(ks) + 1, dim=-1, largest=False).values[..., 1:]
    out = []
    for k in ks:
        eps = nearest[..., k - 1 : k]
        itself = (eps[..., 0] > 0).int()
        # neighbours strictly closer than eps (an int32 sum: 3x faster on a CPU than a bool tensor's default sum)
        n_a, n_b = ((d < eps).sum(-1, dtype=torch.int32) - itself for d in (dist_a, dist_b))
        marginal = torch.special.digamma(n_a + 1.0) + torch.special.digamma(n_b + 1.0)
        out.append(_digamma(k) + _digamma(m) - marginal.mean(-1))
    return torch.stack(out, -1).to(a.dtype)


def _pad(t: torch.Tensor, size: int = MAX_DIM) -> torch.Tensor:
    return F.pad(t, (0, size - t.shape[-1]))


def _inverse_softplus(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp_min(1e-4)
    return t + torch.log(-torch.expm1(-t))


# ----------------------------------------------------------------------------- blocks


class CrossAttention(nn.Module):
    """Queries (B, L, D) attend to keys/values (B, n, D); pre-normed by the caller."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        (B, L, D), n = q.shape, kv.shape[1]
        h, c = self.heads, D // self.heads
        q = self.to_q(q).view(B, L, h, c).transpose(1, 2)  # (B, h, L, c)
        if n <= SHORT_KEYS and 2 * h * L <= D:  # where it was measured faster (_through_samples)
            return self.to_out(self._through_samples(q, kv))
        k, v = self.to_kv(kv).view(B, n, 2, h, c).permute(2, 0, 3, 1, 4)  # (B, h, n, c) each
        out = attend(q, k, v, n <= SHORT_KEYS).transpose(1, 2).reshape(B, L, D)
        return self.to_out(out)

    def _through_samples(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        """The attention of q (B, h, L, c) over kv (B, n, D) with keys and values never formed -> (B, L, D).

        Per head, q k^T = (q W_k) kv^T and softmax(.) v = (softmax(.) kv) W_v^T: the h L queries move to
        the samples' width D, instead of the n samples to the heads' (2 n D^2 multiply-adds and strided
        copies of (B, h, n, c)). Measured on one CPU thread, 2,000 pairs (best of 6): the narrow network
        (h L = 32, D = 64) takes 0.145-0.150 s against 0.158 s at n = 50 and 0.157-0.159 s against 0.191 s
        at n = 64; the full network (h L = 64, D = 96) took 13-25 % longer, so it keeps the keys.
        """
        (B, h, L, c), D = q.shape, kv.shape[-1]
        w_k, w_v = self.to_kv.weight.view(2, h, c, D)
        q_kv = torch.einsum("bhlc,hcd->bhld", q, w_k).reshape(B, h * L, D)
        weights = softmax_keys((q_kv @ kv.transpose(1, 2)) * c**-0.5)  # (B, h L, n)
        mixed = (weights @ kv).view(B, h, L, D)  # each head's mixture of the samples
        return torch.cat([mixed[:, i] @ w_v[i].T for i in range(h)], dim=-1)  # (B, L, h c); einsum copies slowly


START_FLOOR = 0.3  # nats: where the median starts when the Gaussian-copula MI is near 0


def soft_floor(gc: torch.Tensor, floor: float = START_FLOOR) -> torch.Tensor:
    """gc + floor softplus(-gc / floor): gc itself above about 2 floor (within 0.011 at gc = 1), floor log 2 at 0.

    The median is softplus(softplus^-1(start) + raw), whose slope in raw is 1 - exp(-start): starting at
    gc itself, a pair whose Gaussian-copula MI is 0 but whose MI is not (a Student-t with no correlation,
    clusters) had slope 0.01, and the network never learnt to lift it (0.05 nats read for truths of 0.2-0.45).
    """
    return gc + floor * F.softplus(-gc / floor)


class VectorHead(QuantileHead):
    """Pooled latents and side features -> quantiles, the median starting at the Gaussian-copula MI.

    With ``blend`` KSG estimates (``knn_start``) the start moves from the Gaussian-copula MI gc
    towards them, gc + sum_i tanh(g_i) (ksg_i - gc), with gates g read from the same features; the
    gates start at 0, so a network fine-tuned with them starts from its own estimates. Why: where
    the samples are many and the dependence is not Gaussian (clusters that pair up across the sides),
    the neighbour counts are the better start, and the correction the median learns in softplus space
    from gc had to be large (32 fresh mixtures of the benchmark's recipe at n = 5000, d = 2-5: MAE 0.123
    without the gates, 0.097 with them, KSG's 0.085; ``benchmarks.long_samples``).

    The interval calibration of :class:`~infonet.model.QuantileHead` (``width_scale`` per sample size)
    applies unchanged.
    """

    def __init__(self, in_dim: int, dim: int, blend: int = 0):
        super().__init__(dim)
        self.net = nn.Sequential(nn.Linear(in_dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim), nn.GELU())
        nn.init.zeros_(self.out.weight)  # start at gc with unit widths: a sound estimate from step 0
        nn.init.zeros_(self.out.bias)
        self.gate = nn.Linear(dim, blend) if blend else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def forward(self, features: torch.Tensor, gc: torch.Tensor, n: int, knn: torch.Tensor | None = None):
        hidden = self.net(features)
        raw = self.out(hidden).float()  # (B, 3)
        start = gc.float()
        if self.gate is not None:
            start = start + (torch.tanh(self.gate(hidden).float()) * (knn.float() - start.unsqueeze(-1))).sum(-1)
        scale_low, scale_high = self.scale_at(n)
        median = F.softplus(_inverse_softplus(soft_floor(start)) + raw[:, 0])
        low = F.relu(median - scale_low * F.softplus(raw[:, 1] - 1))
        high = median + scale_high * F.softplus(raw[:, 2] - 1)
        return torch.stack([low, median, high], dim=-1)


# ----------------------------------------------------------------------------- model


class VectorInfoNet(nn.Module):
    """Maps normal scores of X (B, n, dx) and Y (B, n, dy) to the quantiles of their MI."""

    def __init__(self, cfg: VectorNetConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.dim
        self.embed = nn.Sequential(nn.Linear(TOKEN_FEATURES, D), nn.GELU(), nn.Linear(D, D))
        self.latents = nn.Parameter(torch.randn(cfg.latents, D) * 0.02)
        side = SIDE_FEATURES + (UNBIASED_FEATURES if cfg.unbiased_gc else 0) + (len(KNN_NEIGHBOURS) if cfg.knn else 0)
        self.side_embed = nn.Linear(side, D)
        self.norm_q, self.norm_kv = nn.LayerNorm(D), nn.LayerNorm(D)
        self.cross = CrossAttention(D, cfg.heads)
        self.cross_ff = nn.Sequential(
            nn.LayerNorm(D), nn.Linear(D, D * cfg.mlp_ratio), nn.GELU(), nn.Linear(D * cfg.mlp_ratio, D)
        )
        self.blocks = nn.ModuleList([Block(D, cfg.heads, cfg.mlp_ratio, written_out=True) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(D)
        self.head = VectorHead(D + side, D, len(KNN_NEIGHBOURS) if cfg.knn_start else 0)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def side_features(self, n: int, dx: int, dy: int, s: torch.Tensor, gc: torch.Tensor, lam: torch.Tensor, a, b):
        B = s.shape[0]
        dims = torch.tensor([dx / MAX_DIM, dy / MAX_DIM], device=s.device, dtype=s.dtype).expand(B, 2)
        head = [log_n_feature(n, s), dims, _pad(s.abs()), gc.unsqueeze(-1) / 4, lam]
        return torch.cat([*head, *gaussian_departures(a, b, s)], dim=-1)

    @staticmethod
    def token_parts(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """The filled part of each sample's token, (B, n, dx + dy + k + 2): a, b, a * b over the k
        canonical pairs and the squared radii |a|^2 / dx, |b|^2 / dy; and the slots it fills in the
        padded token of TOKEN_FEATURES."""
        (dx, dy), k = (a.shape[-1], b.shape[-1]), min(a.shape[-1], b.shape[-1])
        radii = [a.square().mean(-1, keepdim=True), b.square().mean(-1, keepdim=True)]
        filled = [*range(dx), *range(MAX_DIM, MAX_DIM + dy), *range(2 * MAX_DIM, 2 * MAX_DIM + k)]
        return torch.cat([a, b, a[..., :k] * b[..., :k], *radii], dim=-1), [*filled, 3 * MAX_DIM, 3 * MAX_DIM + 1]

    def tokens(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, n, TOKEN_FEATURES) per-sample features of the canonical coordinates, zero-padded."""
        part, filled = self.token_parts(a, b)
        out = part.new_zeros(*part.shape[:-1], TOKEN_FEATURES)
        out[..., filled] = part
        return out

    def embed_tokens(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``embed(tokens(a, b))`` -> (B, n, D), the first layer reading only the filled slots.

        The padded slots are zeros, so leaving them and their weight columns out changes nothing but
        the cost: at dx = dy = 2 the first layer multiplies 8 features, not 98.
        """
        part, filled = self.token_parts(a, b)
        first = self.embed[0]
        return self.embed[1:](F.linear(part, first.weight[:, filled], first.bias))

    def forward(self, zx: torch.Tensor, zy: torch.Tensor) -> VectorOutput:
        """Args: zx (B, n, dx), zy (B, n, dy) normal scores, dx, dy <= MAX_DIM. Returns a :class:`VectorOutput`."""
        (B, n, dx), dy = zx.shape, zy.shape[-1]
        zx, zy = zx.float(), zy.float()
        a, b, s, lam = canonical_view(zx, zy, self.cfg.shrinkage, self.cfg.pair_correlations)
        gc = gaussian_copula_mi(s)
        side = self.side_features(n, dx, dy, s, gc, lam, a, b)
        if self.cfg.unbiased_gc:  # start from the bias-corrected formula where it exists, and tell the network
            unbiased = unbiased_gaussian_mi(zx, zy)
            valid = unbiased is not None
            gc = unbiased if valid else gc
            flag = torch.full_like(gc, float(valid))
            side = torch.cat([side, (gc / 4).unsqueeze(-1), flag.unsqueeze(-1)], dim=-1)
        knn = None
        if self.cfg.knn:
            knn = knn_mi(a.detach(), b.detach(), max_samples=self.cfg.knn_samples).clamp(-1, 8)
            side = torch.cat([side, knn / 4], dim=-1)
        if self.cfg.read_samples:
            x = self.norm_kv(self.embed_tokens(a, b))  # (B, n, D)
            lat = self.latents + self.side_embed(side).unsqueeze(1)  # (B, L, D)
            lat = lat + self.cross(self.norm_q(lat), x)
            lat = lat + self.cross_ff(lat)
            for block in self.blocks:
                lat = block(lat)
            pooled = self.norm(lat).mean(1)
        else:
            pooled = torch.zeros(B, self.cfg.dim, device=zx.device)
        quantiles = self.head(torch.cat([pooled, side], dim=-1), gc, n, knn)
        return VectorOutput(mi=quantiles[:, 1], quantiles=quantiles, gc=gc)


class DomainRouted(nn.Module):
    """Multivariate networks that each answer a domain: a pass of n samples with dx and dy dimensions
    goes to the first expert whose ``max_dim`` and ``max_len`` hold it; the last answers every pass.
    Used wherever a :class:`VectorInfoNet` is (``model(zx, zy)`` gives a :class:`VectorOutput`), so
    estimates, pairwise matrices and the differentiable MI route alike.

    Why. Comparing point tracks asks for the MI of every pair of 2-D series of 16-120 samples, tens of
    thousands of pairs at once, and there the full network's cost is mostly its 16 latents (about two
    thirds of its multiply-adds at n = 50). A narrower network trained only on that domain costs about
    40 % as much per pass (measured on 300 tracks x 50 frames: 2.2 s against 5.6 s).
    """

    def __init__(self, experts: list[VectorInfoNet]):
        super().__init__()
        last = experts[-1].cfg if experts else None
        if last is None or last.max_dim != MAX_DIM or last.max_len < 4096:
            raise ValueError("DomainRouted needs experts whose last answers every domain (max_dim 32, max_len 4096)")
        self.experts = nn.ModuleList(experts)

    @property
    def cfg(self) -> VectorNetConfig:
        """The config of the expert that answers every domain."""
        return self.experts[-1].cfg

    def num_params(self) -> int:
        return sum(e.num_params() for e in self.experts)

    def expert_for(self, n: int, dx: int, dy: int) -> VectorInfoNet:
        """The network that answers n samples of dx against dy dimensions."""
        narrow = (e for e in self.experts[:-1] if n <= e.cfg.max_len and max(dx, dy) <= e.cfg.max_dim)
        return next(narrow, self.experts[-1])

    def forward(self, zx: torch.Tensor, zy: torch.Tensor) -> VectorOutput:
        return self.expert_for(zx.shape[1], zx.shape[-1], zy.shape[-1])(zx, zy)
