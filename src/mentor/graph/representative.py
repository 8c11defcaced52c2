"""Representative nodes: the ones whose labels teach a small model most about the rest of the graph.

Where labels are few, labelling the nodes a GNN is least sure of teaches it little about the others (they are
atypical by construction); labelling nodes that stand for many others does. This is the selection of the
LLM-as-annotator work: cover the feature space with k-means and take, in each cluster, the node closest to its
centre. Features are first averaged over each node's neighbourhood (one propagation step, as a GCN layer does), so
that a chosen node stands for a region of the graph as well as of the text.

On large graphs (more than :data:`FIT_SAMPLE` candidates) k-means is fitted on a seeded sample of that many
candidates, once rather than three times, and each centre's nearest candidates are found a block of candidates at a
time: the cost grows with the candidates times ``k`` once, not per k-means iteration, and no ``k × candidates``
distance matrix is held.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import Tensor
from torch_geometric.utils import scatter

#: Candidates k-means is fitted on at most (a seeded sample beyond that).
FIT_SAMPLE = 50_000
#: Candidates whose distances to every centre are computed at once.
BLOCK = 20_000
#: Nearest candidates kept per centre while searching in blocks (a centre whose list is all taken searches again).
SHORTLIST = 16


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
    points = features[candidates]
    if candidates.numel() <= FIT_SAMPLE:
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(points.numpy())
    else:
        generator = torch.Generator().manual_seed(seed)
        sample = points[torch.randperm(points.size(0), generator=generator)[:FIT_SAMPLE]]
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(sample.numpy())
    centres = torch.from_numpy(kmeans.cluster_centers_).to(features.dtype)
    chosen = _nearest_untaken(centres, points)
    return torch.tensor(sorted(int(candidates[i]) for i in chosen), dtype=torch.long)


def _nearest_untaken(centres: Tensor, points: Tensor) -> list[int]:
    """For each centre in turn, the index of the nearest point no earlier centre took (two centres may share their
    nearest point; ties go to the lower index). Beyond :data:`BLOCK` points, distances are computed a block at a
    time, keeping each centre's :data:`SHORTLIST` nearest."""
    taken = torch.zeros(points.size(0), dtype=torch.bool)
    chosen: list[int] = []
    if points.size(0) <= BLOCK:
        for row in torch.cdist(centres, points):
            best = int(row.masked_fill(taken, float("inf")).argmin())
            taken[best] = True
            chosen.append(best)
        return chosen
    best_d = torch.empty((centres.size(0), 0))
    best_i = torch.empty((centres.size(0), 0), dtype=torch.long)
    for start in range(0, points.size(0), BLOCK):
        block = torch.cdist(centres, points[start : start + BLOCK])
        best_d = torch.cat([best_d, block], dim=1)
        best_i = torch.cat([best_i, torch.arange(start, start + block.size(1)).expand(centres.size(0), -1)], dim=1)
        best_d, order = best_d.sort(dim=1, stable=True)  # earlier points first among equals: ties to the lower
        best_d, best_i = best_d[:, :SHORTLIST], best_i.gather(1, order)[:, :SHORTLIST]
    for row, centre in enumerate(centres):
        pick = next((int(i) for i in best_i[row] if not taken[int(i)]), None)
        if pick is None:  # every shortlisted point is taken: search them all for this centre
            pick = int(torch.cdist(centre.unsqueeze(0), points).squeeze(0).masked_fill(taken, float("inf")).argmin())
        taken[pick] = True
        chosen.append(pick)
    return chosen


__all__ = ["propagated", "representative_nodes"]
