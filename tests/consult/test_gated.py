"""The gated strategy with a scripted consultant: who is asked, the gate, both ways answers reach the model, and
that no test label reaches a prompt, a selection or a decision."""

import json

import pytest
import torch

from mentor.consult import ConsultConfig, GatedConsultation, gated_summary
from mentor.consult.report import gated_records
from mentor.llm import BudgetLimits, LLMClient, LLMConfig
from tests.consult.scripted import ScriptedConsultant, always_right, always_wrong


def _client(graph, rule, store_path, limits=None, confidence=lambda node: 0.8):
    backend = ScriptedConsultant(graph, rule, confidence=confidence)
    config = LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1", limits=limits or BudgetLimits())
    return LLMClient(config, store=store_path, backend=backend), backend


def _config(**overrides):
    base = {"dataset": "synthetic", "features": "bow", "budget": 0.25, "epochs": 60, "patience": 30}
    return ConsultConfig(**{**base, **overrides})


def _run(graph, rule, store_path, config=None, **kwargs):
    client, backend = _client(graph, rule, store_path, **kwargs)
    with client:
        consultation = GatedConsultation(config or _config(), client, graph=graph, progress=False)
        result = consultation.run()
        payload = gated_summary(result, client, 0.0)
    return result, payload, backend


def _mostly_right(graph):
    """Right except on every seventh node: a consultant better than the GNN where it is unsure, not perfect."""
    return lambda node: int(graph.data.true_y[node]) if node % 7 else (int(graph.data.true_y[node]) + 1) % 3


def _less_sure_when_wrong(node):
    return 0.45 if node % 7 == 0 else 0.85


def test_a_good_consultant_opens_the_gate_and_its_answers_reach_unlabelled_nodes(graph, store_path):
    result, payload, backend = _run(graph, always_right(graph), store_path)
    split, budget = result.split, _config().budget_calls(graph.num_nodes)
    assert result.calibration_gate.open and payload["gate"]["open"]
    assert len(backend.asked) == len(set(backend.asked)) <= budget  # never a node twice, never over budget
    assert not any(bool(split.train[n]) for n in backend.asked)
    calibration = [a for a in result.asked if a.phase == "calibration"]
    later = [a for a in result.asked if a.phase != "calibration"]
    assert calibration and all(a.part == "val" for a in calibration)
    assert later and all(a.part in ("test", "unlabelled") and not bool(split.val[a.node]) for a in later)
    accepted = [a for a in result.asked if a.accepted]
    assert accepted and all(a.part != "val" for a in accepted)  # calibration nodes are never pseudo-labelled
    for item in accepted:  # cascade: an accepted node's final prediction is the pooled one
        assert int(result.predictions[item.node]) == item.combined_label
        assert item.combined_label == item.label == int(graph.data.true_y[item.node])  # a right answer outweighs
    assert payload["after"]["test"]["acc"] >= payload["before"]["test"]["acc"]
    assert payload["after"]["test_consulted"]["acc"] == 1.0
    consulted, never = payload["after"]["test_consulted"]["nodes"], payload["after"]["test_not_consulted"]["nodes"]
    assert consulted + never == int(split.test.sum())
    assert payload["totals"]["calls"] == len(backend.asked)
    assert all(a.llm_confidence == pytest.approx(0.8) for a in result.answered)


