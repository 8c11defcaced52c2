"""The consultation loop with a scripted consultant: each branch, the train-only rule, budgets."""

import pytest
import torch

from mentor.consult import Consultation, ConsultConfig
from mentor.graph import SentenceEncoder
from mentor.llm import BudgetLimits, LLMClient, LLMConfig
from tests.consult.scripted import ScriptedConsultant, always_right, always_wrong


def _client(graph, rule, store_path, limits=None, **kwargs):
    backend = ScriptedConsultant(graph, rule, **kwargs)
    config = LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1", limits=limits or BudgetLimits())
    return LLMClient(config, store=store_path, backend=backend), backend


def _config(**overrides):
    base = {
        "dataset": "synthetic",
        "strategy": "login",
        "features": "bow",
        "rounds": 2,
        "max_calls": 8,
        "epochs": 60,
        "patience": 30,
    }
    return ConsultConfig(**{**base, **overrides})


@pytest.mark.slow
def test_right_answers_augment_texts_and_recompute_those_features(graph, store_path, tmp_path):
    encoder = SentenceEncoder("minilm", cache_path=tmp_path / "emb.sqlite")
    client, backend = _client(graph, always_right(graph), store_path)
    with client:
        consultation = Consultation(_config(features="minilm", prune=False), client, graph=graph, encoder=encoder,
                                    progress=False)  # fmt: skip
        x_before = consultation.features()
        result = consultation.run()
        x_after = consultation.features()
    augmented = {c["node"] for c in result.consultations if c["action"] == "augment_text"}
    assert augmented == set(backend.asked) and len(augmented) == 8
    for node in range(graph.num_nodes):
        changed = result.graph.texts[node] != graph.texts[node]
        assert changed == (node in augmented)
        if changed:
            assert "Expert explanation: The words point to" in result.graph.texts[node]
    moved = ((x_after - x_before).abs().sum(1) > 1e-6).nonzero().view(-1).tolist()
    assert set(moved) == augmented
    assert all(c["correct"] for c in result.consultations)
    assert sum(r.texts_augmented for r in result.rounds) == 8
    assert torch.equal(result.graph.edge_index, graph.edge_index)


def test_wrong_answers_prune_dissimilar_edges_only_of_those_nodes(graph, store_path):
    client, backend = _client(graph, always_wrong(graph), store_path)
    with client:
        result = Consultation(_config(prune_threshold=1.0), client, graph=graph, progress=False).run()
    pruned = {(c["node"], u) for c in result.consultations for u in c["pruned_neighbours"]}
    assert pruned and all(c["action"] == "prune_edges" and c["correct"] is False for c in result.consultations)
    remaining = set(map(tuple, result.graph.edge_index.t().tolist()))
    original = set(map(tuple, graph.edge_index.t().tolist()))
    assert original - remaining == pruned | {(u, v) for v, u in pruned}
    assert all(v in backend.asked for v, _ in pruned)
    assert sum(r.edges_pruned for r in result.rounds) == len(pruned)
    assert result.graph.texts == graph.texts


def test_only_training_nodes_are_consulted_and_only_their_labels_shown(graph, store_path):
    client, backend = _client(graph, always_wrong(graph), store_path)
    with client:
        consultation = Consultation(_config(rounds=3, max_calls=60), client, graph=graph, progress=False)
        train = consultation.split.train
        assert bool((consultation.known[~train] == -1).all())
        prompts = []
        original = client.complete_many
        client.complete_many = lambda requests, **kw: (prompts.extend(requests), original(requests, **kw))[1]
        result = consultation.run()
    assert backend.asked and all(bool(train[node]) for node in backend.asked), "a val/test node was consulted"
    assert {c["split"] for c in result.consultations} == {"train"}
    for request in prompts:
        for line in request.messages[-1].content.splitlines():
            if line.startswith("- [label: "):
                node = int(line.rsplit("(doc ", 1)[1].split(")")[0])
                assert bool(train[node]), f"the label of non-training node {node} was shown"
                assert line.startswith(f"- [label: {graph.class_names[int(graph.y[node])]}]")


def test_nodes_are_not_consulted_twice_unless_their_neighbourhood_changed(graph, store_path):
    client, backend = _client(graph, always_right(graph), store_path)
    with client:
        Consultation(_config(rounds=3, max_calls=30), client, graph=graph, progress=False).run()
    assert len(backend.asked) == len(set(backend.asked)) == 30


def test_budget_stops_cleanly_and_keeps_what_was_answered(graph, store_path):
    client, backend = _client(graph, always_right(graph), store_path, limits=BudgetLimits(max_calls=3))
    with client:
        result = Consultation(_config(rounds=2, max_calls=8), client, graph=graph, progress=False).run()
    assert result.stopped == "budget" and len(backend.asked) == 3
    assert [c["failure"] for c in result.consultations].count("budget") == 1
    assert result.rounds[1].answered == 3 and len(result.rounds) == 2
    assert result.rounds[1].metrics["test"]["acc"] > 0


def test_store_answers_are_reused_and_the_result_is_the_same(graph, store_path):
    results = []
    for _ in range(2):
        client, backend = _client(graph, always_wrong(graph), store_path)
        with client:
            results.append((Consultation(_config(), client, graph=graph, progress=False).run(), backend, client))
    (first, b1, _), (second, b2, c2) = results
    assert b1.asked and b2.asked == []
    assert c2.usage()["new_calls"] == 0 and c2.usage()["store_hits"] == 8
    assert [r.metrics for r in first.rounds] == [r.metrics for r in second.rounds]
    assert [c["answer"] for c in first.consultations] == [c["answer"] for c in second.consultations]


def test_random_selection_uses_the_same_number_of_calls(graph, store_path):
    client, backend = _client(graph, always_right(graph), store_path)
    with client:
        result = Consultation(_config(select="random"), client, graph=graph, progress=False).run()
    assert len(backend.asked) == 8 and sum(r.calls for r in result.rounds) == 8


def test_echo_statistics(graph, store_path):
    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        result = Consultation(_config(), client, graph=graph, progress=False).run()
    report = result.rounds[1].as_dict()
    assert report["llm_accuracy"] == 1.0
    gnn_right = [c["gnn_prediction"] == c["answer"] for c in result.consultations if c["round"] == 1]
    assert report["echo_gnn_rate"] == pytest.approx(sum(gnn_right) / len(gnn_right), abs=1e-4)
