import pytest
import torch

from mentor.graph import (
    TrainConfig,
    mc_dropout_probs,
    node_features,
    select_uncertain,
    train_node_classifier,
    uncertainty_scores,
)


@pytest.fixture(scope="module")
def trained(small_graph):
    x = node_features(small_graph, "bow")
    result = train_node_classifier(x, small_graph.edge_index, small_graph.y, small_graph.split("random"),
                                   TrainConfig(model="gcn", epochs=40))  # fmt: skip
    return result, x


def test_mc_dropout_passes_differ_and_are_seeded(trained, small_graph):
    result, x = trained
    probs = mc_dropout_probs(result.model, x, small_graph.edge_index, passes=8, seed=1)
    assert probs.shape == (8, small_graph.num_nodes, 3)
    assert not torch.allclose(probs[0], probs[1])
    assert torch.equal(probs, mc_dropout_probs(result.model, x, small_graph.edge_index, passes=8, seed=1))
    assert not result.model.training  # left as it was


@pytest.mark.parametrize("method", ["variance", "entropy", "margin"])
def test_selection_never_leaves_the_mask(trained, small_graph, method):
    result, x = trained
    scores = uncertainty_scores(mc_dropout_probs(result.model, x, small_graph.edge_index, passes=5), method)
    mask = small_graph.split("random").train
    for k in (1, 10, 1000):
        chosen = select_uncertain(scores, mask, k)
        assert bool(mask[chosen].all()) and chosen.numel() == min(k, int(mask.sum()))
        outside = scores[mask].sort(descending=True).values
        assert torch.allclose(scores[chosen].sort(descending=True).values, outside[: chosen.numel()])


def test_variance_is_the_summed_class_variance():
    probs = torch.tensor([[[0.9, 0.1]], [[0.5, 0.5]]])
    assert uncertainty_scores(probs, "variance").item() == pytest.approx(2 * 0.04)
    assert uncertainty_scores(probs, "margin").item() == pytest.approx(1 - 0.4)
    with pytest.raises(ValueError):
        uncertainty_scores(probs[0], "variance")
