"""Per-answer timings: the model's own time rather than the wait behind other requests, split into the prompt's
evaluation and decoding where the backend can tell, kept with the answer in the store and its exports."""

import asyncio
import io
import json
import sqlite3
import time

import pytest

from mentor.llm import ChatRequest, LLMClient, LLMConfig, ResponseStore, Timings
from mentor.llm.backends.base import Backend, RawCompletion
from mentor.llm.store import _SCHEMA
from tests.llm.fault_server import FaultServer

TIMINGS = Timings(model_s=0.05, prefill_s=0.01, decode_s=0.04, prompt_eval_tokens=12, generated_tokens=4)


class _Timed(Backend):
    """Takes 0.2 s to answer, of which it reports 0.05 s as the model's own time."""

    model, endpoint = "fake", "http://fake/v1"

    @property
    def identity(self) -> str:
        return "fake"

    async def complete(self, request: ChatRequest) -> RawCompletion:
        await asyncio.sleep(0.2)
        return RawCompletion(text="t", prompt_tokens=30, completion_tokens=5, timings=TIMINGS)


def _export(path) -> list[dict]:
    with ResponseStore(path) as store:
        out = io.StringIO()
        store.export_jsonl(out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _import(path, records: list[dict]) -> tuple[int, int]:
    with ResponseStore(path) as store:
        return store.import_jsonl([json.dumps(record) for record in records])


def test_the_answer_takes_the_models_own_time_and_keeps_its_timings(tmp_path):
    request = ChatRequest.from_prompt("q")
    with LLMClient(LLMConfig(llm="openai:fake"), store=tmp_path / "s.sqlite", backend=_Timed()) as client:
        fresh = client.complete(request)
        cached = client.complete(request)
        assert client.store.mean_latency("fake") == (1, pytest.approx(0.05))
    assert fresh.timings == TIMINGS and fresh.latency_s == pytest.approx(0.05)  # not the 0.2 s round trip
    assert cached.cached and cached.timings == TIMINGS and cached.latency_s == pytest.approx(0.05)
    [record] = _export(tmp_path / "s.sqlite")
    assert record["timings"] == TIMINGS.model_dump()
    assert _import(tmp_path / "copy.sqlite", [record]) == (1, 0)
    with ResponseStore(tmp_path / "copy.sqlite") as store:
        assert store.get(record["key"], run_id="r").timings == TIMINGS
        [stats] = store.stats()
    assert stats.timed == 1 and stats.mean_prefill_s == pytest.approx(0.01) and stats.mean_decode_s == 0.04
    assert stats.mean_prompt_eval_tokens == 12 and stats.mean_latency_s == pytest.approx(0.05)


def test_an_export_without_timings_imports_and_bad_timings_are_refused(tmp_path):
    with LLMClient(LLMConfig(llm="openai:fake"), store=tmp_path / "s.sqlite", backend=_Timed()) as client:
        client.complete(ChatRequest.from_prompt("q"))
    [record] = _export(tmp_path / "s.sqlite")
    older = {k: v for k, v in record.items() if k not in ("timings", "label_probs")}  # made before either existed
    assert _import(tmp_path / "older.sqlite", [older]) == (1, 0)
    with ResponseStore(tmp_path / "older.sqlite") as store:
        assert store.get(record["key"], run_id="r").timings is None
    for bad in ({"model_s": "0.5"}, {"prefill_s": -1.0}, [0.5], "fast", {"generated_tokens": 2.5},
                {"prompt_eval_tokens": True}):  # fmt: skip
        with ResponseStore(tmp_path / "bad.sqlite") as store, pytest.raises(Exception, match="timings"):
            store.import_jsonl([json.dumps({**record, "timings": bad})])


def _legacy_store(path, *, label_probs: bool) -> str:
    """A store as an earlier mentor wrote it: without ``timings`` (and without ``label_probs`` unless asked), one
    answer in it; returns its key."""
    schema = _SCHEMA.replace(",\n    timings TEXT", "")
    if not label_probs:
        schema = schema.replace(",\n    label_probs TEXT", "")
    assert "timings" not in schema
    request = ChatRequest.from_prompt("old question")
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        row = (request.key("id"), "m", "id", "e", request.model_dump_json(), "old answer", None, None, 0, 1, 2, 0.0,
               10.0, 5.0, "r") + ((None,) if label_probs else ())  # fmt: skip
        db.execute(f"INSERT INTO responses VALUES ({', '.join('?' * len(row))})", row)
    return request.key("id")


@pytest.mark.parametrize("label_probs", [False, True], ids=["before-label-probs", "before-timings"])
def test_a_store_from_before_timings_reads_gains_the_column_and_exchanges_answers(tmp_path, label_probs):
    path = tmp_path / "old.sqlite"
    key = _legacy_store(path, label_probs=label_probs)
    before = path.read_bytes()
    with ResponseStore(path, readonly=True) as store:  # read as it is: nothing written
        answer = store.get(key, run_id="r")
        assert answer.text == "old answer" and answer.timings is None and answer.latency_s == 10.0
        [record] = store.iter_records()
        assert record["timings"] is None and store.check() == []
        assert store.stats()[0].timed == 0 and store.mean_latency("id") == (1, 10.0)
    assert path.read_bytes() == before
    with ResponseStore(path) as store:
        assert store.get(key, run_id="r").timings is None and store.check() == []
        new = ChatRequest.from_prompt("new question")
        with LLMClient(LLMConfig(llm="openai:fake"), store=store, backend=_Timed()) as client:
            assert client.complete(new).timings == TIMINGS
        # the answer with timings is the model's own time: the mean leaves out the older one, which was not
        assert store.mean_latency("fake") == (1, pytest.approx(0.05)) and store.mean_latency("id") == (1, 10.0)
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(responses)")}
    assert {"label_probs", "timings"} <= columns
    records = _export(path)
    assert [r["timings"] for r in records] == [None, TIMINGS.model_dump(exclude_none=True)]
    assert _import(tmp_path / "copy.sqlite", records) == (2, 0)


def _http_client(server: FaultServer, store_path) -> LLMClient:
    return LLMClient(LLMConfig(llm="openai:fake", base_url=server.base_url, timeout_s=5.0), store=store_path)


def test_a_llama_cpp_servers_timings_are_recorded(store_path):
    timings = {"prompt_n": 40, "prompt_ms": 120.5, "predicted_n": 7, "predicted_ms": 350.0,
               "prompt_per_second": 331.9, "cache_n": 12}  # fmt: skip
    with FaultServer(reply_extra={"timings": timings}) as server, _http_client(server, store_path) as client:
        fresh = client.complete(ChatRequest.from_prompt("hello", max_tokens=8))
        cached = client.complete(ChatRequest.from_prompt("hello", max_tokens=8))
    t = fresh.timings
    assert fresh.ok and t.prefill_s == pytest.approx(0.1205) and t.prompt_eval_tokens == 40
    assert t.decode_s == pytest.approx(0.35) and t.generated_tokens == 7
    assert 0 < t.model_s < 5 and fresh.latency_s == t.model_s
    assert cached.cached and cached.timings == t


@pytest.mark.parametrize("llama_server", [True, False], ids=["llama.cpp", "other"])
def test_only_a_server_known_as_llama_cpp_is_asked_to_keep_the_prompt_cached(store_path, llama_server):
    """``cache_prompt`` lets a llama.cpp server reuse the shared prefix of the next prompt; another server could
    refuse an unknown field, so it is sent only after a reply carried llama.cpp's ``timings``."""
    extra = {"timings": {"prompt_n": 4, "prompt_ms": 1.0}} if llama_server else {}
    with FaultServer(reply_extra=extra) as server, _http_client(server, store_path) as client:
        for word in ("one", "two", "three"):
            assert client.complete(ChatRequest.from_prompt(word, max_tokens=8)).ok
    assert [r["cache_prompt"] for r in server.requests] == ([None, True, True] if llama_server else [None] * 3)


def test_cached_prompt_tokens_reported_in_usage_are_left_out_of_those_evaluated(store_path):
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
             "prompt_tokens_details": {"cached_tokens": 16}}  # fmt: skip
    with FaultServer(reply_extra={"usage": usage}) as server, _http_client(server, store_path) as client:
        result = client.complete(ChatRequest.from_prompt("hello", max_tokens=8))
    assert result.ok and result.usage.prompt_tokens == 20 and result.timings.prompt_eval_tokens == 4


