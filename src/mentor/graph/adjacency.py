"""The graph as a sparse matrix: the CSR adjacency PyG's convolutions aggregate from with one sparse product."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor
from torch_geometric.utils import to_torch_csr_tensor


def is_prepared(structure: Tensor) -> bool:
    """Whether ``structure`` is a prepared sparse adjacency rather than an ``edge_index``."""
    return structure.layout == torch.sparse_csr


def csr_adjacency(edge_index: Tensor, num_nodes: int, weights: Tensor | None = None) -> Tensor:
    """``[N, N]`` sparse CSR adjacency whose row ``i`` lists the in-neighbours of node ``i`` (the layout PyG's
    convolutions aggregate from); repeated edges add up their weights (default 1)."""
    with quiet_sparse():
        return to_torch_csr_tensor(edge_index.flip(0), weights, size=(num_nodes, num_nodes))


@contextmanager
def quiet_sparse() -> Iterator[None]:
    """Build sparse tensors without torch's notices that CSR support is in beta and that invariant checks are off
    (these tensors are built from validated edges)."""
    with warnings.catch_warnings(), torch.sparse.check_sparse_tensor_invariants(enable=False):
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        yield


__all__ = ["csr_adjacency", "is_prepared", "quiet_sparse"]
