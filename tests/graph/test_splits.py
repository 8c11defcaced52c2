"""Few-label splits: K labelled nodes per class train (V validate), drawn with the graph's seed; the rest score."""

import pytest
import torch
from typer.testing import CliRunner

from mentor.cli import app
from mentor.graph import load_dataset, make_synthetic
from mentor.graph.splits import few_label_split, parse_few


def test_names_are_parsed_and_others_are_not_few_label_splits():
    assert parse_few("few:5") == (5, 0) and parse_few("few:3:2") == (3, 2) and parse_few("few:0") == (0, 0)
    assert parse_few("random") is None and parse_few("few:") is None and parse_few("few:3:") is None
    assert parse_few("few:-1") is None and parse_few("few:1.5") is None


def test_k_per_class_train_v_per_class_validate_and_every_other_labelled_node_is_test():
    y = torch.tensor([0] * 10 + [1] * 6 + [2] * 2 + [-1] * 4)
    split = few_label_split(y, seed=3, per_class=3, val_per_class=1)
    for label, train, val in ((0, 3, 1), (1, 3, 1), (2, 2, 0)):  # class 2 has two labelled nodes: both train
        assert int((split.train & (y == label)).sum()) == train and int((split.val & (y == label)).sum()) == val
    assert not bool((split.train | split.val | split.test)[y < 0].any())  # unlabelled nodes are in no part
    assert bool(((split.train.int() + split.val.int() + split.test.int()) == (y >= 0).int()).all())


def test_the_draw_depends_on_the_seed_alone_and_more_labels_keep_the_fewer_ones():
    y = torch.arange(300) % 3
    a, b = few_label_split(y, 0, 5), few_label_split(y, 0, 5)
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, few_label_split(y, 1, 5).train)
    assert bool((a.train <= few_label_split(y, 0, 10).train).all())
    with pytest.raises(ValueError, match="labels per class must be >= 0"):
        few_label_split(y, 0, -1)


def test_a_graph_gives_few_label_splits_drawn_with_its_seed(data_root):
    graph = make_synthetic(num_nodes=120, num_classes=3, seed=4)
    split = graph.split("few:5")
    assert split.sizes() == {"train": 15, "val": 0, "test": int((graph.y >= 0).sum()) - 15}
    assert torch.equal(split.train, few_label_split(graph.y, 4, 5).train) and graph.has_split("few:5:2")
    cornell = load_dataset("cornell", data_root, seed=7)
    assert cornell.seed == 7 and torch.equal(cornell.split("few:3").train, few_label_split(cornell.y, 7, 3).train)
    with pytest.raises(KeyError, match="few:K"):
        graph.split("fewer:5")


def test_train_takes_a_few_label_split_and_names_the_form_when_it_is_wrong():
    result = CliRunner().invoke(app, ["train", "synthetic:num_nodes=90", "--features", "bow", "--split", "few:5:2",
                                      "--epochs", "5", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["train", "synthetic:num_nodes=90", "--features", "bow", "--split", "few:5"])
    assert result.exit_code == 0 and "the validation part is empty" in result.output  # trained without selection
    result = CliRunner().invoke(app, ["train", "synthetic:num_nodes=90", "--features", "bow", "--split", "few:x"])
    assert result.exit_code == 1 and "few:K / few:K:V" in " ".join(result.output.split())


def test_logins_loop_on_a_split_without_validation_nodes_is_refused_in_one_line(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["consult", "synthetic:num_nodes=90", "--features", "bow", "--split", "few:5",
                                      "--strategy", "login", "--out", str(out), "--llm", "openai:none",
                                      "--llm-base-url", "http://127.0.0.1:9/v1"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output and not out.exists()
    assert "split few:5 has no validation node: LOGIN's loop selects" in " ".join(result.output.split())
