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


def test_with_few_labels_a_share_of_each_round_goes_to_representative_nodes(graph, store_path):
    config = _config(split="few:5", min_gain=1)
    assert config.teaching is None and config.teaching_share(5) == 0.5 and config.teaching_share(20) == 0.0
    result, _, _ = _run(graph, always_right(graph), store_path, config=config)
    for report in result.rounds:
        asked = [a for a in result.asked if a.phase == f"round {report.round}"]
        representative = [a for a in asked if a.chosen == "representative"]
        assert report.representative == len(representative) == round(0.5 * len(asked))
    chosen = [a.chosen for a in result.asked]
    assert "representative" in chosen and "uncertain" in chosen
    assert len({a.node for a in result.asked}) == len(result.asked)  # never a node twice


def test_round_nodes_takes_representative_nodes_then_the_least_confident(graph, store_path):
    from tests.consult.test_gated import _client

    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        consultation = GatedConsultation(_config(split="few:5"), client, graph=graph, progress=False)
        x = consultation.features()
    eligible = list(range(40, 100))  # least confident first
    nodes, chosen = consultation.round_nodes(x, eligible, 10, 0.3)
    assert len(nodes) == 10 and len(chosen) == 3 and chosen <= set(eligible)
    assert nodes[:7] == [v for v in eligible if v not in chosen][:7]
    assert consultation.round_nodes(x, eligible, 10, 0.0) == (eligible[:10], set())
    assert len(consultation.round_nodes(x, eligible[:4], 10, 1.0)[0]) == 4  # never more than are eligible


def test_a_minimum_confidence_keeps_unsure_answers_out_of_teaching(graph, store_path):
    config = _config(split="few:5", min_gain=1, teach_min_confidence=1.0)
    result, _, _ = _run(graph, always_right(graph), store_path, config=config)
    taught = [r for r in result.rounds if r.accepted]
    assert taught and all(r.pseudo_labels == 0 and r.filtered > 0 for r in taught)
    assert any(a.accepted for a in result.asked)  # the cascade still uses them


def test_without_any_label_the_llm_labels_representative_nodes_and_they_train_the_gnn(graph, store_path):
    config = _config(split="few:0")
    result, payload, backend = _run(graph, _mostly_right(graph), store_path, config=config,
                                    confidence=_less_sure_when_wrong)  # fmt: skip
    assert result.label_free and not bool(result.split.train.any())
    seeds = [a for a in result.asked if a.phase == "seed labels"]
    assert seeds and all(a.chosen == "representative" for a in seeds)
    budget = config.budget_calls(graph.num_nodes)
    assert len(seeds) == round(config.calibration * budget) and len(backend.asked) <= budget
    gate = result.calibration_gate
    assert gate.open and gate.rule == "route" and 0.45 < gate.kappa <= 0.85  # its own confidence decides
    assert all(a.accepted == (a.llm_confidence >= gate.kappa) for a in seeds)
    assert payload["totals"]["calibration_calls"] == 0
    never = result.split.test.clone()
    never[[a.node for a in result.asked]] = False
    right = (result.selected.probs.argmax(-1)[never] == graph.y[never]).float().mean()
    assert right > 1 / graph.num_classes + 0.2  # the GNN learned from the LLM's labels alone


def test_without_any_label_no_hidden_label_reaches_a_decision(graph, tmp_path):
    config = _config(split="few:0")
    kwargs = {"config": config, "confidence": _less_sure_when_wrong}
    clean, _, _ = _run(graph, _mostly_right(graph), tmp_path / "a.sqlite", **kwargs)
    poisoned = _poisoned(graph, torch.ones(graph.num_nodes, dtype=torch.bool))
    poisoned.splits["few:0"] = graph.split("few:0")
    dirty, _, _ = _run(poisoned, _mostly_right(graph), tmp_path / "b.sqlite", **kwargs)
    assert clean.decisions() == dirty.decisions()
