"""The gate: fitted on calibration nodes, closed unless it gains enough of them (out of sample for pooling)."""

import random

import pytest

from mentor.consult.gate import Calibration, Gate, calibrate, confidence_gate, llm_distribution, pooled

K = 3  # classes


def _dist(label: int, confidence: float) -> tuple[float, ...]:
    rest = (1 - confidence) / (K - 1)
    return tuple(confidence if c == label else rest for c in range(K))


def _node(i, gnn_confidence, gnn_correct, llm_confidence, llm_correct, label=0):
    wrong = (label + 1) % K
    return Calibration(i, label, _dist(label if gnn_correct else wrong, gnn_confidence),
                       _dist(label if llm_correct else wrong, llm_confidence))  # fmt: skip


# -- route ------------------------------------------------------------------------------------------------------


def test_routes_where_the_gnn_is_unsure_and_the_llm_is_right():
    nodes = [_node(i, 0.4 + 0.01 * i, False, 0.9, True) for i in range(4)]  # unsure GNN, right LLM
    nodes += [_node(10 + i, 0.9, True, 0.9, False) for i in range(4)]  # sure GNN, wrong LLM
    gate = calibrate(nodes, min_gain=2, rule="route")
    assert gate.open and gate.gain == 4 and gate.routed == 4
    assert 0.43 <= gate.tau < 0.9
    assert gate.routes(0.2) and not gate.routes(0.95)
    assert gate.combine([0.5, 0.3, 0.2], [0.1, 0.8, 0.1]) == [0.1, 0.8, 0.1]


def test_the_llm_confidence_threshold_keeps_out_its_unsure_answers():
    nodes = [_node(i, 0.4, False, 0.95, True) for i in range(3)]
    nodes += [_node(10 + i, 0.4, True, 0.45, False) for i in range(3)]  # unsure LLM answers are wrong
    gate = calibrate(nodes, min_gain=2, rule="route")
    assert gate.open and gate.kappa > 0.45 and gate.gain == 3
    assert gate.routes(0.4, 0.96) and not gate.routes(0.4, 0.46)


def test_route_closed_when_the_llm_is_not_better_anywhere():
    nodes = [_node(i, 0.4 + 0.02 * i, i % 2 == 0, 0.9, i % 3 == 0) for i in range(12)]
    nodes += [_node(20 + i, 0.5, True, 0.9, False) for i in range(6)]
    gate = calibrate(nodes, min_gain=3, rule="route")
    assert not gate.open and not gate.routes(0.0, 1.0)
    assert "not better" in gate.reason or "too little evidence" in gate.reason


@pytest.mark.parametrize("rule", ["pool", "route"])
def test_no_calibration_answers_means_closed(rule):
    gate = calibrate([], min_gain=1, rule=rule)
    assert not gate.open and gate.calibration_nodes == 0 and not gate.routes(0.0)


# -- pool -------------------------------------------------------------------------------------------------------


def _mixed(n: int, gnn_right: float, llm_right: float, seed: int = 0) -> list[Calibration]:
    """Nodes whose GNN and LLM are right independently with the given rates, with moderate confidences."""
    rng = random.Random(seed)
    return [_node(i, rng.uniform(0.4, 0.7), rng.random() < gnn_right, rng.uniform(0.5, 0.9),
                  rng.random() < llm_right, label=i % K) for i in range(n)]  # fmt: skip


def test_pool_opens_and_weighs_a_better_llm_heavily():
    gate = calibrate(_mixed(40, gnn_right=0.5, llm_right=0.9), min_gain=2)
    assert gate.open and gate.rule == "pool" and gate.llm_weight > 0 and gate.gain >= 2
    assert gate.routes(0.99)  # pooling asks about any node: a sure GNN keeps its answer in the pool
    combined = gate.combine([0.45, 0.35, 0.2], [0.1, 0.8, 0.1])
    assert max(range(K), key=combined.__getitem__) == 1 and sum(combined) == pytest.approx(1)


def test_pool_closed_for_a_consultant_worse_than_chance():
    gate = calibrate(_mixed(40, gnn_right=0.7, llm_right=0.1), min_gain=2)
    assert not gate.open and not gate.routes(0.1)
    assert "pooling gains" in gate.reason


