"""The predictions table: one row per node in the graph's order with the files' own ids, only training labels
given, and ids that survive every format (commas, quotes, unicode, ``NA``, leading zeros)."""

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from mentor.graph import load_dataset, make_synthetic
from mentor.graph.predictions import COLUMNS, PredictionTable


def hostile_id(i: int) -> str:
    """A node id a naive CSV writer or reader would break: commas, quotes, unicode, ``NA``, leading zeros."""
    return {0: "NA", 1: "007", 2: "''", 3: "1.50"}.get(i, f'doc, "{i}" – é 日本 ✓')


def write_graph(directory: Path, num_nodes: int = 60, unlabelled_every: int = 5, seed: int = 3) -> list[int]:
    """A plain-file graph (``nodes.csv``, ``edges.csv``) from a synthetic one, with hostile ids and every
    ``unlabelled_every``-th node unlabelled; returns the true class of every node (the files hide some)."""
    synthetic = make_synthetic(num_nodes=num_nodes, num_classes=3, homophily=0.8, seed=seed)
    ids = [hostile_id(i) for i in range(num_nodes)]
    truth = synthetic.data.true_y.tolist()
    labels = ["" if i % unlabelled_every == 1 else synthetic.class_names[c] for i, c in enumerate(synthetic.y)]
    texts = [f"{text} (doc {i})" for i, text in enumerate(synthetic.texts)]
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "text": texts, "label": labels}).to_csv(directory / "nodes.csv", index=False)
    source, target = synthetic.edge_index
    pairs = [(ids[s], ids[t]) for s, t in zip(source.tolist(), target.tolist(), strict=True) if s < t]
    pd.DataFrame(pairs, columns=["source", "target"]).to_csv(directory / "edges.csv", index=False)
    return truth


@pytest.fixture
def graph(tmp_path):
    write_graph(tmp_path / "g")
    return load_dataset(str(tmp_path / "g"))


def _probs(graph, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(graph.num_nodes, graph.num_classes, generator=generator) * 3, dim=-1)


def test_ids_of_the_files_survive_every_format(graph, tmp_path):
    assert len(set(graph.node_ids)) == graph.num_nodes and graph.node_ids[1] == "007"
    table = PredictionTable.from_probs(graph, _probs(graph), graph.split("random"))
    for fmt in ("csv", "parquet", "jsonl"):
        path = table.write(tmp_path / f"p.{fmt}")
        back = PredictionTable.read(path).frame
        assert list(back.columns) == list(COLUMNS)
        assert back["id"].tolist() == graph.node_ids, fmt
        assert back["asked"].tolist() == [False] * graph.num_nodes, fmt
        pd.testing.assert_frame_equal(back, table.frame, check_dtype=False)
    with (tmp_path / "p.csv").open(newline="", encoding="utf-8") as handle:  # any CSV reader, not only pandas
        assert [row["id"] for row in csv.DictReader(handle)] == graph.node_ids
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == graph.node_ids


def test_only_training_nodes_are_given_and_the_rest_are_predicted(graph):
    split, probs = graph.split("random"), _probs(graph)
    frame = PredictionTable.from_probs(graph, probs, split).frame
    train = split.train.tolist()
    assert (frame["source"] == "given").tolist() == train
    names = graph.class_names
    for node in range(graph.num_nodes):
        row = frame.iloc[node]
        if train[node]:
            assert row["label"] == names[int(graph.y[node])] and row["confidence"] == 1.0
        else:  # validation, test and unlabelled nodes: the model's argmax, never their label
            assert row["label"] == names[int(probs[node].argmax())]
            assert row["confidence"] == pytest.approx(float(probs[node].max()), abs=1e-6)
        assert row["gnn_label"] == names[int(probs[node].argmax())]
    parts = frame["split"].value_counts().to_dict()
    sizes = split.sizes()
    assert parts == {**sizes, "unlabelled": graph.num_nodes - sum(sizes.values())}
    assert set(frame.loc[graph.y.numpy() < 0, "split"]) == {"unlabelled"}


def test_poisoned_validation_and_test_labels_never_reach_the_table(graph):
    split, probs = graph.split("random"), _probs(graph)
    poisoned = graph.copy()
    poisoned.data.y = torch.where(split.val | split.test, (graph.y + 1) % graph.num_classes, graph.y)
    clean = PredictionTable.from_probs(graph, probs, split).frame
    pd.testing.assert_frame_equal(PredictionTable.from_probs(poisoned, probs, split).frame, clean)


def test_sources_asked_and_the_gnn_columns(graph):
    n, split = graph.num_nodes, graph.split("random")
    gnn, final = _probs(graph, 1), _probs(graph, 2)
    outside = (~split.train).nonzero().view(-1).tolist()
    sources, asked = ["gnn"] * n, [False] * n
    sources[outside[0]], sources[outside[1]] = "pooled", "llm"
    asked[outside[0]] = asked[outside[1]] = asked[outside[2]] = True
    frame = PredictionTable.from_probs(graph, final, split, sources=sources, asked=asked, gnn_probs=gnn).frame
    assert frame["source"].iloc[outside[:3]].tolist() == ["pooled", "llm", "gnn"]
    assert frame["asked"].iloc[outside[:3]].tolist() == [True, True, True]
    assert frame["gnn_label"].tolist() == [graph.class_names[c] for c in gnn.argmax(-1).tolist()]
    no_split = PredictionTable.from_probs(graph, final).frame
    assert set(no_split["source"]) == {"gnn"} and set(no_split["split"]) == {"unlabelled"}


def test_built_in_graphs_use_row_indices():
    graph = make_synthetic(num_nodes=30, seed=0)
    frame = PredictionTable.from_probs(graph, _probs(graph)).frame
    assert frame["id"].tolist() == list(range(30))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probs": torch.ones(3, 3)}, r"probs has shape \[3, 3\], expected \[60, 3\]"),
        ({"gnn_probs": torch.ones(60, 2)}, r"gnn_probs has shape \[60, 2\], expected \[60, 3\]"),
        ({"sources": ["gnn"] * 59}, "59 sources for 60 nodes"),
        ({"sources": ["given"] * 60}, "source 'given': expected one of gnn, pooled, llm"),
        ({"sources": ["pooled"] * 60}, "pooled or llm must have been asked"),
        ({"asked": [True] * 61}, "61 asked flags for 60 nodes"),
    ],
)
def test_bad_inputs_are_one_line_errors(graph, kwargs, message):
    arguments = {"probs": _probs(graph), **kwargs}
    with pytest.raises(ValueError, match=message):
        PredictionTable.from_probs(graph, arguments.pop("probs"), graph.split("random"), **arguments)


def test_an_unknown_format_is_refused(graph, tmp_path):
    table = PredictionTable.from_probs(graph, _probs(graph))
    with pytest.raises(ValueError, match="format 'xlsx': expected one of csv, parquet, jsonl"):
        table.write(tmp_path / "p.xlsx", "xlsx")
    assert table.write(tmp_path / "p.txt").read_text().startswith("id,label,")  # no known suffix: CSV
