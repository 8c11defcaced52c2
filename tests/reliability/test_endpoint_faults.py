"""Every reply of a misbehaving endpoint becomes a result: bad bodies, slow bodies, persistent errors, echoed keys."""

import time

import pytest

from mentor.llm import BudgetLimits, ChatRequest, Labels, LLMClient, LLMConfig
from mentor.llm.secrets import REDACTED, redact
from tests.llm.fault_server import OVERLOADED, FaultServer

LABELS = Labels(labels=("a", "b", "c"))
SECRET = "sk-test-0123456789abcdefSECRET"


def _client(server: FaultServer, store_path, **overrides) -> LLMClient:
    config = {"llm": "openai:fake", "base_url": server.base_url, "timeout_s": 5.0, "max_retries": 2, **overrides}
    return LLMClient(LLMConfig(**config), store=store_path)


def _ask(prompt: str) -> ChatRequest:
    return ChatRequest.from_prompt(prompt, output=LABELS)


@pytest.mark.parametrize("fault", ["badjson", "html"])
def test_a_200_reply_that_is_not_a_chat_completion_is_a_retried_failure(fault_server, store_path, fault):
    with _client(fault_server, store_path, max_retries=2) as client:
        result = client.complete(_ask(f"q [fault:{fault}]"))
        assert not result.ok and result.reason == "bad_response" and result.attempts == 3
        assert result.key not in client.store
        failures = client.store.failure_reasons()
    assert failures == {"bad_response": 1}
    assert fault_server.count(f"q [fault:{fault}]") == 3  # retried like a 5xx


@pytest.mark.parametrize(("fault", "says"), [("error200", OVERLOADED), ("nochoices", "no choices")])
def test_a_200_reply_with_an_error_or_no_choices_is_retried_and_keeps_the_message(
    fault_server, store_path, fault, says
):
    with _client(fault_server, store_path, max_retries=2) as client:
        assert client.complete(_ask("warm-up")).ok  # settles the structured-output mode first
        result = client.complete(_ask(f"q [fault:{fault}]"))
        details = [row[0] for row in client.store._db.execute("SELECT detail FROM failures")]
    assert not result.ok and result.reason == "bad_response" and result.attempts == 3
    assert says in result.detail and details == [result.detail]
    assert fault_server.count(f"q [fault:{fault}]") == 3


@pytest.mark.parametrize("fault", ["error200", "nochoices"])
def test_a_transient_200_reply_without_an_answer_is_answered_on_retry(fault_server, store_path, fault):
    with _client(fault_server, store_path, max_retries=2) as client:
        result = client.complete(_ask(f"q [fault:{fault}x1] [answer:c]"))
    assert result.ok and result.label == "c"
    assert fault_server.count(f"q [fault:{fault}x1]") == 2


@pytest.mark.parametrize(("code", "reason"), [(429, "rate_limited"), (503, "server_error")])
def test_a_retry_after_longer_than_the_timeout_is_not_waited_for(fault_server, store_path, code, reason):
    fault = "429" if code == 429 else "500"
    with _client(fault_server, store_path, timeout_s=3.0, max_retries=2) as client:
        started = time.monotonic()
        result = client.complete(_ask(f"q [fault:{fault}] [retry_after:600]"))
        elapsed = time.monotonic() - started
    assert elapsed < 3.0  # not 600 s, nor 60 s per retry
    assert not result.ok and result.reason == reason
    assert "asked to wait 600 s" in result.detail and "--llm-timeout" in result.detail
    assert fault_server.count("q [fault:") == 1  # failed at once: the run moves on


def test_a_retry_after_within_the_timeout_is_waited_for(fault_server, store_path):
    with _client(fault_server, store_path, timeout_s=3.0, max_retries=2) as client:
        started = time.monotonic()
        result = client.complete(_ask("q [fault:429x1] [retry_after:2] [answer:b]"))
        elapsed = time.monotonic() - started
    assert result.ok and result.label == "b" and elapsed >= 1.9


def test_a_batch_with_bad_bodies_keeps_every_other_answer(fault_server, store_path):
    prompts = [f"q{i} [answer:b]" for i in range(6)] + ["bad [fault:badjson]", "page [fault:html]"]
    with _client(fault_server, store_path, max_retries=0, concurrency=3) as client:
        results = client.complete_many([_ask(p) for p in prompts])
        stored = len(client.store)
    assert [r.ok for r in results] == [True] * 6 + [False, False]
    assert stored == 6


def test_the_timeout_is_a_deadline_for_a_slowly_streamed_body(store_path):
    with FaultServer(slow_chunks=20, slow_delay_s=0.25) as server, \
            _client(server, store_path, timeout_s=1.0, max_retries=0) as client:  # fmt: skip
        started = time.monotonic()
        result = client.complete(_ask("q [fault:slowbody]"))
        elapsed = time.monotonic() - started
    assert not result.ok and result.reason == "timeout"
    assert elapsed < 3.0  # the body alone takes 5 s


def test_every_request_sent_is_booked_against_the_budget(fault_server, store_path):
    limits = BudgetLimits(max_calls=1)
    with _client(fault_server, store_path, limits=limits, max_retries=4) as client:
        result = client.complete(_ask("q [fault:500]"))
        usage = client.usage()
    assert not result.ok and result.reason == "budget"
    assert len(fault_server.requests) == 1  # the probe included: one request for a budget of one
    assert usage["requests"] == 1 and usage["new_calls"] == 0


def test_retries_honour_retry_after_also_while_the_format_is_probed(fault_server, store_path):
    with _client(fault_server, store_path, max_retries=2) as client:
        started = time.monotonic()
        result = client.complete(_ask("q [fault:429x1] [answer:c]"))  # the very first request probes the format
        elapsed = time.monotonic() - started
        usage = client.usage()
    assert result.ok and result.label == "c"
    assert elapsed >= 0.9  # Retry-After: 1
    assert usage["requests"] == 2 == len(fault_server.requests)


def test_format_negotiation_requests_are_booked_but_use_no_retry(store_path):
    with FaultServer(reject_json_schema=True) as server, _client(server, store_path, max_retries=0) as client:
        result = client.complete(_ask("q [answer:b]"))
        usage = client.usage()
    assert result.ok and result.label == "b"
    assert usage["requests"] == len(server.requests) == 2  # json_schema rejected, then json_object + schema


def test_a_key_echoed_by_the_server_is_stored_and_shown_nowhere(fault_server, store_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    config = LLMConfig(llm="openai:fake", base_url=fault_server.base_url, max_retries=0, api_key_env="OPENAI_API_KEY")
    with LLMClient(config, store=store_path) as client:
        result = client.complete(_ask("q [fault:echokey]"))
        details = [row[0] for row in client.store._db.execute("SELECT detail FROM failures")]
    assert fault_server.requests[0]["authorization"] == f"Bearer {SECRET}"  # the variable was named: sent
    assert not result.ok and result.reason == "http_error"
    assert SECRET not in result.detail and REDACTED in result.detail
    assert details and all(SECRET not in d for d in details)
    assert SECRET not in store_path.read_bytes().decode("latin-1")


def test_redact_removes_keys_and_bearer_tokens(monkeypatch):
    monkeypatch.setenv("MY_KEY", "abcd-secret-value")
    text = redact("key abcd-secret-value; Authorization: Bearer tok.en-123 and sk-ABCDEFGHIJKLMNOP", "MY_KEY")
    assert "abcd-secret-value" not in text and "tok.en-123" not in text and "sk-ABCDEFGHIJKLMNOP" not in text