def test_pool_gain_is_out_of_sample_so_noise_does_not_open_it():
    # An LLM whose answers carry no information (random labels) must not open the gate, on any of many draws.
    opened = 0
    for seed in range(20):
        rng = random.Random(seed)
        nodes = [Calibration(i, i % K, _dist(i % K if rng.random() < 0.6 else (i + 1) % K, rng.uniform(0.4, 0.7)),
                             _dist(rng.randrange(K), rng.uniform(0.4, 0.9))) for i in range(60)]  # fmt: skip
        opened += calibrate(nodes, min_gain=2).open
    assert opened <= 2


def test_a_sure_gnn_outweighs_an_unsure_llm_in_the_pool():
    combined = pooled([0.9, 0.05, 0.05], [0.3, 0.4, 0.3], gnn_weight=1.0, llm_weight=1.0)
    assert combined[0] == max(combined)


def test_llm_distribution_from_probabilities_or_a_bare_label():
    names = ["a", "b", "c"]
    assert llm_distribution({"a": 0.2, "b": 0.6}, "b", names) == pytest.approx([0.25, 0.75, 0.0])
    bare = llm_distribution(None, "c", names)
    assert bare[2] == max(bare) and sum(bare) == pytest.approx(1)
    assert llm_distribution(None, None, names) == pytest.approx([1 / 3] * 3)


# -- what result.json reports -----------------------------------------------------------------------------------

ROUTE_FIELDS = {"tau", "kappa", "routed", "llm_correct_routed", "gnn_correct_routed"}
POOL_FIELDS = {"gnn_weight", "llm_weight"}


def _route_nodes() -> list[Calibration]:
    return [_node(i, 0.4 + 0.01 * i, False, 0.9, True) for i in range(4)] + [
        _node(10 + i, 0.9, True, 0.9, False) for i in range(4)
    ]


def test_a_closed_pool_gate_reports_its_weights_and_no_route_fields():
    gate = calibrate(_mixed(40, gnn_right=0.7, llm_right=0.1), min_gain=2)
    shown = gate.as_dict()
    assert not shown["open"] and shown["rule"] == "pool" and not ROUTE_FIELDS & set(shown)
    assert shown["gnn_weight"] == gate.gnn_weight and shown["llm_weight"] == gate.llm_weight


def test_an_open_pool_gate_reports_no_route_fields_and_rebuilds():
    gate = calibrate(_mixed(40, gnn_right=0.5, llm_right=0.9), min_gain=2)
    shown = gate.as_dict()
    assert shown["open"] and POOL_FIELDS <= set(shown) and not ROUTE_FIELDS & set(shown)
    rebuilt = Gate(**shown)
    assert rebuilt.routes(0.99) and rebuilt.routes(0.2, 0.1)
    assert rebuilt.combine([0.45, 0.35, 0.2], [0.1, 0.8, 0.1]) == pytest.approx(
        gate.combine([0.45, 0.35, 0.2], [0.1, 0.8, 0.1])
    )


def test_a_route_gate_reports_its_thresholds_only_when_open():
    gate = calibrate(_route_nodes(), min_gain=2, rule="route")
    shown = gate.as_dict()
    assert ROUTE_FIELDS <= set(shown) and not POOL_FIELDS & set(shown) and shown["routed"] == 4
    rebuilt = Gate(**shown)
    assert [rebuilt.routes(c, 0.9) for c in (0.2, 0.95)] == [gate.routes(c, 0.9) for c in (0.2, 0.95)] == [True, False]
    closed = calibrate(_route_nodes(), min_gain=50, rule="route").as_dict()
    assert not closed["open"] and not (ROUTE_FIELDS | POOL_FIELDS) & set(closed)
    assert "gains 4 of 8" in closed["reason"]


@pytest.mark.parametrize("rule", ["pool", "route"])
def test_a_gate_without_calibration_answers_reports_no_rule_fields(rule):
    shown = calibrate([], rule=rule).as_dict()
    assert not (ROUTE_FIELDS | POOL_FIELDS) & set(shown)
    assert not Gate(**shown).routes(0.0, 1.0)


def test_without_labels_the_gate_keeps_the_llms_most_confident_answers():
    answers = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5]]
    gate = confidence_gate(answers, keep=0.5)
    assert gate.open and gate.rule == "route" and gate.kappa == 0.7 and gate.routed == 2
    assert gate.routes(0.99, 0.7) and not gate.routes(0.0, 0.6)  # any GNN confidence; the LLM's decides
    assert confidence_gate(answers, keep=1.0).kappa == 0.5
    assert not confidence_gate([]).open
