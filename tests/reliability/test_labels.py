"""Labels in a user's graph files are what they say: text (or an integer), one line, one spelling per class, never
a missing value or a list taken for a class; odd label distributions are warned about."""

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.errors import DataError
from mentor.graph.datasets import load_files
from tests.graph.plain_files import write_graph

runner = CliRunner()


def _nodes(labels):
    return [{"id": f"n{i}", "text": f"page {i}", "label": label} for i, label in enumerate(labels)]


def _graph(directory, nodes, fmt="jsonl", classes=None):
    directory.mkdir()
    return write_graph(directory, nodes, "n0 n1\n", fmt, classes)


GOOD = ["a", "b", "a", "b", ""]


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (["student"], r"line 3, field 'label': expected text or an integer, got a list \(\['student'\]\)"),
        ({"x": 1}, r"line 3, field 'label': expected text or an integer, got an object \(\{'x': 1\}\)"),
        (True, r"line 3, field 'label': expected text or an integer, got true/false \(true\)"),
        (7.5, r"line 3, field 'label': expected text or an integer, got a number with a fraction \(7.5\)"),
        ("stu\ndent", r"line 3, field 'label': label 'stu\\ndent' contains a line break"),
        ("a\u202eb", r"line 3, field 'label': label .* contains a line break or another control character"),
        ("NaN", r"line 3, field 'label': label 'NaN' looks like a missing value: leave it empty"),
        ("A", r"line 3, field 'label': labels 'a' \(line 1\) and 'A' differ only in case"),
    ],
)
def test_a_label_of_the_wrong_kind_is_refused_in_json_lines(tmp_path, label, message):
    labels = list(GOOD)
    labels[2] = label
    with pytest.raises(DataError, match=rf"nodes.jsonl, {message}"):
        load_files(_graph(tmp_path / "g", _nodes(labels)))


def test_other_fields_of_the_wrong_kind_are_refused_too(tmp_path):
    nodes = _nodes(GOOD)
    nodes[1]["text"] = ["a", "list"]
    with pytest.raises(DataError, match=r"line 2, field 'text': expected text or an integer, got a list"):
        load_files(_graph(tmp_path / "g", nodes))


def test_integer_labels_are_their_decimal_text(tmp_path):
    graph = load_files(_graph(tmp_path / "g", _nodes([7, "7", 12, 12, None])))
    assert graph.class_names == ["12", "7"] and graph.y.tolist() == [1, 1, 0, 0, -1]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("NaN", r"line 4, field 'label': label 'NaN' looks like a missing value"),
        ("null", r"line 4, field 'label': label 'null' looks like a missing value"),
        ("COURSE", r"line 4, field 'label': labels 'course' \(line 2\) and 'COURSE' differ only in case"),
        ("line one\nline two", r"line 4, field 'label': label 'line one\\nline two' contains a line break"),
    ],
)
def test_a_label_of_the_wrong_kind_is_refused_in_csv(tmp_path, cell, message):
    with pytest.raises(DataError, match=rf"nodes.csv, {message}"):
        load_files(_graph(tmp_path / "g", _nodes(["course", "b", cell, "b"]), fmt="csv"))


def test_an_empty_csv_cell_is_unlabelled_and_a_listed_missing_spelling_is_a_class(tmp_path):
    graph = load_files(_graph(tmp_path / "g", _nodes(["a", "", "b", "b"]), fmt="csv"))
    assert graph.y.tolist() == [0, -1, 1, 1]
    graph = load_files(_graph(tmp_path / "h", _nodes(["a", "None", "b", "b"]), fmt="csv", classes=["a", "b", "None"]))
    assert graph.class_names == ["a", "b", "None"] and graph.y.tolist() == [0, 2, 1, 1]


def test_parquet_labels_integers_accepted_fractions_refused(tmp_path):
    graph = load_files(_graph(tmp_path / "g", _nodes([3, 4, 3, 4]), fmt="parquet"))
    assert graph.class_names == ["3", "4"]
    with pytest.raises(DataError, match=r"nodes.parquet, line 1, field 'label': expected text or an integer, got a "
                                        r"number with a fraction \(1.0\)"):  # fmt: skip
        load_files(_graph(tmp_path / "h", _nodes([1.0, None, 2.0, 2.0]), fmt="parquet"))


def test_a_repeated_column_is_refused(tmp_path):
    directory = tmp_path / "g"
    directory.mkdir()
    (directory / "nodes.csv").write_text("id,text,label,split,split\nn0,a,x,train,\nn1,b,y,test,train\n")
    (directory / "edges.txt").write_text("")
    with pytest.raises(DataError, match=r"nodes.csv, line 1, field 'split': column 'split' appears more than once "
                                        r"\(columns 4 and 5\)"):  # fmt: skip
        load_files(directory)


def test_the_class_list_is_checked_for_case_and_suggests_the_spelling(tmp_path):
    with pytest.raises(DataError, match=r"classes.txt, line 3: class 'A' and 'a' \(line 1\) differ only in case"):
        load_files(_graph(tmp_path / "g", _nodes(GOOD), classes=["a", "b", "A"]))
    with pytest.raises(DataError, match=r"line 2, field 'label': label 'B' is not one of the classes in classes.txt: "
                                        r"\['a', 'b'\] \(did you mean 'b'\? labels are case-sensitive\)"):  # fmt: skip
        load_files(_graph(tmp_path / "h", _nodes(["a", "B"]), classes=["a", "b"]))


def _warnings(directory):
    result = runner.invoke(app, ["data", "describe", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    return " ".join(result.stderr.split())


def test_a_one_node_class_and_a_one_class_graph_are_warned_about(tmp_path):
    text = _warnings(_graph(tmp_path / "g", _nodes(["a", "a", "a", "b", "a"])))
    assert "warning: 1 class with one labelled node ('b'): no split can both train on such a class and score it" in text
    text = _warnings(_graph(tmp_path / "h", _nodes(["a", "a", "a", "", "a"]), classes=["a", "b", "c"]))
    assert "warning: every labelled node is in one class ('a'): there is nothing to tell apart" in text
    assert "warning: 2 classes with no labelled node ('b', 'c'): such a class is never learned" in text
    assert "warning" not in _warnings(_graph(tmp_path / "i", _nodes(["a", "a", "b", "b"])))
