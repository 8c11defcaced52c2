"""Seeded random splits over the labelled nodes: ``random`` (60/20/20) and few-label ones (``few:K``)."""

from __future__ import annotations

import re

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


#: ``few:K`` (K labelled nodes of each class train, none validates) or ``few:K:V`` (and V more of each class
#: validate); every other labelled node is a test node.
FEW_LABELS = re.compile(r"few:(\d+)(?::(\d+))?")


def parse_few(name: str) -> tuple[int, int] | None:
    """``(K, V)`` of a few-label split name (``few:5`` → (5, 0), ``few:3:2`` → (3, 2)); ``None`` for another name."""
    match = FEW_LABELS.fullmatch(name)
    return None if match is None else (int(match.group(1)), int(match.group(2) or 0))


def few_label_split(y: Tensor, seed: int, per_class: int, val_per_class: int = 0) -> Split:
    """``per_class`` labelled nodes of each class for training and ``val_per_class`` more for validation, drawn with
    ``seed``; every other labelled node is a test node (labels a user with few labels would not have: they only
    score). A class with fewer labelled nodes gives what it has, training first. Unlabelled nodes are in no part;
    the same ``y`` and seed always give the same split, and a larger ``per_class`` keeps the smaller one's nodes."""
    if per_class < 0 or val_per_class < 0:
        raise ValueError(f"few-label split: labels per class must be >= 0; got {per_class}, {val_per_class}")
    generator = torch.Generator().manual_seed(seed)
    masks = [torch.zeros(y.numel(), dtype=torch.bool) for _ in range(3)]
    for label in sorted(int(c) for c in y[y >= 0].unique().tolist()):
        nodes = (y == label).nonzero().view(-1)
        order = nodes[torch.randperm(nodes.numel(), generator=generator)]
        masks[0][order[:per_class]] = True
        masks[1][order[per_class : per_class + val_per_class]] = True
        masks[2][order[per_class + val_per_class :]] = True
    return Split(*masks)
