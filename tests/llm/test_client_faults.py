"""The client against a scripted server that injects faults: every fault is retried or becomes a Failure."""

import asyncio
import gc
import sqlite3
import time

import pytest

from mentor.llm import BudgetLimits, ChatRequest, Labels, LLMClient, LLMConfig
from mentor.llm.backends.base import Backend, RawCompletion
from tests.llm.fault_server import FaultServer

LABELS = Labels(labels=("a", "b", "c"))


def _client(server: FaultServer, store_path, **overrides) -> LLMClient:
    config = {
        "llm": "openai:fake",
        "base_url": server.base_url,
        "timeout_s": 5.0,
        "max_retries": 2,
        **overrides,
    }
    return LLMClient(LLMConfig(**config), store=store_path)


def _ask(prompt: str, output=LABELS, **decoding) -> ChatRequest:
    return ChatRequest.from_prompt(prompt, output=output, **decoding)


def test_answer_is_parsed_stored_and_then_served_from_the_store(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        first = client.complete(_ask("q1 [answer:b]"))
        second = client.complete(_ask("q1 [answer:b]"))
    assert first.ok and first.label == "b" and not first.cached
    assert second.ok and second.cached and second.text == first.text
    assert fault_server.count("q1") == 1
    with _client(fault_server, store_path) as client:  # a new process/run reuses it too
        assert client.complete(_ask("q1 [answer:b]")).cached
    assert fault_server.count("q1") == 1


def test_429_is_retried_after_retry_after(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        assert client.complete(_ask("warm-up")).ok  # settles the structured-output mode first
        started = time.monotonic()
        result = client.complete(_ask("q [fault:429x1] [answer:c]"))
    assert result.ok and result.label == "c"
    assert time.monotonic() - started >= 0.9  # waited for Retry-After: 1
    assert fault_server.count("q [fault:429x1]") == 2


def test_transient_500_is_retried(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        assert client.complete(_ask("q [fault:500x2]")).ok
    assert fault_server.count("q [fault:500x2]") == 3


def test_persistent_500_becomes_a_failure_and_is_not_cached(fault_server, store_path):
    with _client(fault_server, store_path, max_retries=1) as client:
        assert client.complete(_ask("warm-up")).ok
        result = client.complete(_ask("q [fault:500]"))
        assert not result.ok and result.reason == "server_error"
        assert result.key not in client.store
        assert client.store.failure_reasons() == {"server_error": 1}
        assert client.store.stats()[0].failures == 1
        again = client.complete(_ask("q [fault:500]"))  # asked again, not served a cached failure
    assert not again.ok
    assert fault_server.count("q [fault:500]") == 4


def test_hang_past_the_timeout_is_a_timeout_failure(store_path):
    with (
        FaultServer(hang_s=3.0) as server,
        _client(server, store_path, timeout_s=0.5, max_retries=0) as client,
    ):
        result = client.complete(_ask("q [fault:hang]"))
    assert not result.ok and result.reason == "timeout"


def test_connection_refused_is_a_connection_failure(store_path):
    with FaultServer() as server:
        url = server.base_url
    config = LLMConfig(llm="openai:fake", base_url=url, max_retries=0, timeout_s=2)
    with LLMClient(config, store=store_path) as client:
        result = client.complete(_ask("q"))
    assert not result.ok and result.reason == "connection"


def test_truncated_json_keeps_the_label(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        result = client.complete(_ask("q [fault:truncate] [answer:b]"))
    assert result.ok and result.label == "b" and result.repaired
    assert result.parsed["explanation"] == "Because the text"


@pytest.mark.parametrize(
    ("fault", "reason"), [("garbage", "malformed_output"), ("badlabel", "invalid_label"), ("empty", "empty")]
)
def test_unusable_answers_are_reasked_then_recorded_as_failures(fault_server, store_path, fault, reason):
    with _client(fault_server, store_path, invalid_output_retries=1) as client:
        result = client.complete(_ask(f"q [fault:{fault}]"))
        assert not result.ok and result.reason == reason and result.attempts == 2
        assert result.key not in client.store
        assert client.usage()["requests"] == 2 and client.usage()["new_calls"] == 0  # both requests were paid for
    assert fault_server.count(f"q [fault:{fault}]") == 2


def test_budget_stops_new_calls_but_keeps_and_serves_stored_answers(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        assert client.complete(_ask("old [answer:a]")).ok
    limited = LLMConfig(
        llm="openai:fake", base_url=fault_server.base_url, concurrency=1, limits=BudgetLimits(max_calls=2)
    )
    with LLMClient(limited, store=store_path) as client:
        results = client.complete_many([_ask(f"new{i}") for i in range(4)] + [_ask("old [answer:a]")])
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert {r.reason for r in results if not r.ok} == {"budget"}
    assert "limit is 2" in results[2].detail
    assert results[4].cached
    assert fault_server.count("new") == 2


def test_batch_runs_concurrently_up_to_the_limit(store_path):
    with FaultServer(delay_s=0.3) as server, _client(server, store_path, concurrency=4) as client:
        started = time.monotonic()
        results = client.complete_many([_ask(f"q{i}") for i in range(8)])
        elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert [r.key for r in results] == [_ask(f"q{i}").key(client.identity) for i in range(8)]
    assert elapsed < 8 * 0.3  # not one after another
    assert server.max_in_flight == 4


def test_identical_requests_in_flight_are_sent_once(store_path):
    with FaultServer(delay_s=0.2) as server, _client(server, store_path) as client:
        results = client.complete_many([_ask("same")] * 3)
    assert all(r.ok for r in results) and server.count("same") == 1
    assert sum(r.cached for r in results) == 2


def test_async_api_from_a_foreign_event_loop(fault_server, store_path):
    async def main(client):
        one = await client.acomplete(_ask("x [answer:c]"))
        many = await client.acomplete_many([_ask("y"), _ask("z")])
        return one, many

    with _client(fault_server, store_path) as client:
        one, many = asyncio.run(main(client))
    assert one.label == "c" and all(r.ok for r in many)


def test_structured_output_falls_back_when_json_schema_is_rejected(store_path):
    with FaultServer(reject_json_schema=True) as server, _client(server, store_path) as client:
        assert client.complete(_ask("first")).ok
        assert client.complete(_ask("second")).ok
    formats = [r["response_format"]["type"] for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert "schema" in server.requests[1]["response_format"]


def test_free_text_request(fault_server, store_path):
    with _client(fault_server, store_path) as client:
        result = client.complete(_ask("hello there", output=None))
    assert result.ok and result.text.startswith("echo:") and result.label is None


class _BrokenBackend(Backend):
    """Raises an unexpected error on the prompt "boom"; answers every other prompt slowly."""

    endpoint, model = "test", "broken"

    @property
    def identity(self) -> str:
        return "test:broken"

    async def complete(self, request: ChatRequest) -> RawCompletion:
        if request.messages[-1].content == "boom":
            raise RuntimeError("model file missing")
        await asyncio.sleep(0.5)
        return RawCompletion('{"label": "a"}', 5, 1)


def test_an_error_in_a_batch_cancels_the_rest_and_leaves_no_claims(store_path, recwarn):
    config = LLMConfig(llm="openai:broken", base_url="http://127.0.0.1:9/v1", concurrency=3)
    with LLMClient(config, store=store_path, backend=_BrokenBackend()) as client:
        with pytest.raises(RuntimeError, match="model file missing"):
            client.complete_many([_ask("slow1"), _ask("boom"), _ask("slow2"), _ask("slow3")])
    gc.collect()  # a coroutine left running would report its failure to use the closed store here
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    assert not [w for w in recwarn if issubclass(w.category, pytest.PytestUnraisableExceptionWarning)]
