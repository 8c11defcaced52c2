import torch

from mentor.graph import TrainConfig, node_features, train_node_classifier


def test_training_learns_selects_on_validation_and_is_deterministic(small_graph):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    config = TrainConfig(model="gcn", epochs=80, patience=30, seed=3)
    a = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    b = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    assert a.metrics["val"]["acc"] > 0.6 and a.metrics["test"]["acc"] > 0.6
    assert a.metrics == b.metrics and torch.equal(a.probs, b.probs)
    best = max(a.history, key=lambda h: (h["val_acc"], -h["val_loss"]))
    assert best["epoch"] == a.best_epoch
    assert a.probs.shape == (small_graph.num_nodes, 3)
    assert set(a.metrics) == {"train", "val", "test"} and 0 <= a.metrics["test"]["macro_f1"] <= 1


def test_test_labels_do_not_influence_training(small_graph):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    scrambled = small_graph.y.clone()
    scrambled[split.test] = (scrambled[split.test] + 1) % 3
    config = TrainConfig(model="sage", epochs=40, seed=0)
    a = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    b = train_node_classifier(x, small_graph.edge_index, scrambled, split, config)
    assert torch.equal(a.probs, b.probs) and a.best_epoch == b.best_epoch


def test_pseudo_labels_train_with_their_weights_and_never_on_validation_nodes(small_graph):
    import pytest

    from mentor.graph import PseudoLabels

    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    config = TrainConfig(model="mlp", epochs=40, seed=0)
    test_nodes = split.test.nonzero().view(-1)[:10]
    wrong = (small_graph.y[test_nodes] + 1) % 3
    heavy = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config,
                                  pseudo=PseudoLabels(test_nodes, wrong, torch.ones(10)))  # fmt: skip
    light = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config,
                                  pseudo=PseudoLabels(test_nodes, wrong, torch.full((10,), 1e-6)))  # fmt: skip
    alone = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    assert not torch.equal(heavy.probs, alone.probs)

    def belief(result):  # mean probability the model gives the pseudo-labels
        return float(result.probs[test_nodes].gather(1, wrong.view(-1, 1)).mean())

    assert belief(heavy) > belief(light) + 0.01
    val_node = split.val.nonzero().view(-1)[:1]
    with pytest.raises(ValueError, match="validation"):
        train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config,
                              pseudo=PseudoLabels(val_node, small_graph.y[val_node], torch.ones(1)))  # fmt: skip


def test_without_validation_nodes_a_fixed_number_of_epochs_trains_and_the_last_is_kept(small_graph):
    x = node_features(small_graph, "bow")
    few = small_graph.split("few:4")
    assert not bool(few.val.any())
    config = TrainConfig(model="gcn", unvalidated_epochs=30)
    result = train_node_classifier(x, small_graph.edge_index, small_graph.y, few, config)
    again = train_node_classifier(x, small_graph.edge_index, small_graph.y, few, config)
    assert result.epochs_run == result.best_epoch == 30 and result.metrics.get("val") is None
    assert torch.equal(result.probs, again.probs) and result.metrics["test"]["acc"] > 1 / small_graph.num_classes
