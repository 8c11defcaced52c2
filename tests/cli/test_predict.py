"""``mentor predict RUN_DIR GRAPH --out FILE``: a run's saved GNN predicts every node of a graph, new nodes
included, with no LLM; on the training graph it gives the run's own GNN predictions exactly."""

import importlib
import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

import mentor.llm.client
from mentor.cli import app
from mentor.graph import load_dataset
from mentor.llm import LLMClient
from tests.consult.scripted import ScriptedConsultant
from tests.graph.test_predictions import write_graph

runner = CliRunner()
consult_cli = importlib.import_module("mentor.cli.consult")
GNN_COLUMNS = ["id", "gnn_label", "gnn_confidence"]


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _train(graph_dir, out, model="gcn"):
    result = _invoke("train", graph_dir, "--features", "bow", "--model", model, "--epochs", "40", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def grow(source, target, new=10):
    """A copy of the plain-file graph ``source`` with ``new`` unlabelled nodes (hostile ids, texts of their own)
    added at the end, each joined to two old nodes."""
    shutil.copytree(source, target)
    nodes = _read(target / "nodes.csv")
    old = nodes["id"].tolist()
    added = pd.DataFrame({"id": [f'new, "{i}" ✓' for i in range(new)],
                          "text": [f"a fresh page on topic {i}: {nodes['text'][i]}" for i in range(new)],
                          "label": [""] * new})  # fmt: skip
    pd.concat([nodes, added]).to_csv(target / "nodes.csv", index=False)
    edges = _read(target / "edges.csv")
    more = pd.DataFrame([(added["id"][i], old[j]) for i in range(new) for j in (i, 3 * i + 2)],
                        columns=["source", "target"])  # fmt: skip
    pd.concat([edges, more]).to_csv(target / "edges.csv", index=False)
    return target


@pytest.fixture
def graph_dir(tmp_path):
    write_graph(tmp_path / "graph", num_nodes=80, unlabelled_every=4)
    return tmp_path / "graph"


@pytest.fixture
def no_llm(monkeypatch):
    """Any LLM client made is an error (and the configured endpoint is a closed port)."""
    monkeypatch.setenv("MENTOR_LLM_BASE_URL", "http://127.0.0.1:9/v1")

    def refuse(*args, **kwargs):
        raise AssertionError("mentor predict made an LLM client")

    monkeypatch.setattr(mentor.llm.client.LLMClient, "__init__", refuse)


def test_predict_gives_the_runs_gnn_predictions_exactly_on_the_training_graph(graph_dir, tmp_path, no_llm):
    run = _train(graph_dir, tmp_path / "run")
    assert {p.name for p in (run / "model").iterdir()} == {"config.json", "model.safetensors", "nodes.safetensors"}
    result = _invoke("predict", run, graph_dir, "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "this is the model's training graph" in result.output and "predicted 80 nodes" in result.output
    predicted, trained = _read(tmp_path / "p.csv"), _read(run / "predictions.csv")
    pd.testing.assert_frame_equal(predicted[GNN_COLUMNS], trained[GNN_COLUMNS])
    assert (predicted["label"] == predicted["gnn_label"]).all() and set(predicted["source"]) == {"gnn"}
    assert set(predicted["asked"]) == {"False"}


def test_ten_new_nodes_are_predicted_without_an_llm(graph_dir, tmp_path, no_llm):
    run = _train(graph_dir, tmp_path / "run")
    grown = grow(graph_dir, tmp_path / "grown")
    result = _invoke("predict", run, grown, "--out", tmp_path / "p.jsonl", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["nodes"] == 90 and sum(summary["labels"].values()) == 90
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == load_dataset(str(grown)).node_ids
    assert [r["id"] for r in rows[-10:]] == [f'new, "{i}" ✓' for i in range(10)]
    assert all(r["label"] == r["gnn_label"] and r["source"] == "gnn" for r in rows)


def test_other_classes_are_one_line_and_nothing_is_written(graph_dir, tmp_path):
    run = _train(graph_dir, tmp_path / "run")
    grown = grow(graph_dir, tmp_path / "grown")
    classes = load_dataset(str(graph_dir)).class_names
    (grown / "classes.txt").write_text("\n".join([*classes, "gardening"]) + "\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    result = _invoke("predict", run, grown, "--out", out)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "classes are not the model's (not the model's 'gardening')" in result.output
    assert not out.exists() and not list(tmp_path.glob(".p.csv*"))


def test_linkx_refuses_new_nodes_before_encoding_and_names_the_backbones_that_can(graph_dir, tmp_path):
    run = _train(graph_dir, tmp_path / "run", model="linkx")
    assert _invoke("predict", run, graph_dir, "--out", tmp_path / "same.csv").exit_code == 0
    result = _invoke("predict", run, grow(graph_dir, tmp_path / "grown"), "--out", tmp_path / "p.csv")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "train with --model mlp, gcn, sage, gat, appnp, gcnii, mixhop" in result.output
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp, "no saved model here (expected config.json"),
        (lambda tmp: tmp / "absent", "no such directory"),
    ],
)
def test_a_directory_without_a_model_is_one_line(graph_dir, tmp_path, make, expected):
    result = _invoke("predict", make(tmp_path), graph_dir, "--out", tmp_path / "p.csv")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert expected in result.output


