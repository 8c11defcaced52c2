"""A store with one bad row: `check` finds it, reading skips it (naming it once), export saves every other answer,
and the next answer for its key replaces it."""

import logging
import sqlite3
import time

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.llm import ChatRequest, Completion, Labels, LLMClient, LLMConfig, ResponseStore, Usage

runner = CliRunner()
LABELS = Labels(labels=("a", "b"))


def _fill(path, count: int = 8, identity: str = "test") -> list[str]:
    keys = []
    with ResponseStore(path) as store:
        for i in range(count):
            request = ChatRequest.from_prompt(f"question {i} [answer:b]", output=LABELS)
            key = request.key(identity)
            completion = Completion(
                key=key, text='{"label": "b", "explanation": "x"}', parsed={"label": "b", "explanation": "x"},
                label="b", usage=Usage(), cost=0.0, latency_s=0.1, model="m", endpoint="e", created=time.time() + i,
                run_id="r",
            )  # fmt: skip
            store.put(completion, request, identity)
            keys.append(key)
    return keys


def _spoil(path, key: str | None, sql: str = 'UPDATE responses SET parsed = \'{"label": "b", \' WHERE key = ?'):
    with sqlite3.connect(path) as db:
        db.execute(sql, () if key is None else (key,))


def _cli(*args):
    result = runner.invoke(app, ["llm", *args])
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError | KeyError), result.output
    return result


def test_check_decodes_every_row(tmp_path):
    path = tmp_path / "s.sqlite"
    keys = _fill(path)
    _spoil(path, keys[3])
    result = _cli("check", "--store", str(path))
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "sound, " not in flat
    assert keys[3] in flat and "'parsed' is not valid JSON" in flat and "mentor llm export" in flat
    assert "mentor llm check" not in flat


def test_check_finds_a_dropped_column(tmp_path):
    path = tmp_path / "s.sqlite"
    _fill(path)
    _spoil(path, None, "ALTER TABLE responses DROP COLUMN label")
    result = _cli("check", "--store", str(path))
    assert result.exit_code == 1 and "table 'responses' lacks column(s) label" in " ".join(result.output.split())


@pytest.mark.parametrize("column", ["label", "parsed", "repaired", "latency_s", "run_id"])
def test_export_salvages_every_answer_of_a_store_that_lost_a_column(tmp_path, column):
    path = tmp_path / "s.sqlite"
    keys = _fill(path)
    _spoil(path, None, f"ALTER TABLE responses DROP COLUMN {column}")
    out = tmp_path / "saved.jsonl"
    result = _cli("export", str(out), "--store", str(path))
    assert result.exit_code == 0 and f"lacks column(s) {column}" in " ".join(result.output.split()), result.output
    with ResponseStore(tmp_path / "new.sqlite") as new:
        assert new.import_jsonl(out.read_text().splitlines()) == (8, 0)
        answers = [new.get(key, run_id="t") for key in keys]
    assert all(a.label == "b" and a.parsed == {"label": "b", "explanation": "x"} for a in answers)


def test_a_store_that_lost_its_requests_is_one_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    _fill(path)
    _spoil(path, None, "ALTER TABLE responses DROP COLUMN request")
    result = _cli("export", str(tmp_path / "saved.jsonl"), "--store", str(path))
    assert result.exit_code == 1 and "lacks column(s) request" in " ".join(result.output.split())


@pytest.mark.parametrize("sql", [
    "UPDATE responses SET parsed = '{\"label\": \"b\", ' WHERE key = ?",
    "UPDATE responses SET label_probs = 'NaN!' WHERE key = ?",
    "UPDATE responses SET text = X'00ff' WHERE key = ?",
])  # fmt: skip
def test_export_salvages_every_readable_answer_and_names_the_rest(tmp_path, sql):
    path = tmp_path / "s.sqlite"
    keys = _fill(path)
    _spoil(path, keys[5], sql)
    out = tmp_path / "saved.jsonl"
    result = _cli("export", str(out), "--store", str(path))
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "1 stored answer(s) cannot be read" in flat and keys[5] in flat
    assert "exported the 7 readable ones" in flat
    with ResponseStore(tmp_path / "new.sqlite") as new:
        assert new.import_jsonl(out.read_text().splitlines()) == (7, 0)
        assert keys[5] not in new and all(key in new for key in keys if key != keys[5])


def test_reading_skips_a_bad_row_once_and_a_new_answer_replaces_it(tmp_path, fault_server, caplog):
    path = tmp_path / "s.sqlite"
    config = LLMConfig(llm="openai:fake", base_url=fault_server.base_url, timeout_s=30)
    requests = [ChatRequest.from_prompt(f"question {i} [answer:b]", output=LABELS) for i in range(3)]
    with LLMClient(config, store=path) as client:
        identity = client.identity
    keys = _fill(path, 3, identity)
    _spoil(path, keys[1])
    with caplog.at_level(logging.WARNING, logger="mentor.llm.store"), LLMClient(config, store=path) as client:
        first = client.complete_many(requests)
        again = client.complete_many(requests)
    assert all(r.ok and r.label == "b" for r in first + again)
    assert [r.cached for r in first] == [True, False, True] and all(r.cached for r in again)
    assert fault_server.count("question") == 1  # only the unreadable answer was asked again
    [warning] = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert keys[1] in warning and str(path) in warning and "not valid JSON" in warning
    assert _cli("check", "--store", str(path)).exit_code == 0  # replaced by the new answer


def test_a_damaged_page_still_gives_the_readable_answers(tmp_path):
    from tests.reliability.test_store_corruption import _damage_pages, _filled

    path = tmp_path / "s.sqlite"
    _filled(path)
    _damage_pages(path)
    out = tmp_path / "saved.jsonl"
    result = _cli("export", str(out), "--store", str(path))
    assert result.exit_code == 1 and "cannot be read" in result.output
    saved = len(out.read_text().splitlines())
    assert 0 < saved < 400
