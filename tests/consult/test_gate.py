"""The routing rule: fitted on calibration nodes, closed unless it gains enough of them."""

from mentor.consult.gate import Calibration, calibrate


def _node(i, gnn_confidence, gnn_correct, llm_confidence, llm_correct):
    return Calibration(i, gnn_confidence, gnn_correct, llm_confidence, llm_correct)


def test_routes_where_the_gnn_is_unsure_and_the_llm_is_right():
    nodes = [_node(i, 0.3 + 0.01 * i, False, 0.9, True) for i in range(4)]  # unsure GNN, right LLM
    nodes += [_node(10 + i, 0.9, True, 0.9, False) for i in range(4)]  # sure GNN, wrong LLM
    gate = calibrate(nodes, min_gain=2)
    assert gate.open and gate.gain == 4 and gate.routed == 4
    assert 0.33 <= gate.tau < 0.9
    assert gate.routes(0.2) and not gate.routes(0.95)


def test_the_llm_confidence_threshold_keeps_out_its_unsure_answers():
    nodes = [_node(i, 0.3, False, 0.95, True) for i in range(3)]
    nodes += [_node(10 + i, 0.3, True, 0.4, False) for i in range(3)]  # unsure LLM answers are wrong
    gate = calibrate(nodes, min_gain=2)
    assert gate.open and gate.kappa > 0.4 and gate.gain == 3
    assert gate.routes(0.3, 0.96) and not gate.routes(0.3, 0.45)


def test_closed_when_the_llm_is_not_better_anywhere():
    nodes = [_node(i, 0.2 + 0.05 * i, i % 2 == 0, 0.9, i % 3 == 0) for i in range(12)]
    nodes += [_node(20 + i, 0.4, True, 0.9, False) for i in range(6)]
    gate = calibrate(nodes, min_gain=3)
    assert not gate.open and not gate.routes(0.0, 1.0)
    assert "not better" in gate.reason or "too little evidence" in gate.reason


def test_no_calibration_answers_means_closed():
    gate = calibrate([], min_gain=1)
    assert not gate.open and gate.calibration_nodes == 0
