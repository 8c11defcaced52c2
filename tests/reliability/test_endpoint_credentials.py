"""Credentials reach the server they were meant for, and nothing else: not the store, the output, other hosts."""

import base64
import json

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig
from mentor.llm.backends import MissingAPIKey
from mentor.llm.backends.endpoint import resolve
from mentor.llm.backends.openai_compat import NO_KEY, _api_key
from mentor.llm.secrets import redact

LABELS = Labels(labels=("a", "b", "c"))
PASSWORD = "sk-userinfo0123456789PASS"
QUERY_KEY = "QUERYSECRET42"
KEY = "sk-envkey0123456789abcdefKEY"
SECRETS = ("alice", PASSWORD, QUERY_KEY)


def _credentialed(server) -> str:
    """The fault server's base URL with user-info and an Azure-style ``api-key`` query parameter."""
    return server.base_url.replace("http://", f"http://alice:{PASSWORD}@") + f"?api-key={QUERY_KEY}"


def _ask(prompt: str) -> ChatRequest:
    return ChatRequest.from_prompt(prompt, output=LABELS)


def _store_text(store_path) -> str:
    return b"".join(p.read_bytes() for p in store_path.parent.glob(f"{store_path.name}*")).decode("latin-1")


def test_credentials_in_the_base_url_are_sent_but_neither_stored_nor_returned(fault_server, store_path):
    config = LLMConfig(llm="openai:fake", base_url=_credentialed(fault_server), max_retries=0)
    with LLMClient(config, store=store_path) as client:
        result = client.complete(_ask("q [answer:b]"))
        failure = client.complete(_ask("q [fault:500]"))
        identity = client.identity
    assert result.ok and result.label == "b"
    sent = fault_server.requests[0]
    assert sent["authorization"] == "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert sent["path"] == f"/v1/chat/completions?api-key={QUERY_KEY}"  # the query goes with every request
    assert result.endpoint == fault_server.base_url
    assert not failure.ok and failure.reason == "server_error"
    for shown in (result.model_dump_json(), failure.detail, identity, _store_text(store_path)):
        assert not any(secret in shown for secret in SECRETS), shown


def test_llm_ask_json_shows_the_endpoint_without_credentials(fault_server, store_path):
    args = ["llm", "ask", "q [answer:c]", "--labels", "a,b,c", "--json", "--llm", "openai:fake",
            "--llm-base-url", _credentialed(fault_server), "--store", str(store_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["label"] == "c" and payload["endpoint"] == fault_server.base_url
    assert not any(secret in result.output for secret in SECRETS)


def test_urls_in_failure_details_lose_user_info_and_query():
    text = redact(f"POST http://alice:{PASSWORD}@10.0.0.1:8000/v1/chat/completions?api-key={QUERY_KEY} failed")
    assert not any(secret in text for secret in SECRETS)
    assert "10.0.0.1:8000/v1/chat/completions" in text


def test_the_openai_key_is_not_sent_to_another_server_unasked(fault_server, store_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with LLMClient(LLMConfig(llm="openai:fake", base_url=fault_server.base_url), store=store_path) as client:
        assert client.complete(_ask("q")).ok
    seen = [r["authorization"] for r in fault_server.requests + fault_server.model_requests]
    assert seen and all(KEY not in a for a in seen)
    assert fault_server.requests[0]["authorization"] == f"Bearer {NO_KEY}"


def test_the_key_goes_to_another_server_when_its_variable_is_named(fault_server, store_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = LLMConfig(llm="openai:fake", base_url=fault_server.base_url, api_key_env="OPENAI_API_KEY")
    with LLMClient(config, store=store_path) as client:
        assert client.complete(_ask("q")).ok
    assert fault_server.requests[0]["authorization"] == f"Bearer {KEY}"


def test_the_cli_sends_no_key_to_another_server_unless_told(fault_server, store_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base = ["llm", "ask", "--llm", "openai:fake", "--llm-base-url", fault_server.base_url, "--store", str(store_path)]
    assert CliRunner().invoke(app, [*base, "first"]).exit_code == 0
    assert CliRunner().invoke(app, [*base, "second", "--llm-api-key-env", "OPENAI_API_KEY"]).exit_code == 0
    assert [r["authorization"] for r in fault_server.requests] == [f"Bearer {NO_KEY}", f"Bearer {KEY}"]


def test_openai_itself_gets_the_default_key_and_a_proxy_in_openai_base_url_does_not(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert _api_key(LLMConfig(llm="openai:gpt-4o-mini"), resolve(None)) == KEY
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    assert _api_key(LLMConfig(llm="openai:gpt-4o-mini"), resolve(None)) == NO_KEY


def test_a_named_variable_that_is_not_set_is_an_error(fault_server, store_path, monkeypatch):
    monkeypatch.delenv("MENTOR_TEST_KEY", raising=False)
    config = LLMConfig(llm="openai:fake", base_url=fault_server.base_url, api_key_env="MENTOR_TEST_KEY")
    with LLMClient(config, store=store_path) as client, pytest.raises(MissingAPIKey, match="MENTOR_TEST_KEY"):
        client.complete(_ask("q"))
    assert not fault_server.requests
