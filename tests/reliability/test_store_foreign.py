"""Only mentor's own stores are used: marked with an application id and schema version; a SQLite file of another
program, or a store of a newer mentor, is refused untouched; an unmarked store of an earlier mentor is marked."""

import sqlite3

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.llm import ChatRequest, ResponseStore, StoreError
from mentor.llm.store import _SCHEMA, APPLICATION_ID, SCHEMA_VERSION

runner = CliRunner()


def _pragmas(path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]


def _unchanged(path):
    """The bytes of ``path`` and the names beside it, to compare before and after."""
    return path.read_bytes(), sorted(p.name for p in path.parent.iterdir())


def test_a_new_store_is_marked(tmp_path):
    ResponseStore(tmp_path / "s.sqlite").close()
    assert _pragmas(tmp_path / "s.sqlite") == (APPLICATION_ID, SCHEMA_VERSION)


def test_an_unmarked_store_of_an_earlier_mentor_is_marked_and_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # as mentor wrote stores before they were marked (and before label_probs)
        db.executescript(_SCHEMA.replace(",\n    label_probs TEXT,\n    timings TEXT", ""))
        db.execute("INSERT INTO claims VALUES ('k', 'h:1:r', 0)")
        request = ChatRequest.from_prompt("old question")
        db.execute("INSERT INTO responses VALUES (?, 'm', 'id', 'e', ?, 'old answer', NULL, NULL, 0, 1, 2, 0, 0.1, 5,"
                   " 'r')", (request.key("id"), request.model_dump_json()))  # fmt: skip
    assert _pragmas(path) == (0, 0)
    before = _unchanged(path)
    with ResponseStore(path, readonly=True) as store:  # read as it is, not marked or migrated
        [record] = store.iter_records()
        assert record["text"] == "old answer" and record["label_probs"] is None and record["timings"] is None
        assert store.check() == []
    assert _unchanged(path) == before
    with ResponseStore(path) as store:
        assert len(store) == 1 and [c.key for c in store.claims()] == ["k"] and store.check() == []
    assert _pragmas(path) == (APPLICATION_ID, SCHEMA_VERSION)


ASK = ["llm", "ask", "q", "--llm", "openai:fake", "--llm-base-url", "http://127.0.0.1:9"]


@pytest.mark.parametrize("command", [["llm", "stats"], ["llm", "check"], ["llm", "export"], ["llm", "import"], ASK])
def test_a_sqlite_file_of_another_program_is_refused_untouched(tmp_path, command):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes (body) VALUES ('mine')")
    before = _unchanged(path)
    if command[1] == "import":
        export = tmp_path / "empty.jsonl"
        export.write_text("")
        command = [*command, str(export)]
        before = _unchanged(path)
    result = runner.invoke(app, [*command, "--store", str(path)])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "not a mentor response store" in flat and "notes" in flat and "left untouched" in flat
    assert _unchanged(path) == before


def test_a_database_of_another_program_by_its_application_id_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA application_id = 1234")
        db.executescript(_SCHEMA)  # even with tables named like mentor's
    before = _unchanged(path)
    with pytest.raises(StoreError, match="another program, application_id 0x000004d2"):
        ResponseStore(path)
    assert _unchanged(path) == before


def test_a_store_of_a_newer_mentor_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    ResponseStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = _unchanged(path)
    for readonly in (None, True):
        with pytest.raises(StoreError, match=f"newer mentor \\(store schema version {SCHEMA_VERSION + 1}"):
            ResponseStore(path, readonly=readonly)
    assert _unchanged(path) == before