def test_a_consultant_worse_than_the_gnn_closes_the_gate_after_half_the_calibration(graph, store_path):
    client, _ = _client(graph, always_wrong(graph), store_path)
    with client:
        consultation = GatedConsultation(_config(budget=0.5), client, graph=graph, progress=False)
        planned = consultation.calibration_nodes(consultation.train(consultation.features()))
        result = consultation.run()
    assert not result.calibration_gate.open
    assert len(planned) >= 20  # the first half is large enough to stop on
    assert [a.node for a in result.asked] == planned[: (len(planned) + 1) // 2]
    assert torch.equal(result.predictions, result.before.probs.argmax(-1))  # nothing reached the model


def test_teaching_retrains_on_confidence_weighted_pseudo_labels(graph, store_path, monkeypatch):
    seen = []
    original = GatedConsultation.train

    def spy(self, x, pseudo=None):
        seen.append(pseudo)
        return original(self, x, pseudo=pseudo)

    monkeypatch.setattr(GatedConsultation, "train", spy)
    result, _, _ = _run(graph, _mostly_right(graph), store_path, confidence=_less_sure_when_wrong,
                        config=_config(cascade=False, augment=False, min_gain=1))  # fmt: skip
    pseudo = [p for p in seen if p is not None]
    assert pseudo, "the GNN was never retrained"
    accepted = {a.node: a for a in result.asked if a.accepted}
    assert set(pseudo[-1].nodes.tolist()) == set(accepted)
    for node, label, weight in zip(pseudo[-1].nodes.tolist(), pseudo[-1].labels.tolist(),
                                   pseudo[-1].weights.tolist(), strict=True):  # fmt: skip
        # the pooled label, weighted by its pooled probability
        assert label == accepted[node].combined_label and weight == pytest.approx(max(accepted[node].combined))
        assert 1 / graph.num_classes < weight <= 1
    # without the cascade, the final prediction is the kept GNN's
    assert torch.equal(result.predictions, result.selected.probs.argmax(-1))


def test_cascade_only_asks_everything_in_one_round_and_does_not_retrain(graph, store_path):
    result, _, _ = _run(graph, always_right(graph), store_path, config=_config(teach=False))
    assert {a.phase for a in result.asked} <= {"calibration", "round 1"}
    assert result.selected is result.before and result.selected_round == 0


def _poisoned(graph, mask):
    """A copy whose labels on ``mask`` are wrong (the consultant still knows the truth, as a real LLM would)."""
    poisoned = graph.copy()
    poisoned.data.y = torch.where(mask, (graph.y + 1) % graph.num_classes, graph.y)
    return poisoned


def test_poisoned_test_labels_change_nothing_but_the_test_scores(graph, tmp_path):
    split, config = graph.split("random"), _config(min_gain=1)
    kwargs = {"config": config, "confidence": _less_sure_when_wrong}
    clean, clean_payload, clean_backend = _run(graph, _mostly_right(graph), tmp_path / "a.sqlite", **kwargs)
    poisoned = _poisoned(graph, split.test)
    dirty, dirty_payload, dirty_backend = _run(poisoned, _mostly_right(graph), tmp_path / "b.sqlite", **kwargs)
    assert clean.calibration_gate.open and any(a.accepted for a in clean.asked)  # the whole path was taken
    assert [r.messages for r in clean_backend.requests] == [r.messages for r in dirty_backend.requests]
    assert clean.decisions() == dirty.decisions()  # who was asked, the gates, acceptance, kept round, predictions
    assert gated_records(clean) == gated_records(dirty)
    assert clean_payload["before"]["test"] != dirty_payload["before"]["test"]

    def without_test_scores(payload):
        out = json.loads(json.dumps(payload))
        for block in ("before", "after", "after_gnn", "last_gnn"):
            for part in ("test", "test_consulted", "test_not_consulted"):
                out[block].pop(part)
        out.pop("llm_accuracy_on_test_consulted")
        out["llm"].pop("run_id")
        for timing in ("llm_seconds", "spent_llm_seconds", "feature_seconds", "train_seconds"):
            out["totals"].pop(timing)
        for report in out["rounds"]:
            report.pop("train_seconds"), report.pop("llm_seconds")
        return out

    assert without_test_scores(clean_payload) == without_test_scores(dirty_payload)


def test_validation_labels_calibrate_but_never_reach_a_prompt(graph, tmp_path):
    split = graph.split("random")
    # training labels shown beside neighbour texts, validation labels must not be
    config = _config(show_neighbour_labels=True, context="neighbourhood", min_gain=1)
    _, _, clean = _run(graph, _mostly_right(graph), tmp_path / "a.sqlite", config=config)
    _, _, dirty = _run(_poisoned(graph, split.val), _mostly_right(graph), tmp_path / "b.sqlite", config=config)
    by_node = {n: r.messages for n, r in zip(clean.asked, clean.requests, strict=True)}
    common = [(n, r.messages) for n, r in zip(dirty.asked, dirty.requests, strict=True) if n in by_node]
    assert common and all(by_node[n] == messages for n, messages in common)
    shown = 0
    for request in clean.requests:
        for line in request.messages[-1].content.splitlines():
            if line.startswith("- [label: "):
                node = int(line.rsplit("(doc ", 1)[1].split(")")[0])
                assert bool(split.train[node]), f"the label of non-training node {node} was shown"
                shown += 1
    assert shown, "no training label was shown: the check above saw nothing"


def test_blind_prompts_do_not_depend_on_the_seed(graph, store_path):
    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        prompts = []
        for seed in (0, 1):
            consultation = GatedConsultation(_config(seed=seed), client, graph=graph, progress=False)
            prompts.append([r.messages for r in consultation.blind_requests(list(range(10)))])
    assert prompts[0] == prompts[1]


def test_a_hard_budget_stops_cleanly_and_the_store_answers_a_rerun(graph, store_path):
    result, payload, backend = _run(graph, always_right(graph), store_path, limits=BudgetLimits(max_calls=3))
    assert len(backend.asked) == 3 and payload["totals"]["calls"] == 3
    assert payload["totals"]["failures"].get("budget", 0) >= 1
    first, first_payload, _ = _run(graph, always_right(graph), store_path)
    again, again_payload, again_backend = _run(graph, always_right(graph), store_path)
    assert again_backend.asked == [] and again_payload["totals"]["new_calls"] == 0
    assert first.decisions() == again.decisions()
    assert again_payload["totals"]["spent_llm_seconds"] == first_payload["totals"]["spent_llm_seconds"]


def test_model_selection_rules():
    from types import SimpleNamespace

    def keeps(selection, new, kept):
        holder = SimpleNamespace(config=_config(selection=selection, selection_margin=0.02))
        return GatedConsultation._keeps(holder, new, kept)

    assert keeps("not-worse", 0.80, 0.81) and not keeps("not-worse", 0.78, 0.81)
    assert not keeps("improve", 0.82, 0.81) and keeps("improve", 0.84, 0.81)


def test_the_route_rule_puts_the_llm_label_on_routed_nodes(graph, store_path):
    result, _, _ = _run(graph, always_right(graph), store_path, config=_config(combine="route"))
    assert result.calibration_gate.open and result.calibration_gate.rule == "route"
    accepted = [a for a in result.asked if a.accepted]
    assert accepted and all(a.gnn_confidence <= a_gate.tau for a in accepted for a_gate in [result.rounds[0].gate])
    for item in accepted:
        assert int(result.predictions[item.node]) == item.label == int(graph.data.true_y[item.node])


def test_a_run_in_mini_batches_makes_the_same_decisions_as_full_batch(graph, tmp_path):
    """With every neighbour kept, one batch of all training nodes and no dropout, mini-batch training is full-batch
    training: the whole gated run (who is asked, what is accepted, the gate, the predictions) comes out the same."""
    runs = []
    for name, batch in (("full", "full"), ("batched", 10_000)):
        client, _ = _client(graph, _mostly_right(graph), tmp_path / f"{name}.sqlite", confidence=_less_sure_when_wrong)
        with client:
            consultation = GatedConsultation(_config(batch_size=batch, fanout=-1), client, graph=graph,
                                             progress=False)  # fmt: skip
            consultation.train_config = consultation.train_config.model_copy(update={"dropout": 0.0,
                                                                                     "validate_every": 1})  # fmt: skip
            runs.append(consultation.run())
    full, batched = runs
    assert any(a.accepted for a in full.asked) and any(r.pseudo_labels for r in full.rounds)  # retrained
    assert batched.selected.config.batch_size == 10_000 and full.selected.config.batch_size is None
    assert batched.decisions() == full.decisions()
    assert batched.selected.metrics == full.selected.metrics
