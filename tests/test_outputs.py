"""Run outputs are written whole or not at all, and a failure names the user's file."""

import errno

import pytest

from mentor.outputs import write_text


def test_a_name_too_long_for_the_file_system_names_the_file_not_a_temporary_one(tmp_path):
    target = tmp_path / ("x" * 300 + ".jsonl")
    with pytest.raises(OSError) as caught:
        write_text(target, "data")
    assert caught.value.errno == errno.ENAMETOOLONG and caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_a_file_is_written_whole(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "data")
    assert target.read_text() == "data" and list(tmp_path.iterdir()) == [target]
