import io
import json
import sqlite3
import time

import pytest

from mentor.llm import ChatRequest, Completion, Failure, Labels, ResponseStore, StoreError, Usage

IDENTITY = "gguf:abc"


def _answer(request: ChatRequest, text: str = '{"label": "a", "explanation": "x"}', run_id: str = "r1"):
    return Completion(
        key=request.key(IDENTITY), text=text, parsed={"label": "a", "explanation": "x"}, label="a",
        usage=Usage(prompt_tokens=10, completion_tokens=5), cost=0.01, latency_s=0.5, model="m",
        endpoint="local", created=time.time(), run_id=run_id,
    )  # fmt: skip


def _request(prompt: str = "q") -> ChatRequest:
    return ChatRequest.from_prompt(prompt, output=Labels(labels=("a", "b")))


def test_answers_persist_across_reopen_and_hits_are_logged(store_path):
    request = _request()
    with ResponseStore(store_path) as store:
        assert store.get(request.key(IDENTITY), run_id="r1") is None
        store.put(_answer(request), request, IDENTITY)
    with ResponseStore(store_path) as store:
        got = store.get(request.key(IDENTITY), run_id="r2")
        assert got is not None and got.cached and got.label == "a" and got.usage.prompt_tokens == 10
        [stats] = store.stats()
        assert (stats.calls, stats.hits, stats.prompt_tokens, stats.completion_tokens) == (1, 1, 10, 5)
        assert stats.hit_rate == 0.5
        assert store.stats("r2")[0].calls == 0


def test_wal_mode(store_path):
    ResponseStore(store_path).close()
    assert sqlite3.connect(store_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_key_depends_on_model_messages_decoding_and_schema():
    base = _request()
    keys = {
        base.key(IDENTITY),
        base.key("gguf:other"),
        _request("q2").key(IDENTITY),
        ChatRequest.from_prompt("q", output=Labels(labels=("a", "c"))).key(IDENTITY),
        ChatRequest.from_prompt("q", output=Labels(labels=("a", "b")), seed=1).key(IDENTITY),
        ChatRequest.from_prompt("q", output=Labels(labels=("a", "b")), max_tokens=9).key(IDENTITY),
    }
    assert len(keys) == 6
    assert base.key(IDENTITY) == _request().key(IDENTITY)


def test_failures_are_recorded_but_never_served(store_path):
    request = _request()
    with ResponseStore(store_path) as store:
        failure = Failure(key=request.key(IDENTITY), reason="timeout", detail="slow", attempts=1, model="m")
        store.record_failure(failure, run_id="r1")
        assert store.get(request.key(IDENTITY), run_id="r1") is None
        assert store.failure_reasons() == {"timeout": 1}
        assert store.stats()[0].failures == 1


def test_export_import_round_trip(tmp_path):
    requests = [_request(f"q{i}") for i in range(3)]
    with ResponseStore(tmp_path / "a.sqlite") as source:
        for request in requests:
            source.put(_answer(request), request, IDENTITY)
        buffer = io.StringIO()
        assert source.export_jsonl(buffer) == 3
    with ResponseStore(tmp_path / "b.sqlite") as target:
        assert target.import_jsonl(io.StringIO(buffer.getvalue())) == (3, 0)
        assert target.import_jsonl(io.StringIO(buffer.getvalue())) == (0, 3)
        for request in requests:
            assert target.get(request.key(IDENTITY), run_id="x").text == _answer(request).text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: "not json", "line 2: not valid JSON"),
        (
            lambda r: json.dumps({k: v for k, v in r.items() if k != "text"}),
            r"line 2: missing field\(s\) text",
        ),
        (lambda r: json.dumps({**r, "prompt_tokens": -1}), "line 2: field 'prompt_tokens'"),
        (lambda r: json.dumps({**r, "key": "0" * 64}), "line 2: field 'key' does not match"),
        (lambda r: json.dumps({**r, "request": {"messages": []}}), "line 2: field 'request'"),
    ],
)
def test_bad_import_names_the_line_and_adds_nothing(tmp_path, mutate, message):
    with ResponseStore(tmp_path / "a.sqlite") as source:
        for prompt in ("q1", "q2"):
            source.put(_answer(_request(prompt)), _request(prompt), IDENTITY)
        records = list(source.iter_records())
    lines = [json.dumps(records[0]), mutate(records[1])]
    with ResponseStore(tmp_path / "b.sqlite") as target:
        with pytest.raises(StoreError, match=message):
            target.import_jsonl(io.StringIO("\n".join(lines)), name="shared.jsonl")
        assert len(target) == 0


def test_a_file_that_is_not_a_store_is_reported(tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("this is not a database" * 100)
    with pytest.raises(StoreError, match="notes.sqlite"):
        ResponseStore(bogus)


def test_a_closed_store_says_so_rather_than_damaged(store_path):
    store = ResponseStore(store_path)
    store.close()
    with pytest.raises(StoreError, match="used after it was closed"):
        store.check()
