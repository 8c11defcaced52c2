"""Corrupt response stores: every command that opens one either works or says, in one line, what is wrong."""

import os
import shutil
import sqlite3
import time

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.llm import ChatRequest, ResponseStore, StoreError
from mentor.llm.store import NEW_FILE_S
from mentor.llm.types import Completion, Usage

runner = CliRunner()
COMMANDS = (["llm", "stats"], ["llm", "check"], ["llm", "export"])


def _filled(path, answers: int = 400) -> None:
    with ResponseStore(path) as store:
        for i in range(answers):
            request = ChatRequest.from_prompt(f"question {i} " + "x" * 300)
            completion = Completion(key=request.key("test"), text=f"answer {i} " + "y" * 300, usage=Usage(),
                                    cost=0.0, latency_s=0.1, model="m", endpoint="e", created=time.time(),
                                    run_id="r")  # fmt: skip
            store.put(completion, request, "test")
    with sqlite3.connect(path) as db:  # fold the WAL into the main file, as a finished run leaves it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _damage_pages(path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(3 * page, len(data) - page, 5 * page):  # garbage over every fifth page past the schema
        data[start + 16 : start + page - 16] = bytes((i * 37) % 256 for i in range(page - 32))
    path.write_bytes(bytes(data))


def _run(args, path):
    return runner.invoke(app, [*args, "--store", str(path)])


def test_a_sound_store_checks_sound(tmp_path):
    path = tmp_path / "ok.sqlite"
    _filled(path, 20)
    result = _run(["llm", "check"], path)
    assert result.exit_code == 0 and "sound, 20 answers" in result.stdout


def test_an_empty_file_is_refused_not_taken_for_a_new_store(tmp_path):
    path = tmp_path / "zero.sqlite"
    path.write_bytes(b"")
    old = time.time() - NEW_FILE_S - 1  # a brand-new empty file may be a store another process is creating
    os.utime(path, (old, old))
    with pytest.raises(StoreError, match="empty file"):
        ResponseStore(path)
    for args in COMMANDS:
        result = _run(args, path)
        assert result.exit_code == 1 and "empty file (0 bytes)" in result.output and "Traceback" not in result.output
    assert path.stat().st_size == 0  # nothing was written into it


def test_an_empty_file_being_created_by_another_process_is_not_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    path.write_bytes(b"")  # just created: another process is about to write its header
    with ResponseStore(path) as store:
        assert len(store) == 0


@pytest.mark.parametrize("damage", ["pages", "truncated", "header"])
def test_a_damaged_store_gives_one_clear_error_in_every_command(tmp_path, damage):
    path = tmp_path / "store.sqlite"
    _filled(path)
    if damage == "pages":
        _damage_pages(path)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    else:
        path.write_bytes(b"not a database" + path.read_bytes()[14:])
    backup = tmp_path / "copy.sqlite"
    shutil.copy(path, backup)
    for args in COMMANDS:
        result = _run(args, path)
        assert result.exit_code in (0, 1) and "Traceback" not in result.output, (args, result.output)
        if result.exit_code:
            assert str(path) in result.output.replace("\n", "") or "store" in result.output
    check = _run(["llm", "check"], path)
    assert check.exit_code == 1 and isinstance(check.exception, SystemExit)  # the damage is found
    if damage == "pages":  # opens, but reading it fails: the error says so and how to save the answers
        stats = _run(["llm", "stats"], path)
        assert stats.exit_code == 1 and "damaged" in stats.output and "mentor llm export" in stats.output
        assert "mentor llm check" not in stats.output  # check would only say the same: no circle
