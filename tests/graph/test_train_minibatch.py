"""Mini-batch training: on a small graph, with every neighbour kept, one batch of all training nodes and no dropout,
it trains the same model as full-batch; sampled, it still learns, seeded and deterministic, pseudo-labels and few
labels included; ``auto`` turns it on for large graphs only."""

import pytest
import torch

from mentor.graph import PseudoLabels, TrainConfig, node_features, train_node_classifier
from mentor.graph.train import (
    DEFAULT_BATCH_SIZE,
    MINIBATCH_FROM_NODES,
    MINIBATCH_VALIDATE_EVERY,
    parse_batch_setting,
    resolve_batch_size,
)


@pytest.mark.parametrize("model", ["gcn", "sage", "gat", "mlp"])
def test_one_full_batch_with_every_neighbour_trains_the_full_batch_model(small_graph, model):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    common = {"model": model, "epochs": 40, "patience": 40, "dropout": 0.0, "seed": 2}
    full = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, TrainConfig(**common))
    batched = train_node_classifier(x, small_graph.edge_index, small_graph.y, split,
                                    TrainConfig(**common, batch_size=10_000, fanout=-1, validate_every=1))  # fmt: skip
    torch.testing.assert_close(batched.probs, full.probs, atol=1e-4, rtol=1e-4)
    assert batched.best_epoch == full.best_epoch and batched.metrics == full.metrics
    assert batched.config.batch_size == 10_000 and full.config.validate_every == 1


def test_sampled_mini_batches_learn_deterministically_and_validate_every_few_steps(small_graph):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    config = TrainConfig(model="sage", epochs=120, patience=60, batch_size=16, fanout=3, seed=1)
    a = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    b = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config)
    assert torch.equal(a.probs, b.probs) and a.best_epoch == b.best_epoch
    assert a.metrics["test"]["acc"] > 0.6
    assert all(h["epoch"] % MINIBATCH_VALIDATE_EVERY == 0 or h["epoch"] == a.epochs_run for h in a.history)
    assert a.config.validate_every == MINIBATCH_VALIDATE_EVERY


def test_mini_batches_take_pseudo_labels_with_their_weights_and_train_without_validation(small_graph):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    config = TrainConfig(model="gcn", epochs=60, batch_size=8, fanout=4, seed=0)
    test_nodes = split.test.nonzero().view(-1)[:10]
    wrong = (small_graph.y[test_nodes] + 1) % 3

    def belief(weight):
        result = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, config,
                                       pseudo=PseudoLabels(test_nodes, wrong, torch.full((10,), weight)))  # fmt: skip
        return float(result.probs[test_nodes].gather(1, wrong.view(-1, 1)).mean())

    assert belief(1.0) > belief(1e-6) + 0.01
    few = train_node_classifier(x, small_graph.edge_index, small_graph.y, small_graph.split("few:4"),
                                config.model_copy(update={"unvalidated_epochs": 30}))  # fmt: skip
    assert few.epochs_run == few.best_epoch == 30


def test_auto_trains_large_graphs_in_mini_batches_and_a_setting_is_checked():
    assert resolve_batch_size("auto", MINIBATCH_FROM_NODES, "GCN") == DEFAULT_BATCH_SIZE
    assert resolve_batch_size("auto", MINIBATCH_FROM_NODES - 1, "gcn") is None
    assert resolve_batch_size("auto", MINIBATCH_FROM_NODES, "appnp") is None  # no fixed hops to sample
    assert resolve_batch_size("full", 10**7, "gcn") is None and resolve_batch_size(64, 10, "gcn") == 64
    assert parse_batch_setting("auto") == "auto" and parse_batch_setting("512") == 512
    for bad in ("0", "-3", "big", ""):
        with pytest.raises(ValueError, match="auto, full or a positive number"):
            parse_batch_setting(bad)
    with pytest.raises(ValueError, match="fanout"):
        TrainConfig(fanout=0)


def test_a_backbone_without_fixed_hops_refuses_mini_batches(small_graph):
    x = node_features(small_graph, "bow")
    with pytest.raises(ValueError, match="mini-batch training samples a fixed number of hops; appnp"):
        train_node_classifier(x, small_graph.edge_index, small_graph.y, small_graph.split("random"),
                              TrainConfig(model="appnp", epochs=2, batch_size=8))  # fmt: skip


def test_a_device_is_checked_before_training_and_the_model_comes_back_on_the_cpu(small_graph):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    with pytest.raises(ValueError, match="expected a torch device"):
        TrainConfig(device="gpu-please")
    on_cpu = train_node_classifier(x, small_graph.edge_index, small_graph.y, split,
                                   TrainConfig(model="gcn", epochs=5, device="cpu"))  # fmt: skip
    assert on_cpu.probs.device.type == "cpu" and next(on_cpu.model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU here"):
            train_node_classifier(x, small_graph.edge_index, small_graph.y, split,
                                  TrainConfig(model="gcn", epochs=5, device="cuda"))  # fmt: skip


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("batch_size", [None, 16])
def test_on_a_gpu_training_gives_the_cpu_model_within_float_tolerance(small_graph, batch_size):
    x = node_features(small_graph, "bow")
    split = small_graph.split("random")
    common = {"model": "sage", "epochs": 30, "dropout": 0.0, "batch_size": batch_size, "fanout": -1, "seed": 0}
    cpu = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, TrainConfig(**common))
    gpu = train_node_classifier(x, small_graph.edge_index, small_graph.y, split, TrainConfig(**common, device="cuda"))
    assert gpu.probs.device.type == "cpu" and next(gpu.model.parameters()).device.type == "cpu"
    torch.testing.assert_close(gpu.probs, cpu.probs, atol=1e-3, rtol=1e-3)