@pytest.mark.parametrize(
    "timings",
    [
        {"prompt_ms": "120", "prompt_n": "40", "predicted_ms": -5, "predicted_n": -1},
        [1, 2, 3],
        "fast",
        {"prompt_ms": float("inf"), "prompt_n": 2.5, "predicted_n": True, "predicted_ms": None},
        {"prompt_n": 10**400, "predicted_ms": {"ms": 3}, "predicted_n": [7]},
        None,
    ],
    ids=["strings-negatives", "list", "string", "inf-fraction-bool", "huge-nested", "null"],
)
def test_malformed_server_timings_are_ignored(store_path, timings):
    with FaultServer(reply_extra={"timings": timings}) as server, _http_client(server, store_path) as client:
        result = client.complete(ChatRequest.from_prompt("hello", max_tokens=8))
    assert result.ok, result
    assert result.timings.model_s > 0 and result.latency_s == result.timings.model_s
    assert result.timings.model_dump(exclude_none=True).keys() == {"model_s"}
    with ResponseStore(store_path) as store:
        assert store.get(result.key, run_id="r").timings == result.timings and store.check() == []


@pytest.mark.slow
def test_a_local_model_times_each_answer_without_the_queue(store_path):
    """Four answers at once from one in-process model, which answers one at a time: each answer's time is its own,
    not its wait behind the others, so together they take no longer than the batch did."""
    system = "You are a terse assistant who answers every question with a single short word. " * 3
    requests = [ChatRequest.from_prompt(f"Name a colour ({i}).", system=system, max_tokens=12) for i in range(4)]
    config = LLMConfig(llm="local:smollm2-135m", concurrency=4, n_ctx=1024)
    with LLMClient(config, store=store_path) as client:
        assert client.count_tokens("warm up")[1]  # loads the model: the batch's time is the answers' alone
        started = time.perf_counter()
        results = client.complete_many(requests)
        wall = time.perf_counter() - started
        stored = [client.store.get(r.key, run_id="again") for r in results]
    assert all(r.ok for r in results), results
    assert sum(r.latency_s for r in results) <= 1.2 * wall, ([r.latency_s for r in results], wall)
    for result in results:
        t = result.timings
        assert result.latency_s == t.model_s and t.prefill_s > 0 and t.decode_s > 0
        assert t.prompt_eval_tokens > 0 and t.generated_tokens > 0
        assert t.prefill_s + t.decode_s <= t.model_s * 1.05
    # every answer after the first reuses the shared system prompt from the model's cache
    reused = [r.timings.prompt_eval_tokens < r.usage.prompt_tokens for r in results]
    assert sum(reused) >= len(results) - 1, [(r.timings, r.usage) for r in results]
    assert [s.timings for s in stored] == [r.timings for r in results]
