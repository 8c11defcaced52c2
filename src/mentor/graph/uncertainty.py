"""Per-node uncertainty of a trained GNN, and selection of the most uncertain nodes inside a mask.

``variance`` is LOGIN's score: T stochastic forward passes with dropout on (MC dropout), then the variance of each
class probability across passes, summed over classes. ``entropy`` (of the mean prediction) and ``margin``
(1 − gap between the two most probable classes) are the usual alternatives.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mentor.graph.backbones import Backbone

UncertaintyMethod = Literal["variance", "entropy", "margin"]


def mc_dropout_probs(model: nn.Module, x: Tensor, edge_index: Tensor, passes: int = 20, seed: int = 0) -> Tensor:
    """``[passes, N, C]`` class probabilities with dropout active (batch-norm layers stay in eval mode)."""
    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes}")
    was_training = model.training
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    structure = model.structure(edge_index, x.size(0)) if isinstance(model, Backbone) else edge_index  # once
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            return torch.stack([F.softmax(model(x, structure), dim=-1) for _ in range(passes)])
    finally:
        torch.random.set_rng_state(state)
        model.train(was_training)


def uncertainty_scores(probs: Tensor, method: UncertaintyMethod = "variance") -> Tensor:
    """Score per node (higher = less certain) from ``[T, N, C]`` MC probabilities (or ``[N, C]`` for entropy and
    margin)."""
    if method == "variance":
        if probs.dim() != 3:
            raise ValueError("variance needs [T, N, C] probabilities from several stochastic passes")
        return probs.var(dim=0, unbiased=False).sum(dim=-1)
    mean = probs.mean(dim=0) if probs.dim() == 3 else probs
    if method == "entropy":
        return -(mean * mean.clamp_min(1e-12).log()).sum(dim=-1)
    if method == "margin":
        top2 = mean.topk(2, dim=-1).values
        return 1.0 - (top2[:, 0] - top2[:, 1])
    raise ValueError(f"unknown uncertainty method {method!r}; expected variance, entropy or margin")


def select_uncertain(scores: Tensor, mask: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` highest-scoring nodes where ``mask`` is true (ties broken by lower index)."""
    candidates = mask.nonzero().view(-1)
    k = min(k, candidates.numel())
    if k <= 0:
        return torch.empty(0, dtype=torch.long)
    order = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), i))
    return torch.tensor(order[:k], dtype=torch.long)
