"""InfoNet: real-time neural estimation of mutual information.

import infonet
model = infonet.load_pretrained()                    # the shipped weights
infonet.estimate_mi(x, y)                            # one pair (n,) / sliced MI for (n, d)
infonet.estimate_mi_batch(xs, ys)                    # B pairs (B, n) in batched passes
infonet.baselines.ksg(x, y)                          # classical estimators, same call shape
infonet.mi(x, y)                                     # torch tensors in, a differentiable MI tensor out
infonet.independence_test(x, y)                      # permutation test of independence: p-value, MI
"""

from . import baselines
from .checkpoint import load_pretrained, save_checkpoint
from .copula import rank_transform
from .differentiable import MILoss, mi, soft_rank
from .estimate import InfoNetEstimator, estimate_mi, estimate_mi_batch
from .estimators import available_estimators, get_estimator
from .independence import IndependenceTest, independence_test
from .interface import MIEstimator
from .model import InfoNet, InfoNetConfig, SizeRouted

__all__ = [
    "InfoNet",
    "InfoNetConfig",
    "IndependenceTest",
    "InfoNetEstimator",
    "MIEstimator",
    "MILoss",
    "SizeRouted",
    "available_estimators",
    "baselines",
    "estimate_mi",
    "estimate_mi_batch",
    "get_estimator",
    "independence_test",
    "load_pretrained",
    "mi",
    "rank_transform",
    "save_checkpoint",
    "soft_rank",
]
