"""Every consult run's predictions table (both strategies), and labelling mode (``--split labelled``): no test
part, no test score, every unlabelled node predicted, the gate still calibrated on validation."""

import json

import pandas as pd
import pytest
import torch

from mentor.consult import Consultation, ConsultConfig, summary, write_gated_outputs, write_outputs
from mentor.graph.splits import random_split
from mentor.report import load_run, render_report
from tests.consult.scripted import always_right
from tests.consult.test_gated import _client, _config, _less_sure_when_wrong, _mostly_right, _poisoned, _run


@pytest.fixture
def partly_labelled(graph):
    """The consult test graph with every fifth node's label hidden (the consultant still knows the truth)."""
    hidden = graph.copy()
    hidden.data.y = torch.where(torch.arange(graph.num_nodes) % 5 == 1, -1, graph.y)
    hidden.splits = {"random": random_split(hidden.y, 0)}
    return hidden


def _consistent(frame: pd.DataFrame, split) -> None:
    """What every table must hold: only training nodes given, an LLM source only where the LLM was asked."""
    assert ((frame["source"] == "given") == pd.Series(split.train.tolist())).all()
    assert frame.loc[frame["source"].isin(["pooled", "llm"]), "asked"].all()


def test_a_gated_table_is_the_cascade_over_the_selected_gnn(partly_labelled, store_path):
    graph = partly_labelled
    result, _, _ = _run(graph, always_right(graph), store_path, config=_config(min_gain=1))
    frame = result.prediction_table().frame
    names, train = graph.class_names, result.split.train
    assert len(frame) == graph.num_nodes and frame["id"].tolist() == list(range(graph.num_nodes))
    _consistent(frame, result.split)
    final = [names[c] for c in result.predictions.tolist()]
    assert frame.loc[~train.numpy(), "label"].tolist() == [p for p, t in zip(final, train, strict=True) if not t]
    assert frame["gnn_label"].tolist() == [names[c] for c in result.selected.probs.argmax(-1).tolist()]
    accepted = {a.node for a in result.asked if a.accepted}
    assert accepted and set(frame.index[frame["source"] == "pooled"]) == accepted
    assert set(frame.index[frame["asked"]]) == {a.node for a in result.asked}
    assert set(frame.loc[graph.y.numpy() < 0, "split"]) == {"unlabelled"}


def test_the_route_rule_marks_the_llm_as_the_source(graph, store_path):
    result, _, _ = _run(graph, always_right(graph), store_path, config=_config(combine="route"))
    frame = result.prediction_table().frame
    accepted = {a.node for a in result.asked if a.accepted}
    assert accepted and set(frame.index[frame["source"] == "llm"]) == accepted
    assert "pooled" not in set(frame["source"])


def test_poisoned_test_labels_leave_the_table_unchanged(graph, tmp_path):
    kwargs = {"config": _config(min_gain=1), "confidence": _less_sure_when_wrong}
    clean, _, _ = _run(graph, _mostly_right(graph), tmp_path / "a.sqlite", **kwargs)
    dirty, _, _ = _run(_poisoned(graph, graph.split("random").test), _mostly_right(graph), tmp_path / "b.sqlite",
                       **kwargs)  # fmt: skip
    assert any(a.accepted for a in clean.asked)
    pd.testing.assert_frame_equal(clean.prediction_table().frame, dirty.prediction_table().frame)


def test_a_login_table_is_the_best_round_gnn(partly_labelled, store_path, tmp_path):
    graph = partly_labelled
    config = ConsultConfig(dataset="synthetic", strategy="login", features="bow", rounds=1, max_calls=6, epochs=40,
                           patience=20)  # fmt: skip
    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        result = Consultation(config, client, graph=graph, progress=False).run()
        payload = summary(result, client, 0.0)
    write_outputs(tmp_path / "run", result, payload, "jsonl")
    frame = pd.read_json(tmp_path / "run" / "predictions.jsonl", lines=True)
    _consistent(frame, result.split)
    asked = {c["node"] for c in result.consultations}
    assert asked and set(frame.index[frame["asked"]]) == asked and all(result.split.train[sorted(asked)])
    outside = ~result.split.train.numpy()
    best = [graph.class_names[c] for c in result.best.probs.argmax(-1).tolist()]
    assert frame.loc[outside, "label"].tolist() == [b for b, o in zip(best, outside, strict=True) if o]
    assert set(frame["source"]) == {"given", "gnn"}


def _no_test_score(payload: dict) -> None:
    assert payload["split"] == "labelled" and payload["test_scored"] is False
    assert "no test part" in payload["note"]
    for block in ("before", "after", "after_gnn", "last_gnn"):
        if block in payload:
            assert payload[block]["test"] is None, block
            assert all(payload[block].get(part) is None for part in ("test_consulted", "test_not_consulted"))
    text = json.dumps(payload)
    assert '"test": {' not in text and '"test_acc": 0' not in text


def test_labelling_mode_gated_calibrates_on_validation_and_reports_no_test_score(partly_labelled, store_path,
                                                                                 tmp_path):  # fmt: skip
    graph = partly_labelled
    config = _config(split="labelled", min_gain=1)
    result, payload, _ = _run(graph, always_right(graph), store_path, config=config)
    split, random = result.split, graph.split("random")
    assert split.sizes() == {"train": int((random.train | random.test).sum()), "val": int(random.val.sum()),
                             "test": 0}  # fmt: skip
    _no_test_score(payload)
    assert result.calibration_gate.calibration_nodes > 0 and result.calibration_gate.open
    assert all(a.part in ("val", "unlabelled") for a in result.asked)
    assert payload["after"]["val"] is not None
    write_gated_outputs(tmp_path / "run", result, payload)
    frame = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert len(frame) == graph.num_nodes and "test" not in set(frame["split"])
    unlabelled = frame[graph.y.numpy() < 0]
    assert len(unlabelled) and set(unlabelled["source"]) <= {"gnn", "pooled"} and unlabelled["label"].notna().all()
    run = load_run(tmp_path / "run")  # the report reads it, and draws no test bars of made-up zeros
    assert run.result["after"]["test"] is None
    html = render_report([run])
    assert "Accuracy against LLM answers used" in html and "all, answered and never-asked test nodes" not in html


def test_labelling_mode_login_reports_no_test_score(partly_labelled, store_path, tmp_path):
    graph = partly_labelled
    config = ConsultConfig(dataset="synthetic", strategy="login", features="bow", rounds=1, max_calls=4, epochs=30,
                           patience=20, split="labelled")  # fmt: skip
    client, _ = _client(graph, always_right(graph), store_path)
    with client:
        result = Consultation(config, client, graph=graph, progress=False).run()
        payload = summary(result, client, 0.0)
    _no_test_score(payload)
    assert all(r["metrics"]["test"] is None for r in payload["rounds"])
    write_outputs(tmp_path / "run", result, payload)
    assert (tmp_path / "run" / "accuracy_vs_calls.png").stat().st_size > 1000
    assert load_run(tmp_path / "run").result["test_scored"] is False
