import json

from typer.testing import CliRunner

from mentor.cli import app

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
