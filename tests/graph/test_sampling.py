"""Neighbour sampling: with every neighbour kept a batch's outputs are its whole-graph outputs; with a fanout, each
node keeps that many of its own in-neighbours, and GCN's sampled sum estimates the full one without bias."""

import pytest
import torch

from mentor.graph import make_synthetic
from mentor.graph.adjacency import csr_adjacency
from mentor.graph.backbones import BackboneSpec
from mentor.graph.sampling import NeighbourSampler


@pytest.fixture(scope="module")
def graph():
    g = make_synthetic(num_nodes=300, num_classes=3, avg_degree=6, seed=1)
    x = torch.randn(g.num_nodes, 16, generator=torch.Generator().manual_seed(0))
    return g, x


@pytest.mark.parametrize("name", ["gcn", "sage", "gat"])
def test_with_every_neighbour_kept_the_batch_outputs_are_the_whole_graph_outputs(graph, name):
    g, x = graph
    torch.manual_seed(0)
    model = BackboneSpec.resolve(name, x.size(1), 3, g.num_nodes).build().eval()
    structure = model.structure(g.edge_index, g.num_nodes)
    adjacency = structure if structure.layout == torch.sparse_csr else csr_adjacency(g.edge_index, g.num_nodes)
    sampler = NeighbourSampler(adjacency, [-1] * model.hops, rescale=model.sums_neighbours)
    seeds = torch.tensor([5, 17, 42, 200, 299])
    subgraph = sampler.sample(seeds)
    assert subgraph.nodes[: seeds.numel()].tolist() == seeds.tolist()
    assert subgraph.nodes.unique().numel() == subgraph.nodes.numel()
    with torch.no_grad():
        whole = model(x, g.edge_index)[seeds]
        batch = model(x[subgraph.nodes], subgraph.adjacency)[: subgraph.batch_size]
    torch.testing.assert_close(batch, whole, atol=1e-5, rtol=1e-5)


def test_a_fanout_keeps_at_most_that_many_true_neighbours_per_node(graph):
    g, _ = graph
    adjacency = csr_adjacency(g.edge_index, g.num_nodes)
    sampler = NeighbourSampler(adjacency, [2, 2], torch.Generator().manual_seed(0))
    subgraph = sampler.sample(torch.arange(10))
    local = subgraph.adjacency.to_sparse_coo().indices()
    target, source = subgraph.nodes[local[0]], subgraph.nodes[local[1]]
    true_edges = set(zip(g.edge_index[1].tolist(), g.edge_index[0].tolist(), strict=True))
    assert all(pair in true_edges for pair in zip(target.tolist(), source.tolist(), strict=True))
    kept = torch.bincount(local[0], minlength=subgraph.nodes.numel())
    degree = torch.bincount(g.edge_index[1], minlength=g.num_nodes)[subgraph.nodes]
    assert bool((kept <= 2).all()) and bool((kept == degree.clamp(max=2))[:10].all())


def test_sampled_gcn_weights_estimate_the_full_sum_without_bias(graph):
    g, x = graph
    model = BackboneSpec.resolve("gcn", x.size(1), 3, g.num_nodes).build()
    adjacency = model.structure(g.edge_index, g.num_nodes)
    seeds = torch.arange(20)
    full = (adjacency @ x)[seeds]
    sampler = NeighbourSampler(adjacency, [2], torch.Generator().manual_seed(0), rescale=True)
    draws = []
    for _ in range(2000):
        subgraph = sampler.sample(seeds)
        draws.append((subgraph.adjacency @ x[subgraph.nodes])[: seeds.numel()])
    torch.testing.assert_close(torch.stack(draws).mean(0), full, atol=0.1, rtol=0.05)


def test_a_sampled_mean_is_the_mean_over_the_kept_neighbours(graph):
    g, x = graph
    model = BackboneSpec.resolve("sage", x.size(1), 3, g.num_nodes).build()
    assert not model.sums_neighbours and BackboneSpec.resolve("gcn", 4, 3, 10).build().sums_neighbours
    sampler = NeighbourSampler(model.structure(g.edge_index, g.num_nodes), [2], torch.Generator().manual_seed(0))
    subgraph = sampler.sample(torch.arange(20))
    assert bool((subgraph.adjacency.values() == 1).all())  # no weight on a mean's messages
    local = subgraph.adjacency.to_sparse_coo().indices()
    for target in range(20):
        kept = subgraph.nodes[local[1][local[0] == target]]
        mean = (subgraph.adjacency @ x[subgraph.nodes])[target] / max(kept.numel(), 1)
        torch.testing.assert_close(mean, x[kept].mean(0) if kept.numel() else torch.zeros(x.size(1)))


def test_the_sampler_refuses_what_it_cannot_use(graph):
    g, _ = graph
    with pytest.raises(ValueError, match="CSR"):
        NeighbourSampler(g.edge_index, [2])
    with pytest.raises(ValueError, match="fanouts"):
        NeighbourSampler(csr_adjacency(g.edge_index, g.num_nodes), [0])
