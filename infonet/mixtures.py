"""Random Gaussian mixtures with exact densities and Monte-Carlo ground-truth MI, batched in torch.

Shapes: B mixtures, K components (padded to the batch's largest K with zero weight), d
dimensions, n samples, M Monte-Carlo samples.

A batch of mixtures is a :class:`MixtureBatch` of log-weights (B, K), means (B, K, d) and
covariances (B, K, d, d). The recipe of the paper (`random_mixtures`): K ~ U{1..K_max},
weights ~ Dirichlet(1), means ~ U(-5, 5)^d, covariance A A^T + 0.01 I with A_ij ~ U(-1, 1).
The marginal of a mixture on a subset of coordinates is the mixture of the components'
marginals, so every density needed for

    I(X; Y) = E[log p(x, y) - log p(x) - log p(y)]

is exact, and the expectation is a Monte-Carlo mean whose standard error is reported. All
randomness comes from an explicit ``torch.Generator``; everything runs on the generator's
device (the GPU when training there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["MixtureBatch", "random_mixtures", "flat_mixtures", "mixture_mi", "sample_training_batch"]

LOG_2PI = math.log(2 * math.pi)

# Flattening of the training batches' MI (sample_training_batch): a pool of POOL_FACTOR * B mixtures,
# their MI screened with SCREEN_SAMPLES Monte-Carlo samples and binned FLATTEN_BIN nats wide up
# to FLATTEN_MAX_MI (higher MI shares the last bin), so FLATTEN_BINS bins in all.
POOL_FACTOR = 4
SCREEN_SAMPLES = 256
FLATTEN_MAX_MI = 3.0  # nats
FLATTEN_BIN = 0.25  # nats
FLATTEN_BINS = round(FLATTEN_MAX_MI / FLATTEN_BIN) + 1  # 13: bins 0..11 and the one at FLATTEN_MAX_MI


@dataclass
class MixtureBatch:
    log_weights: torch.Tensor  # (B, K), -inf for padding components
    means: torch.Tensor  # (B, K, d)
    covs: torch.Tensor  # (B, K, d, d)

    @property
    def batch_size(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    def marginal(self, dims) -> MixtureBatch:
        """The mixtures' marginals on the coordinates ``dims`` (a list of indices)."""
        idx = torch.as_tensor(list(dims), device=self.means.device)
        covs = self.covs.index_select(-2, idx).index_select(-1, idx)
        return MixtureBatch(self.log_weights, self.means.index_select(-1, idx), covs)

    def select(self, rows) -> MixtureBatch:
        """The sub-batch of mixtures at ``rows`` (index tensor or list)."""
        rows = torch.as_tensor(rows, device=self.means.device)
        return MixtureBatch(self.log_weights[rows], self.means[rows], self.covs[rows])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(B, n, d) samples."""
        B, K, d = self.means.shape
        dev = self.means.device
        comp = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)  # (B, n)
        chol = torch.linalg.cholesky(self.covs)  # (B, K, d, d)
        rows = torch.arange(B, device=dev).unsqueeze(-1)
        eps = torch.randn(B, n, d, generator=generator, device=dev, dtype=self.means.dtype)
        return self.means[rows, comp] + torch.einsum("bnij,bnj->bni", chol[rows, comp], eps)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Exact log-density at z (B, M, d) -> (B, M)."""
        d = self.dim
        chol = torch.linalg.cholesky(self.covs)  # (B, K, d, d)
        precision = torch.cholesky_inverse(chol)  # (B, K, d, d)
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (B, K)
        diff = z.unsqueeze(2) - self.means.unsqueeze(1)  # (B, M, K, d)
        maha = (torch.einsum("bmkd,bkde->bmke", diff, precision) * diff).sum(-1)  # (B, M, K)
        log_comp = -0.5 * (maha + log_det.unsqueeze(1) + d * LOG_2PI)
        return torch.logsumexp(log_comp + self.log_weights.unsqueeze(1), dim=-1)


def random_mixtures(
    batch: int,
    dim: int,
    generator: torch.Generator,
    *,
    num_components: int | tuple[int, int] = (1, 20),
    mean_range: float = 5.0,
    dtype: torch.dtype = torch.float64,
) -> MixtureBatch:
    """Random mixtures following the paper's recipe.

    Args:
        batch: number of mixtures B.
        dim: dimension d of each mixture (2 for (X, Y) pairs, 3 for (X, Y, Z) triplets).
        num_components: K, or an inclusive range (lo, hi) to draw K uniformly from, per mixture.
        mean_range: means are uniform in [-mean_range, mean_range]^d.
    """
    dev = generator.device
    lo, hi = (num_components, num_components) if isinstance(num_components, int) else num_components
    if not 1 <= lo <= hi:
        raise ValueError(f"num_components must satisfy 1 <= lo <= hi, got {num_components}")
    k = torch.randint(lo, hi + 1, (batch,), generator=generator, device=dev)  # (B,)
    active = torch.arange(hi, device=dev) < k.unsqueeze(-1)  # (B, K)
    # Dirichlet(1) weights: normalised exponentials; the clamp keeps log away from log(0)
    expo = -torch.log(torch.rand(batch, hi, generator=generator, device=dev, dtype=dtype).clamp_min(1e-12))
    expo = torch.where(active, expo, torch.zeros_like(expo))
    log_w = torch.log(expo / expo.sum(-1, keepdim=True))  # -inf where inactive
    means = (torch.rand(batch, hi, dim, generator=generator, device=dev, dtype=dtype) * 2 - 1) * mean_range
    a = torch.rand(batch, hi, dim, dim, generator=generator, device=dev, dtype=dtype) * 2 - 1
    covs = a @ a.transpose(-1, -2) + 0.01 * torch.eye(dim, device=dev, dtype=dtype)
    return MixtureBatch(log_w, means, covs)


