"""Broken inputs get one clear error naming the place; outputs are checked before any work; PyG never unpickles
anything from the user's data root."""

import json
import os
import shutil
import time

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.graph import DataError
from mentor.graph.datasets import load_files
from mentor.outputs import STALE_TMP_S, OutputError, prepare_output_dir
from tests.conftest import shared_data_root
from tests.reliability.planted import planted_pickle

runner = CliRunner()


def test_pickles_planted_in_the_data_root_are_never_loaded(tmp_path, monkeypatch):
    source = shared_data_root("planetoid/Cora/raw")
    root = tmp_path / "data"
    shutil.copytree(source / "planetoid" / "Cora" / "raw", root / "planetoid" / "Cora" / "raw")
    processed = root / "planetoid" / "Cora" / "processed"
    processed.mkdir()
    marker = tmp_path / "code-ran"
    for name in ("pre_transform.pt", "pre_filter.pt", "data.pt"):
        (processed / name).write_bytes(planted_pickle(marker))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    monkeypatch.setenv("MENTOR_CACHE_DIR", str(tmp_path / "cache"))
    result = runner.invoke(app, ["data", "describe", "planetoid:Cora", "--data-root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nodes"] == 2708
    assert not marker.exists()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written into the data root


def test_an_out_that_is_a_file_fails_before_any_work(tmp_path):
    out = tmp_path / "result"
    out.write_text("not a directory")
    started = time.monotonic()
    result = runner.invoke(app, ["consult", "synthetic:num_nodes=60", "--features", "bow", "--out", str(out),
                                 "--llm", "openai:none", "--llm-base-url", "http://127.0.0.1:9/v1"])  # fmt: skip
    assert result.exit_code == 1 and "exists and is not a directory" in result.output
    assert "Traceback" not in result.output and time.monotonic() - started < 20
    assert out.read_text() == "not a directory"


def test_stale_temporary_files_are_removed_and_replaced_outputs_announced(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale, fresh = out / ".accuracy_vs_calls.png.abc123.tmp", out / ".result.json.def456.tmp"
    stale.write_bytes(b"")
    fresh.write_bytes(b"")
    old = time.time() - STALE_TMP_S - 5
    os.utime(stale, (old, old))
    (out / "result.json").write_text("{}")
    notes = prepare_output_dir(out, ("result.json", "consultations.jsonl"))
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a run still writing
    assert notes and "result.json" in notes[0] and "consultations.jsonl" not in notes[0]
    with pytest.raises(OutputError):
        prepare_output_dir(out / "result.json")


def _graph_dir(directory, nodes, edges="a b\n"):
    directory.mkdir()
    (directory / "nodes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in nodes))
    (directory / "edges.txt").write_text(edges)
    return directory


def test_a_non_utf8_byte_is_reported_on_its_line(tmp_path):
    nodes = [{"id": f"n{i}", "text": f"page {i}", "label": "x" if i % 2 else "y"} for i in range(60)]
    directory = _graph_dir(tmp_path / "g", nodes, edges="n1 n2\n")
    lines = (directory / "nodes.jsonl").read_bytes().splitlines(keepends=True)
    lines[40] = lines[40].replace(b"page", b"p\xe9ge")
    (directory / "nodes.jsonl").write_bytes(b"".join(lines))
    with pytest.raises(DataError, match=r"line 41: not UTF-8: byte 0xe9 at column \d+"):
        load_files(directory)
    (directory / "nodes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in nodes))
    (directory / "edges.txt").write_bytes(b"n1 n2\nn2 n3\nn\xff4 n5\n")
    with pytest.raises(DataError, match=r"edges.txt, line 3: not UTF-8"):
        load_files(directory)


def test_a_graph_without_edges_describes_as_valid_json(tmp_path):
    nodes = [{"id": f"n{i}", "text": f"page {i}", "label": "x" if i % 2 else "y"} for i in range(10)]
    directory = _graph_dir(tmp_path / "g", nodes, edges="")
    result = runner.invoke(app, ["data", "describe", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))["edge_homophily"] is None


def test_a_tiny_split_is_warned_about_with_what_one_node_is_worth(tmp_path):
    nodes = [{"id": f"n{i}", "text": f"page about topic {i % 2}", "label": "x" if i % 2 else "y"} for i in range(33)]
    directory = _graph_dir(tmp_path / "g", nodes, edges="n1 n2\nn3 n4\n")
    result = runner.invoke(app, ["train", str(directory), "--features", "bow", "--epochs", "5"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning" in text and "the validation part has 7 nodes: one node is 14.3 accuracy points" in text
    assert "the test part has 6 nodes: one node is 16.7 accuracy points" in text