def test_an_out_file_of_no_known_format_is_refused_first(graph_dir, tmp_path):
    result = _invoke("predict", tmp_path / "no-run", graph_dir, "--out", tmp_path / "p.xlsx")
    assert result.exit_code == 1 and "expected a file name ending .csv, .parquet, .jsonl" in result.output


# -- consultation runs save their GNN too ----------------------------------------------------------------------


@pytest.fixture
def scripted(graph_dir, monkeypatch):
    graph = load_dataset(str(graph_dir))
    truth = write_graph(graph_dir, num_nodes=80, unlabelled_every=4)  # the same graph again: its true classes
    backend = ScriptedConsultant(graph, lambda node: truth[node], confidence=lambda node: 0.8)
    monkeypatch.setattr(consult_cli, "LLMClient", lambda config, store=None: LLMClient(config, store=store,
                                                                                      backend=backend))  # fmt: skip
    return backend


def _consult(graph_dir, out, store, *extra):
    result = _invoke("consult", graph_dir, "--features", "bow", "--epochs", "40", "--patience", "20", "--budget",
                     "0.3", "--min-gain", "1", "--llm", "openai:scripted", "--llm-base-url", "http://127.0.0.1:9/v1",
                     "--store", store, "--out", out, *extra)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    ("strategy", "options"),
    [("gated", ["--no-augment"]), ("login", ["--no-augment", "--no-prune", "--rounds", "1", "--max-calls", "5"])],
)
def test_a_consult_runs_gnn_is_saved_and_predicts_the_training_graph_exactly(
    graph_dir, tmp_path, store_path, scripted, strategy, options
):
    run = _consult(graph_dir, tmp_path / "run", store_path, "--strategy", strategy, *options)
    config = json.loads((run / "model" / "config.json").read_text())
    payload = json.loads((run / "result.json").read_text())
    chosen = payload["selected_round"] if strategy == "gated" else payload["best_round"]
    assert config["training"]["command"] == "consult" and config["training"]["strategy"] == strategy
    assert config["training"]["round"] == chosen and config["training"]["texts_augmented"] == 0
    assert (run / "model" / "gate.json").exists() == (strategy == "gated")
    result = _invoke("predict", run, graph_dir, "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(_read(tmp_path / "p.csv")[GNN_COLUMNS], _read(run / "predictions.csv")[GNN_COLUMNS])


def test_a_gated_run_saves_the_gate_fitted_with_its_gnn_and_says_texts_were_augmented(
    graph_dir, tmp_path, store_path, scripted
):
    run = _consult(graph_dir, tmp_path / "run", store_path)
    payload = json.loads((run / "result.json").read_text())
    gate = json.loads((run / "model" / "gate.json").read_text())
    assert gate["calibration_gate"] == payload["gate"]["calibration"]
    assert gate["gate"]["calibration_nodes"] == payload["gate"]["calibration"]["calibration_nodes"]
    assert gate["rule"] == "pool" and "llm_weight" in gate["gate"]
    augmented = sum(r["texts_augmented"] for r in payload["rounds"] if r["round"] <= payload["selected_round"])
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["training"]["texts_augmented"] == augmented
    result = _invoke("predict", run, grow(graph_dir, tmp_path / "grown"), "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    if augmented:
        assert f"trained with {augmented} node texts augmented with LLM explanations" in result.output


# -- asking the LLM about new nodes through the saved gate -----------------------------------------------------

predict_cli = importlib.import_module("mentor.cli.predict")


@pytest.fixture
def gated_run(graph_dir, tmp_path, store_path, scripted):
    """A gated run, its gate opened as a pool that trusts the LLM (this graph is too easy for the GNN to let a gate
    open on its own), and its graph grown by 10 new nodes."""
    run = _consult(graph_dir, tmp_path / "run", store_path, "--no-augment")
    path = run / "model" / "gate.json"
    record = json.loads(path.read_text())
    record["gate"].update(open=True, gain=3, reason="opened by the test", gnn_weight=1.0, llm_weight=3.0)
    path.write_text(json.dumps(record))
    return run, grow(graph_dir, tmp_path / "grown")


def _consultant_for(graph_dir, monkeypatch, rule=lambda node: 0):
    """The scripted consultant ``mentor predict`` gets, answering about the nodes of ``graph_dir``."""
    backend = ScriptedConsultant(load_dataset(str(graph_dir)), rule, confidence=lambda node: 0.9)
    monkeypatch.setattr(predict_cli, "LLMClient", lambda config, store=None: LLMClient(config, store=store,
                                                                                      backend=backend))  # fmt: skip
    return backend


def _predict_asking(run, graph_dir, out, store, *extra):
    return _invoke("predict", run, graph_dir, "--out", out, "--llm", "openai:scripted", "--llm-base-url",
                   "http://127.0.0.1:9/v1", "--store", store, "--json", *extra)  # fmt: skip


def test_max_calls_asks_about_the_least_confident_new_nodes_only_and_pools_the_answers(
    gated_run, tmp_path, store_path, monkeypatch
):
    run, grown = gated_run
    alone = tmp_path / "alone.csv"
    assert _invoke("predict", run, grown, "--out", alone).exit_code == 0
    backend = _consultant_for(grown, monkeypatch)
    out = tmp_path / "p.csv"
    result = _predict_asking(run, grown, out, store_path, "--max-calls", "4")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["llm"]
    assert summary["new_nodes"] == 10 and summary["asked"] == 4 and summary["answered"] == 4
    assert summary["new_calls"] == 4 and summary["gate_open"]
    gnn, table = _read(alone), _read(out)
    new = list(range(80, 90))
    least_confident = sorted(new, key=lambda v: (float(gnn["gnn_confidence"][v]), v))[:4]
    assert sorted(backend.asked) == sorted(least_confident)
    assert table["asked"].tolist() == ["True" if v in least_confident else "False" for v in range(90)]
    used = table[table["source"] == "pooled"].index.tolist()
    assert sorted(used) == sorted(least_confident) and summary["accepted"] == 4  # an open pool uses every answer
    # pooled with weight 3 on the LLM, the answered class (0.9) outweighs the GNN
    answered = load_dataset(str(grown)).class_names[0]
    assert (table.loc[used, "label"] == answered).all()
    assert summary["changed"] == int((gnn.loc[used, "gnn_label"] != answered).sum())
    # the GNN's own columns are the GNN's; nodes not asked keep its prediction
    pd.testing.assert_frame_equal(table[GNN_COLUMNS], gnn[GNN_COLUMNS])
    others = table.index.difference(used)
    assert (table.loc[others, "label"] == gnn.loc[others, "label"]).all()
    # the run's prompts were blind: so are these (no GNN line, no neighbour's class)
    for request in backend.requests:
        assert "GNN" not in request.messages[-1].content


def test_a_second_predict_answers_from_the_store_and_budget_is_a_share_of_the_new_nodes(
    gated_run, tmp_path, store_path, monkeypatch
):
    run, grown = gated_run
    backend = _consultant_for(grown, monkeypatch)
    first = _predict_asking(run, grown, tmp_path / "a.csv", store_path, "--budget", "0.5")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["llm"]["asked"] == 5 and len(backend.asked) == 5
    again = _predict_asking(run, grown, tmp_path / "b.csv", store_path, "--budget", "0.5")
    assert json.loads(again.stdout)["llm"]["store_hits"] == 5 and len(backend.asked) == 5
    pd.testing.assert_frame_equal(_read(tmp_path / "a.csv"), _read(tmp_path / "b.csv"))


def test_labels_of_the_graph_change_nothing_asked_or_predicted(gated_run, tmp_path, store_path, monkeypatch):
    run, grown = gated_run
    _consultant_for(grown, monkeypatch)
    assert _predict_asking(run, grown, tmp_path / "a.csv", store_path, "--max-calls", "3").exit_code == 0
    nodes = _read(grown / "nodes.csv")
    classes = sorted(set(nodes["label"]) - {""})
    nodes["label"] = [classes[(i * 7) % len(classes)] for i in range(len(nodes))]  # every label poisoned
    nodes.to_csv(grown / "nodes.csv", index=False)
    backend = _consultant_for(grown, monkeypatch)
    result = _predict_asking(run, grown, tmp_path / "b.csv", store_path, "--max-calls", "3")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["llm"]["store_hits"] == 3 and backend.asked == []  # the same prompts
    columns = ["id", "label", "confidence", "source", "asked", "gnn_label", "gnn_confidence"]
    pd.testing.assert_frame_equal(_read(tmp_path / "a.csv")[columns], _read(tmp_path / "b.csv")[columns])


def test_a_closed_gate_asks_nothing_and_says_why(graph_dir, tmp_path, store_path, monkeypatch):
    graph = load_dataset(str(graph_dir))
    truth = write_graph(graph_dir, num_nodes=80, unlabelled_every=4)
    wrong = ScriptedConsultant(graph, lambda node: (truth[node] + 1) % 3, confidence=lambda node: 0.8)
    monkeypatch.setattr(consult_cli, "LLMClient", lambda config, store=None: LLMClient(config, store=store,
                                                                                      backend=wrong))  # fmt: skip
    run = _consult(graph_dir, tmp_path / "run", store_path)
    assert not json.loads((run / "model" / "gate.json").read_text())["gate"]["open"]
    grown = grow(graph_dir, tmp_path / "grown")
    backend = _consultant_for(grown, monkeypatch)
    result = _predict_asking(run, grown, tmp_path / "p.csv", store_path, "--max-calls", "5")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["llm"]["asked"] == 0 and backend.asked == []
    assert any("gate is closed" in note for note in summary["notes"])


def test_max_calls_with_a_model_without_a_gate_is_one_line_and_writes_nothing(graph_dir, tmp_path, no_llm):
    run = _train(graph_dir, tmp_path / "run")
    out = tmp_path / "p.csv"
    result = _invoke("predict", run, grow(graph_dir, tmp_path / "grown"), "--out", out, "--max-calls", "3")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "the model has no gate.json (it was saved by a train run)" in result.output
    assert not out.exists()


def test_a_gate_json_without_prompt_settings_is_one_line_naming_the_field(gated_run, tmp_path, store_path, no_llm):
    run, grown = gated_run
    gate = json.loads((run / "model" / "gate.json").read_text())
    del gate["prompt"]
    (run / "model" / "gate.json").write_text(json.dumps(gate))
    result = _predict_asking(run, grown, tmp_path / "p.csv", store_path, "--max-calls", "3")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "gate.json, field 'prompt': no prompt settings" in result.output


def test_a_planted_template_placeholder_in_gate_json_is_refused(gated_run, tmp_path, store_path, no_llm):
    run, grown = gated_run
    gate = json.loads((run / "model" / "gate.json").read_text())
    gate["prompt"]["templates"]["user.txt"] += "\n${__class__}"
    (run / "model" / "gate.json").write_text(json.dumps(gate))
    result = _predict_asking(run, grown, tmp_path / "p.csv", store_path, "--max-calls", "3")
    assert result.exit_code == 1 and "unknown placeholder $__class__" in result.output, result.output


def test_class_descriptions_in_gate_json_must_be_one_text_per_class(gated_run, tmp_path, store_path, no_llm):
    run, grown = gated_run
    gate = json.loads((run / "model" / "gate.json").read_text())
    assert gate["prompt"]["class_descriptions"] is None and gate["prompt"]["token_count"] == "exact"
    gate["prompt"]["class_descriptions"] = ["only one"]
    (run / "model" / "gate.json").write_text(json.dumps(gate))
    result = _predict_asking(run, grown, tmp_path / "p.csv", store_path, "--max-calls", "3")
    assert result.exit_code == 1 and "field 'prompt.class_descriptions': expected null or a list of 3" in result.output
