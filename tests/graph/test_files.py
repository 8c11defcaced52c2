"""The plain-file format for a user's own graph, and its validation errors."""

import pandas as pd
import pytest
import torch

from mentor.graph import DataError, Split, load_dataset, validate
from mentor.graph.datasets import load_files
from tests.graph.plain_files import write_graph

NODES = [
    {"id": "n1", "text": "graph neural networks", "label": "ml", "split": "train"},
    {"id": "n2", "text": "protein folding", "label": "bio", "split": "train"},
    {"id": "n3", "text": "message passing", "label": "ml", "split": "val"},
    {"id": "n4", "text": "gene expression", "label": "bio", "split": "test"},
    {"id": "n5", "text": "an unlabelled page", "label": "", "split": ""},
]


def _write(directory, nodes=NODES, edges="n1 n2\nn2 n3\nn3 n4  # comment\nn4 n5\n", fmt="jsonl", classes=None):
    return write_graph(directory, nodes, edges, fmt, classes or None)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_each_nodes_format_loads(tmp_path, fmt):
    graph = load_dataset(str(_write(tmp_path / "g", fmt=fmt)))
    assert graph.num_nodes == 5 and graph.num_edges == 4
    assert graph.class_names == ["bio", "ml"]
    assert graph.y.tolist() == [1, 0, 1, 0, -1]
    assert graph.split("file").sizes() == {"train": 2, "val": 1, "test": 1}
    assert graph.node_ids == ["n1", "n2", "n3", "n4", "n5"]
    assert graph.split("random").sizes()["train"] + graph.split("random").sizes()["val"] <= 4


def test_csv_edges_and_class_file(tmp_path):
    directory = _write(tmp_path / "g", classes=["ml", "bio", "chem"])
    (directory / "edges.txt").unlink()
    pd.DataFrame({"source": ["n1", "n2"], "target": ["n3", "n4"]}).to_csv(directory / "edges.csv", index=False)
    graph = load_files(directory)
    assert graph.class_names == ["ml", "bio", "chem"] and graph.num_edges == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n: n + [dict(n[0])], r"nodes.jsonl, line 6, field 'id': duplicate node id 'n1'"),
        (lambda n: [{**n[0], "text": "  "}] + n[1:], r"line 1, field 'text': node 'n1' has an empty text"),
        (lambda n: [{**n[0], "split": "dev"}] + n[1:], r"line 1, field 'split'"),
        (lambda n: [{**n[4], "split": "train"}] + n[:4], r"line 1, field 'split': node 'n5' is in split 'train'"),
        (lambda n: [{k: v for k, v in n[0].items() if k != "text"}] + n[1:], r"line 1, field 'text': missing"),
        (lambda n: [], r"no nodes"),
    ],
)  # fmt: skip
def test_node_errors_name_file_line_and_field(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        load_files(_write(tmp_path / "g", nodes=change(list(NODES)), edges=""))


def test_label_outside_the_class_list(tmp_path):
    with pytest.raises(DataError, match=r"line 2, field 'label': label 'bio' is not one of the classes"):
        load_files(_write(tmp_path / "g", classes=["ml", "chem"]))


def test_dangling_edge(tmp_path):
    with pytest.raises(DataError, match=r"edges.txt, line 2, field 'target': unknown node id 'n9' \(dangling edge\)"):
        load_files(_write(tmp_path / "g", edges="n1 n2\nn1 n9\n"))


def test_malformed_edge_line(tmp_path):
    with pytest.raises(DataError, match=r"edges.txt, line 1: expected two node ids, got 3"):
        load_files(_write(tmp_path / "g", edges="n1 n2 n3\n"))


def test_missing_files(tmp_path):
    (tmp_path / "g").mkdir()
    with pytest.raises(DataError, match=r"expected exactly one of nodes.jsonl or nodes.csv or nodes.parquet"):
        load_files(tmp_path / "g")


def test_validate_catches_out_of_range_edges_labels_and_overlapping_splits(small_graph):
    graph = small_graph.copy()
    graph.data.edge_index = torch.tensor([[0, 500], [1, 2]])
    with pytest.raises(DataError, match="edge 1 .* points outside 0..119"):
        validate(graph)
    graph = small_graph.copy()
    graph.data.y = graph.y.clone()
    graph.data.y[7] = 9
    with pytest.raises(DataError, match="node 7 has label id 9, outside the 3 classes"):
        validate(graph)
    graph = small_graph.copy()
    split = graph.split("random")
    val = split.val.clone()
    val[split.train.nonzero()[0]] = True
    graph.splits["bad"] = Split(split.train, val, split.test)
    with pytest.raises(DataError, match="split 'bad' overlaps itself"):
        validate(graph)


# -- class descriptions ---------------------------------------------------------------------------------------

_NODES = [{"id": "a", "text": "a page on databases", "label": "DB"}, {"id": "b", "text": "a page on agents",
          "label": "Agents"}, {"id": "c", "text": "an unlabelled page"}]  # fmt: skip


def test_a_tab_and_a_description_may_follow_a_class_name(tmp_path):
    classes = ["DB\tDatabases: query processing,  storage and transactions", "Agents", "AI\tartificial intelligence"]
    graph = load_files(write_graph(tmp_path / "g", _NODES, "a b\n", classes=classes))
    assert graph.class_names == ["DB", "Agents", "AI"]
    assert graph.class_descriptions == ["Databases: query processing, storage and transactions", None,
                                        "artificial intelligence"]  # fmt: skip
    plain = load_files(write_graph(tmp_path / "plain", _NODES, "a b\n", classes=["DB", "Agents"]))
    assert plain.class_descriptions is None


def test_a_description_without_a_name_is_an_error_naming_the_line(tmp_path):
    directory = write_graph(tmp_path / "g", _NODES, "a b\n", classes=["DB", "\tstray description", "Agents"])
    with pytest.raises(DataError, match=r"classes.txt, line 2: a description without a class name"):
        load_files(directory)


def test_a_descriptions_file_must_name_the_graphs_classes(tmp_path):
    from mentor.graph.datasets.labels import class_descriptions

    path = tmp_path / "descriptions.txt"
    path.write_text("AI\tartificial intelligence\nML\tmachine learning\n")
    assert class_descriptions(path, ["ML", "DB", "AI"]) == ["machine learning", None, "artificial intelligence"]
    path.write_text("AI\tartificial intelligence\nGardening\tplants\n")
    with pytest.raises(DataError, match=r"descriptions.txt, line 2: 'Gardening' is not a class of the graph"):
        class_descriptions(path, ["ML", "AI"])
