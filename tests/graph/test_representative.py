"""Representative nodes: k-means centres over the candidates' (propagated) features."""

import torch

from mentor.graph import make_synthetic, node_features
from mentor.graph.representative import propagated, representative_nodes


def _blobs(sizes=(30, 20, 10), seed=0):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(8)[: len(sizes)] * 5
    x = torch.cat([centres[i] + 0.1 * torch.randn(n, 8, generator=generator) for i, n in enumerate(sizes)])
    cluster = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    return x, cluster


def test_one_node_per_cluster_whatever_its_size():
    x, cluster = _blobs()
    chosen = representative_nodes(x, torch.ones(len(x), dtype=torch.bool), k=3, seed=1)
    assert len(chosen) == 3 and sorted(cluster[chosen].tolist()) == [0, 1, 2]


def test_only_candidates_are_chosen_and_never_more_than_there_are():
    x, _ = _blobs()
    mask = torch.zeros(len(x), dtype=torch.bool)
    mask[[3, 40, 55]] = True
    assert representative_nodes(x, mask, k=10).tolist() == [3, 40, 55]
    mask[:] = False
    assert representative_nodes(x, mask, k=2).numel() == 0


def test_the_choice_is_seeded_and_distinct():
    x, _ = _blobs((25, 25, 25, 25))
    everyone = torch.ones(len(x), dtype=torch.bool)
    a, b = representative_nodes(x, everyone, 8, seed=3), representative_nodes(x, everyone, 8, seed=3)
    assert torch.equal(a, b) and len(set(a.tolist())) == 8


def test_propagation_averages_over_neighbours_and_the_node_itself():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    edges = torch.tensor([[0, 1], [1, 0]])  # 0 — 1; node 2 alone
    out = propagated(x, edges)
    assert torch.allclose(out[0], torch.tensor([1.0, 1.0]) / 2**0.5) and torch.allclose(
        out[2], torch.tensor([0.0, 1.0])
    )


def test_on_large_candidate_sets_the_blocked_search_picks_what_the_whole_search_picks(monkeypatch):
    import mentor.graph.representative as representative

    generator = torch.Generator().manual_seed(0)
    points = torch.randn(500, 6, generator=generator)
    points[300:320] = points[0]  # ties: the lower index wins either way
    centres = torch.cat([points[:40] + 0.01, torch.randn(40, 6, generator=generator)])
    whole = representative._nearest_untaken(centres, points)
    monkeypatch.setattr(representative, "BLOCK", 37)
    monkeypatch.setattr(representative, "SHORTLIST", 2)  # short lists run out: the fallback search is used too
    assert representative._nearest_untaken(centres, points) == whole
    assert len(set(whole)) == len(whole)


def test_k_means_is_fitted_on_a_sample_of_a_large_candidate_set(monkeypatch):
    import mentor.graph.representative as representative

    graph = make_synthetic(num_nodes=300, num_classes=3, seed=5)
    x = node_features(graph, "bow", progress=False)
    mask = torch.zeros(300, dtype=torch.bool)
    mask[::2] = True
    monkeypatch.setattr(representative, "FIT_SAMPLE", 60)
    monkeypatch.setattr(representative, "BLOCK", 50)
    chosen = representative.representative_nodes(x, mask, 12, seed=1, edge_index=graph.edge_index)
    again = representative.representative_nodes(x, mask, 12, seed=1, edge_index=graph.edge_index)
    assert chosen.tolist() == again.tolist() and len(set(chosen.tolist())) == 12 and bool(mask[chosen].all())
