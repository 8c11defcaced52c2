"""JSON Lines may come gzip-compressed (told by the magic bytes, not the name): the answers the project ships import
as they are, an export named .gz is compressed, and data readers name the file and line in a compressed file."""

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.errors import DataError
from mentor.llm import ResponseStore
from mentor.readers import check_utf8, jsonl_objects, utf8_lines

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "bench" / "results" / "consult_gain_answers.jsonl.gz"
runner = CliRunner()


def test_the_shipped_answers_import_as_they_are_and_are_served(tmp_path):
    records = [json.loads(line) for line in gzip.open(SHIPPED, "rt", encoding="utf-8") if line.strip()]
    assert len(records) >= 1539
    store = tmp_path / "s.sqlite"
    result = runner.invoke(app, ["llm", "import", str(SHIPPED), "--store", str(store)])
    assert result.exit_code == 0 and f"imported {len(records)} answers" in result.output, result.output
    with ResponseStore(store) as db:
        for record in records:
            served = db.get(record["key"], run_id="replay")
            assert served is not None and served.text == record["text"] and served.label == record["label"]


def test_an_export_named_gz_is_gzip_and_imports_back(tmp_path):
    store, out = tmp_path / "s.sqlite", tmp_path / "answers.jsonl.gz"
    assert runner.invoke(app, ["llm", "import", str(SHIPPED), "--store", str(store)]).exit_code == 0
    result = runner.invoke(app, ["llm", "export", str(out), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    plain = tmp_path / "answers.jsonl"
    assert runner.invoke(app, ["llm", "export", str(plain), "--store", str(store)]).exit_code == 0
    assert gzip.decompress(out.read_bytes()) == plain.read_bytes()  # same lines, only compressed
    again = runner.invoke(app, ["llm", "import", str(out), "--store", str(tmp_path / "t.sqlite")])
    assert again.exit_code == 0 and f"imported {len(plain.read_text().splitlines())} answers" in again.output


def test_gzip_is_told_by_its_bytes_and_errors_name_file_and_line(tmp_path):
    lines = ['{"id": 1}', "", '{"id": 2}', "not json"]
    packed = tmp_path / "nodes.jsonl"  # no .gz in the name
    packed.write_bytes(gzip.compress("\n".join(lines).encode()))
    assert [text for _, text in utf8_lines(packed)] == [line + "\n" for line in lines[:-1]] + [lines[-1]]
    with pytest.raises(DataError, match=rf"{packed}, line 4: not valid JSON"):
        list(jsonl_objects(packed))
    cut = tmp_path / "cut.jsonl"
    whole = gzip.compress("\n".join(json.dumps({"id": i, "text": str(i**7)}) for i in range(5000)).encode())
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=rf"{cut}, line \d+: the gzip data is damaged or cut off"):
        list(jsonl_objects(cut))
    with pytest.raises(DataError, match="gzip-compressed; decompress it first"):
        check_utf8(packed)


def test_a_damaged_gzip_import_is_one_error_naming_the_file(tmp_path):
    cut = tmp_path / "answers.jsonl.gz"
    cut.write_bytes(SHIPPED.read_bytes()[:5000])
    store = tmp_path / "s.sqlite"
    result = runner.invoke(app, ["llm", "import", str(cut), "--store", str(store)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert str(cut) in " ".join(result.output.split()) and "gzip data is damaged or cut off" in result.output
    with ResponseStore(store) as db:
        assert len(db) == 0  # all or nothing
