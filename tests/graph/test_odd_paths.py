"""Odd things where a data file or graph directory is expected get an error saying what is actually there."""

import os

import pytest
from typer.testing import CliRunner

from mentor.cli import app

runner = CliRunner()


def _graph(directory):
    directory.mkdir()
    (directory / "nodes.jsonl").write_text('{"id": "a", "text": "page a", "label": "x"}\n')
    (directory / "edges.txt").write_text("")
    return directory


def _describe(path, *extra):
    result = runner.invoke(app, ["data", "describe", str(path), *extra])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    return " ".join(result.output.split())


def test_a_directory_named_like_the_nodes_file(tmp_path):
    directory = tmp_path / "g"
    directory.mkdir()
    (directory / "nodes.csv").mkdir()
    (directory / "edges.txt").write_text("")
    assert f"{directory / 'nodes.csv'}: is a directory, expected a file" in _describe(directory)


@pytest.mark.parametrize("name", ["nodes.jsonl", "edges.txt", "classes.txt"])
def test_a_symlink_loop_or_broken_link_inside_a_graph_directory(tmp_path, name):
    directory = _graph(tmp_path / "g")
    (directory / name).unlink(missing_ok=True)
    os.symlink(name, directory / name)
    assert f"{directory / name}: cannot be opened: Too many levels of symbolic links" in _describe(directory)
    (directory / name).unlink()
    os.symlink("elsewhere.txt", directory / name)
    assert f"{directory / name}: is a broken symbolic link (to elsewhere.txt)" in _describe(directory)


def test_a_directory_named_classes_txt_is_not_ignored(tmp_path):
    directory = _graph(tmp_path / "g")
    (directory / "classes.txt").mkdir()
    assert f"{directory / 'classes.txt'}: is a directory, expected a file" in _describe(directory)


def test_a_symlink_loop_given_as_the_data_set(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    message = _describe(tmp_path / "loop")
    assert f"{tmp_path / 'loop'}: cannot be opened: Too many levels of symbolic links" in message
    assert "unknown data set" not in message


def test_a_file_given_as_the_data_set(tmp_path):
    directory = _graph(tmp_path / "g")
    message = _describe(directory / "nodes.jsonl")
    assert f"{directory / 'nodes.jsonl'}: is a file; a graph of your own is the directory holding" in message


def test_a_data_root_whose_file_is_a_symlink_loop(tmp_path):
    text = tmp_path / "root" / "webkb" / "cornell" / "cstag_text" / "Cornell.csv"
    text.parent.mkdir(parents=True)
    os.symlink(text.name, text)
    message = _describe("cornell", "--data-root", str(tmp_path / "root"))
    assert f"{text}: WebKB Cornell page text cannot be opened: Too many levels of symbolic links" in message
