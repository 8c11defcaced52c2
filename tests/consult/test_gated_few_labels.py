"""The gated strategy on a few-label split without validation nodes: calibration on the training nodes with
cross-fitted GNN distributions, every retrained GNN kept, and no test label reaching a decision."""

import torch

from mentor.consult import GatedConsultation
from tests.consult.scripted import always_right
from tests.consult.test_gated import _config, _less_sure_when_wrong, _mostly_right, _poisoned, _run


def test_the_gate_calibrates_on_training_nodes_and_its_answers_teach(graph, store_path):
    config = _config(split="few:5", min_gain=1)
    result, payload, backend = _run(graph, always_right(graph), store_path, config=config)
    split = graph.split("few:5")
    calibration = [a for a in result.asked if a.phase == "calibration"]
    assert calibration and all(a.part == "train" for a in calibration)
    assert {a.node for a in calibration} <= set(split.train.nonzero().view(-1).tolist())
    later = [a for a in result.asked if a.phase != "calibration"]
    assert result.calibration_gate.open and later and all(a.part == "test" for a in later)
    assert result.selected_round == len(result.rounds)  # nothing selects: the last retrained GNN is kept
    assert payload["after"]["test"]["acc"] >= payload["before"]["test"]["acc"]
    assert payload["totals"]["calls"] == len(backend.asked) <= config.budget_calls(graph.num_nodes)


def test_calibration_sees_the_gnn_on_nodes_it_did_not_train_on(graph, store_path):
    from tests.consult.test_gated import _client

    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        consultation = GatedConsultation(_config(split="few:5"), client, graph=graph, progress=False)
        x = consultation.features()
        in_sample = consultation.train(x).probs
        out_of_fold = consultation.out_of_fold(x)
    train = consultation.split.train
    right = lambda probs: float((probs[train].argmax(-1) == graph.y[train]).float().mean())  # noqa: E731
    assert right(in_sample) == 1.0 and right(out_of_fold) < 1.0  # a GNN knows its own training labels
    assert torch.allclose(out_of_fold[train].sum(-1), torch.ones(int(train.sum())))
    assert not bool(out_of_fold[~train].any())


def test_poisoned_test_labels_change_nothing_but_the_test_scores_with_few_labels(graph, tmp_path):
    config = _config(split="few:5", min_gain=1)
    kwargs = {"config": config, "confidence": _less_sure_when_wrong}
    clean, clean_payload, _ = _run(graph, _mostly_right(graph), tmp_path / "a.sqlite", **kwargs)
    poisoned = _poisoned(graph, graph.split("few:5").test)
    poisoned.splits["few:5"] = graph.split("few:5")  # the same labelled nodes: only the hidden labels differ
    dirty, dirty_payload, _ = _run(poisoned, _mostly_right(graph), tmp_path / "b.sqlite", **kwargs)
    assert clean.decisions() == dirty.decisions()
    assert clean_payload["before"]["test"] != dirty_payload["before"]["test"]
