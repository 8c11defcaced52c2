"""Neighbour sampling for mini-batch training: the subgraph a batch of nodes needs, drawn from a CSR adjacency.

PyG's ``NeighborLoader`` does this with the compiled ``pyg-lib`` or ``torch-sparse``, which are not published on
PyPI for current torch; this sampler is plain torch on the adjacency the backbone already uses
(:meth:`mentor.graph.backbones.Backbone.structure`: rows are target nodes, columns their in-neighbours), so it
needs nothing more. Each hop keeps up to ``fanout`` in-neighbours of every node reached so far (all of them with
``fanout = -1``), drawn without replacement, with their edge values. Where the backbone sums weighted messages
(``rescale``: GCN over its normalised adjacency), a target that kept ``k`` of its ``d`` neighbours has their weights
scaled by ``d / k``, so that the sampled sum estimates the full one without bias; a mean (GraphSAGE) needs no
rescaling. With every neighbour kept, a node's output in the subgraph is its output in the whole graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mentor.graph.adjacency import quiet_sparse


@dataclass(frozen=True)
class Subgraph:
    """The nodes a batch needs (``nodes``: global indices, the batch first) and their adjacency in local indices
    (sparse CSR, ``[len(nodes), len(nodes)]``); the model's first ``batch_size`` outputs are the batch's."""

    nodes: Tensor
    adjacency: Tensor
    batch_size: int


class NeighbourSampler:
    """Draws the :class:`Subgraph` of a batch of seed nodes: ``len(fanouts)`` hops of in-neighbours (one per
    message-passing layer), at most ``fanouts[i]`` per node at hop ``i`` (``-1``: all)."""

    def __init__(self, adjacency: Tensor, fanouts: list[int], generator: torch.Generator | None = None, *,
                 rescale: bool = False) -> None:  # fmt: skip
        if adjacency.layout != torch.sparse_csr:
            raise ValueError("NeighbourSampler needs a sparse CSR adjacency (rows are targets)")
        if any(k == 0 or k < -1 for k in fanouts):
            raise ValueError(f"fanouts must be positive numbers of neighbours or -1 (all), got {fanouts}")
        self.crow, self.col = adjacency.crow_indices(), adjacency.col_indices()
        self.values = adjacency.values()
        self.rescale = rescale
        self.degree = self.crow[1:] - self.crow[:-1]
        self.num_nodes = adjacency.size(0)
        self.fanouts = list(fanouts)
        self.generator = generator
        self._local = torch.full((self.num_nodes,), -1, dtype=torch.long)

    def sample(self, seeds: Tensor) -> Subgraph:
        """The subgraph of ``seeds`` (distinct node indices)."""
        local = self._local
        nodes = [seeds]
        local[seeds] = torch.arange(seeds.numel())
        count = seeds.numel()
        frontier = seeds
        targets, sources, values = [], [], []
        try:
            for fanout in self.fanouts:
                if frontier.numel() == 0:
                    break
                target, position, scale = self._hop(frontier, fanout)
                source = self.col[position]
                new = source[local[source] < 0].unique()
                local[new] = torch.arange(count, count + new.numel())
                count += new.numel()
                nodes.append(new)
                targets.append(local[target])
                sources.append(source)
                values.append(self.values[position] * scale if self.rescale else self.values[position])
                frontier = new
            all_nodes = torch.cat(nodes)
            row = torch.cat(targets) if targets else torch.empty(0, dtype=torch.long)
            col = local[torch.cat(sources)] if sources else torch.empty(0, dtype=torch.long)
        finally:
            local[torch.cat(nodes)] = -1
        # Each node is a target in one hop at most, so no (target, source) pair repeats.
        value = torch.cat(values) if values else self.values.new_ones(0)
        with quiet_sparse():
            adjacency = torch.sparse_coo_tensor(torch.stack([row, col]), value, (count, count)).to_sparse_csr()
        return Subgraph(nodes=all_nodes, adjacency=adjacency, batch_size=seeds.numel())

    def _hop(self, frontier: Tensor, fanout: int) -> tuple[Tensor, Tensor, Tensor]:
        """For every kept edge into ``frontier``: its target (global), its position in the CSR, and the factor
        its weight is scaled by (``degree / kept``)."""
        degree = self.degree[frontier]
        target = frontier.repeat_interleave(degree)
        segment_start = torch.cumsum(degree, 0) - degree
        offset = torch.arange(target.numel()) - segment_start.repeat_interleave(degree)
        position = self.crow[frontier].repeat_interleave(degree) + offset
        if fanout < 0 or bool((degree <= fanout).all()):
            return target, position, torch.ones(target.numel())
        # A random order inside each target's segment (sort by segment, then a random key); keep the first fanout.
        segment = torch.arange(frontier.numel()).repeat_interleave(degree)
        keys = segment.double() + torch.rand(target.numel(), generator=self.generator, dtype=torch.double)
        order = keys.argsort()
        keep = offset < fanout  # ranks inside a segment are the offsets of the sorted order
        kept = degree.clamp(max=fanout)
        scale = (degree.double() / kept.clamp(min=1).double()).float().repeat_interleave(degree)
        return target[order][keep], position[order][keep], scale[keep]
