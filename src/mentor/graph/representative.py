"""Representative nodes: the ones whose labels teach a small model most about the rest of the graph.

Where labels are few, labelling the nodes a GNN is least sure of teaches it little about the others (they are
atypical by construction); labelling nodes that stand for many others does. This is the selection of the
LLM-as-annotator work: cover the feature space with k-means and take, in each cluster, the node closest to its
centre. Features are first averaged over each node's neighbourhood (one propagation step, as a GCN layer does), so
that a chosen node stands for a region of the graph as well as of the text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import Tensor
from torch_geometric.utils import scatter


def propagated(x: Tensor, edge_index: Tensor) -> Tensor:
    """Each node's features averaged with its neighbours' (self included), L2-normalised."""
    n = x.size(0)
    loops = torch.arange(n).repeat(2, 1)
    edges = torch.cat([edge_index, loops], dim=1)
    mean = scatter(x.float()[edges[0]], edges[1], dim=0, dim_size=n, reduce="mean")
    return F.normalize(mean, dim=-1)


def representative_nodes(x: Tensor, mask: Tensor, k: int, seed: int = 0, edge_index: Tensor | None = None) -> Tensor:
    """``k`` nodes among those where ``mask`` is true that cover the features: k-means with ``k`` clusters (seeded)
    over the candidates' features (propagated over ``edge_index`` when given), and per cluster the candidate
    closest to its centre; fewer when there are fewer candidates. Sorted node indices."""
    candidates = mask.nonzero().view(-1)
    k = min(k, candidates.numel())
    if k <= 0:
        return torch.empty(0, dtype=torch.long)
    features = propagated(x, edge_index) if edge_index is not None else F.normalize(x.float(), dim=-1)
    points = features[candidates].numpy()
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(points)
    centres = torch.from_numpy(kmeans.cluster_centers_).to(features.dtype)
    distance = torch.cdist(centres, features[candidates])  # [k, candidates]
    chosen: list[int] = []
    taken = torch.zeros(candidates.numel(), dtype=torch.bool)
    for row in distance:  # the closest candidate not yet taken (two centres may share one)
        row = row.masked_fill(taken, float("inf"))
        best = int(row.argmin())
        taken[best] = True
        chosen.append(int(candidates[best]))
    return torch.tensor(sorted(chosen), dtype=torch.long)


__all__ = ["propagated", "representative_nodes"]
