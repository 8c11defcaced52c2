"""Seeded random splits over the labelled nodes."""

from __future__ import annotations

import torch
from torch import Tensor

from mentor.graph.text_graph import Split


def random_split(y: Tensor, seed: int, train: float = 0.6, val: float = 0.2) -> Split:
    """Shuffle the labelled nodes (``y >= 0``) with ``seed`` and cut them ``train``/``val``/rest.

    Unlabelled nodes are in no part. The same ``y`` and seed always give the same split.
    """
    if not (0 < train < 1 and 0 <= val < 1 and train + val <= 1):
        raise ValueError(f"split fractions must satisfy 0 < train, 0 <= val, train + val <= 1; got {train}, {val}")
    labelled = (y >= 0).nonzero().view(-1)
    generator = torch.Generator().manual_seed(seed)
    order = labelled[torch.randperm(labelled.numel(), generator=generator)]
    n_train = round(train * order.numel())
    n_val = round(val * order.numel())
    masks = [torch.zeros(y.numel(), dtype=torch.bool) for _ in range(3)]
    masks[0][order[:n_train]] = True
    masks[1][order[n_train : n_train + n_val]] = True
    masks[2][order[n_train + n_val :]] = True
    return Split(*masks)
