"""``mentor consult --out`` on a user's own graph with a scripted consultant: ``predictions.csv`` carries the
files' ids in file order, ``--predictions`` picks the format, and ``--split labelled`` never shows a test score."""

import csv
import importlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.graph import load_dataset
from mentor.llm import LLMClient
from tests.consult.scripted import ScriptedConsultant
from tests.graph.test_predictions import write_graph

consult_cli = importlib.import_module("mentor.cli.consult")  # the package re-exports a function of that name


@pytest.fixture
def own_graph(tmp_path, monkeypatch):
    """A plain-file graph with hostile ids, and the CLI's consultant scripted to answer its true classes."""
    directory = tmp_path / "mygraph"
    truth = write_graph(directory, num_nodes=120, unlabelled_every=4)
    graph = load_dataset(str(directory))
    backend = ScriptedConsultant(graph, lambda node: truth[node], confidence=lambda node: 0.8)
    monkeypatch.setattr(consult_cli, "LLMClient", lambda config, store=None: LLMClient(config, store=store,
                                                                                      backend=backend))  # fmt: skip
    return directory, graph


def _consult(directory, store, out, *extra):
    args = ["consult", str(directory), "--features", "bow", "--epochs", "40", "--patience", "20", "--budget", "0.2",
            "--min-gain", "1", "--llm", "openai:scripted", "--llm-base-url", "http://127.0.0.1:9/v1",
            "--store", str(store), "--out", str(out), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("strategy", ["gated", "login"])
def test_consult_writes_every_node_with_the_files_ids(own_graph, store_path, tmp_path, strategy):
    directory, graph = own_graph
    out = tmp_path / "run"
    _consult(directory, store_path, out, "--strategy", strategy, "--rounds", "1", "--max-calls", "6")
    with (out / "predictions.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == graph.node_ids  # commas, quotes, unicode, NA, 007 intact, in file order
    split = graph.split("random")
    assert [row["source"] == "given" for row in rows] == split.train.tolist()
    assert all(row["label"] in graph.class_names and row["gnn_label"] in graph.class_names for row in rows)
    assert all(row["asked"] == "True" for row in rows if row["source"] in ("pooled", "llm"))
    asked = sum(row["asked"] == "True" for row in rows)
    assert 0 < asked == len((out / "consultations.jsonl").read_text().splitlines())


def test_the_predictions_format_and_labelling_mode(own_graph, store_path, tmp_path):
    directory, graph = own_graph
    out = tmp_path / "run"
    shown = _consult(directory, store_path, out, "--split", "labelled", "--predictions", "parquet")
    assert "no test score" in shown.stdout and "predictions.parquet" in shown.stdout
    assert not (out / "predictions.csv").exists()
    frame = pd.read_parquet(out / "predictions.parquet")
    assert frame["id"].tolist() == graph.node_ids and "test" not in set(frame["split"])
    assert (frame.loc[frame["split"] == "unlabelled", "source"] != "given").all()
    payload = json.loads((out / "result.json").read_text())
    assert payload["test_scored"] is False and payload["after"]["test"] is None and payload["before"]["test"] is None
    assert payload["gate"]["calibration"]["calibration_nodes"] > 0  # the gate still calibrates on validation


def test_an_unknown_predictions_format_is_refused(own_graph, store_path, tmp_path):
    directory, _ = own_graph
    result = CliRunner().invoke(app, ["consult", str(directory), "--predictions", "xlsx", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "csv, parquet, jsonl" in result.output
