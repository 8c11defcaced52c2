import csv
import json

from typer.testing import CliRunner

from mentor.cli import app
from mentor.graph import load_dataset
from tests.graph.test_predictions import write_graph

runner = CliRunner()


def test_describe_json():
    result = runner.invoke(app, ["data", "describe", "synthetic:num_nodes=60", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert {"nodes", "edges", "classes", "edge_homophily", "text_chars", "splits"} <= set(info)
    assert info["nodes"] == 60


def test_describe_real_cora_table(tmp_path):
    result = runner.invoke(app, ["data", "describe", "cora", "--data-root", str(tmp_path)])
    assert result.exit_code == 1 and "cora_text_planetoid_order.jsonl" in result.output


def test_train_json():
    result = runner.invoke(app, ["train", "synthetic:num_nodes=90", "--model", "gcn", "--features", "bow",
                                 "--epochs", "30", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"val_acc", "test_acc", "val_macro_f1", "best_epoch"} <= set(summary)


def test_train_bad_options():
    assert runner.invoke(app, ["train", "synthetic", "--model", "resnet"]).exit_code == 2
    result = runner.invoke(app, ["train", "synthetic", "--split", "public", "--features", "bow"])
    assert result.exit_code == 1 and "has splits random" in result.output
    result = runner.invoke(app, ["train", "synthetic", "--features", "bow", "--batch-size", "0"])
    assert result.exit_code == 2 and "auto, full or a positive number" in result.output
    result = runner.invoke(app, ["train", "synthetic", "--features", "bow", "--fanout", "0"])
    assert result.exit_code == 1 and "fanout must be a positive number" in result.output
    result = runner.invoke(app, ["train", "synthetic", "--features", "bow", "--device", "tpu:x"])
    assert result.exit_code == 1 and "expected a torch device" in result.output


def test_train_in_mini_batches_says_so_in_its_summary(tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "synthetic:num_nodes=120",
            "--features",
            "bow",
            "--epochs",
            "40",
            "--batch-size",
            "16",
            "--fanout",
            "5",
            "--out",
            str(tmp_path / "run"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    training = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["training"]["config"]
    assert training["batch_size"] == 16 and training["fanout"] == 5 and training["validate_every"] == 10


def test_train_writes_every_node_with_the_files_ids(tmp_path):
    write_graph(tmp_path / "g", num_nodes=60)
    graph = load_dataset(str(tmp_path / "g"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(tmp_path / "g"), "--features", "bow", "--epochs", "30", "--out",
                                 str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "predictions.csv" in result.stdout
    with (out / "predictions.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == graph.node_ids
    split = graph.split("random")
    assert [row["source"] for row in rows] == ["given" if t else "gnn" for t in split.train.tolist()]
    assert {row["asked"] for row in rows} == {"False"}
    summary = json.loads((out / "result.json").read_text())
    assert summary["test_scored"] is True and summary["test_acc"] is not None


def test_train_in_labelling_mode_reports_no_test_score(tmp_path):
    out = tmp_path / "run"
    args = ["train", "synthetic:num_nodes=90", "--features", "bow", "--epochs", "30", "--split", "labelled"]
    result = runner.invoke(app, [*args, "--json", "--out", str(out), "--predictions", "jsonl"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["test_acc"] is None and summary["test_macro_f1"] is None and summary["test_scored"] is False
    assert "no test part" in summary["note"] and summary["val_acc"] is not None
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 90 and {row["split"] for row in rows} == {"train", "val"}
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0 and "no test score" in shown.stdout