@torch.no_grad()
def mixture_mi(
    mix: MixtureBatch,
    x_dims,
    y_dims,
    generator: torch.Generator,
    *,
    num_samples: int = 100_000,
    chunk: int = 8192,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte-Carlo MI between coordinate groups of each mixture, with its standard error.

    Args:
        mix: B mixtures.
        x_dims, y_dims: disjoint lists of coordinates forming X and Y.
        num_samples: M Monte-Carlo samples per mixture (drawn in chunks of ``chunk``).
    Returns:
        mi: (B,) estimates in nats; se: (B,) their standard errors.
    """
    dims = list(x_dims) + list(y_dims)
    joint = mix.marginal(dims)
    mx, my = joint.marginal(range(len(x_dims))), joint.marginal(range(len(x_dims), len(dims)))
    total = torch.zeros(mix.batch_size, dtype=torch.float64, device=mix.means.device)
    total_sq = torch.zeros_like(total)
    done = 0
    while done < num_samples:
        m = min(chunk, num_samples - done)
        z = joint.sample(m, generator)  # (B, m, dx + dy)
        dens = joint.log_prob(z) - mx.log_prob(z[..., : len(x_dims)]) - my.log_prob(z[..., len(x_dims) :])
        dens = dens.double()
        total += dens.sum(-1)
        total_sq += dens.square().sum(-1)
        done += m
    mean = total / num_samples
    var = (total_sq / num_samples - mean.square()).clamp_min(0)
    return mean, (var / num_samples).sqrt()


@torch.no_grad()
def flat_mixtures(
    batch: int,
    generator: torch.Generator,
    *,
    num_components: tuple[int, int] = (1, 20),
    pool_factor: int = POOL_FACTOR,
) -> MixtureBatch:
    """``batch`` random 2-D mixtures (float32) drawn from a pool of ``pool_factor * batch`` with weights
    inversely proportional to the pool's count in each MI bin (screened with a few Monte-Carlo
    samples): the recipe's mixtures, with every MI level about equally often."""
    pool = random_mixtures(batch * pool_factor, 2, generator, num_components=num_components, dtype=torch.float32)
    rough, _ = mixture_mi(pool, [0], [1], generator, num_samples=SCREEN_SAMPLES, chunk=SCREEN_SAMPLES)
    bins = (rough.clamp(0, FLATTEN_MAX_MI) / FLATTEN_BIN).long()
    counts = torch.bincount(bins, minlength=FLATTEN_BINS).to(rough.dtype)
    pick = torch.multinomial(1.0 / counts[bins], batch, replacement=False, generator=generator)
    return pool.select(pick)


@torch.no_grad()
def sample_training_batch(
    batch: int,
    n: int,
    generator: torch.Generator,
    *,
    num_components: tuple[int, int] = (1, 20),
    mc_samples: int = 2048,
    flatten: bool = True,
    pool_factor: int = POOL_FACTOR,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch of fresh random 2-D mixtures, generated on the generator's device.

    The recipe's MI is concentrated around 0.5-1 nats (only a few percent of mixtures fall
    below 0.15). With ``flatten``, ``pool_factor * batch`` mixtures are drawn, their MI is
    screened with 256 Monte-Carlo samples, and the batch is drawn from the pool with weights
    inversely proportional to the pool's count in each 0.25-nat bin: the mixtures stay the
    recipe's, but every MI level is seen about equally often.

    The ground truth is computed in float32 with ``mc_samples`` samples (standard error
    about 0.01-0.02 nats): plenty for a training target, much cheaper than the float64
    evaluation truth.

    Returns:
        x, y: (B, n) float32 samples; mi: (B,) float32 Monte-Carlo ground truth.
    """
    if flatten:
        mix = flat_mixtures(batch, generator, num_components=num_components, pool_factor=pool_factor)
    else:
        mix = random_mixtures(batch, 2, generator, num_components=num_components, dtype=torch.float32)
    xy = mix.sample(n, generator)
    mi, _ = mixture_mi(mix, [0], [1], generator, num_samples=mc_samples, chunk=mc_samples)
    return xy[..., 0].float(), xy[..., 1].float(), mi.float()
