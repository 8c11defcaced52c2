"""The HTTP backend against a real OpenAI-compatible server: llama.cpp's, serving SmolLM2-135M."""

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mentor.llm import ChatRequest, JsonSchema, Labels, LLMClient, LLMConfig
from tests.llm.conftest import _free_port

pytestmark = pytest.mark.slow

LABELS = Labels(labels=("Neural_Networks", "Theory", "Genetic_Algorithms"), max_explanation_chars=120)


def _config(base_url: str, **overrides) -> LLMConfig:
    return LLMConfig(llm="openai:smollm2", base_url=base_url, timeout_s=60, **overrides)


def test_structured_labels_concurrently_and_then_from_the_store(llama_server, store_path):
    prompts = [
        "Backpropagation through time for recurrent networks.",
        "A lower bound on the sample complexity of PAC learning.",
        "Crossover operators for evolving programs.",
        "Dropout as a Bayesian approximation.",
    ]
    requests = [
        ChatRequest.from_prompt(f"Which field is this paper in?\n{p}\n{LABELS.instruction()}", output=LABELS,
                                max_tokens=80)
        for p in prompts
    ]  # fmt: skip
    with LLMClient(_config(llama_server, concurrency=2), store=store_path) as client:
        results = client.complete_many(requests)
        assert client._backend.structured_output == "json_object_schema"  # llama.cpp rejects json_schema
        again = client.complete_many(requests)
        assert client.usage()["new_calls"] == 4 and client.usage()["store_hits"] == 4
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert all(r.label in LABELS.labels for r in results)
    assert all(r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0 for r in results)
    assert all(r.endpoint == llama_server for r in results)
    assert [a.text for a in again] == [r.text for r in results] and all(a.cached for a in again)


def test_json_schema_output(llama_server, store_path):
    schema = JsonSchema(
        definition={
            "type": "object",
            "properties": {"answer": {"type": "integer"}},
            "required": ["answer"],
        }
    )
    with LLMClient(_config(llama_server), store=store_path) as client:
        result = client.complete(ChatRequest.from_prompt("What is 2 + 2? Reply in JSON.", output=schema, max_tokens=30))
    assert result.ok and isinstance(result.parsed["answer"], int)


def test_free_text(llama_server, store_path):
    with LLMClient(_config(llama_server), store=store_path) as client:
        result = client.ask("Say hello.", max_tokens=10)
    assert result.text.strip() and result.usage.completion_tokens <= 10


def test_label_probabilities_over_http_or_a_plain_answer_where_the_server_gives_none(llama_server, store_path):
    spec = Labels(labels=LABELS.labels, max_explanation_chars=60, probabilities=True)
    request = ChatRequest.from_prompt("Which field? Backpropagation through time.", output=spec, max_tokens=60)
    with LLMClient(_config(llama_server), store=store_path) as client:
        result = client.complete(request)
    assert result.ok and result.label in LABELS.labels, result
    if result.label_probs is not None:  # a server started with --logits_all reports them
        assert sum(result.label_probs.values()) == pytest.approx(1.0)


@contextmanager
def _another_server(model_path) -> Iterator[str]:
    """The same model served again, on another port; yields its base URL (with ``localhost`` for the host)."""
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://localhost:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_same_model_on_another_port_shares_its_identity_and_answers(llama_server, smollm2_path, store_path):
    request = ChatRequest.from_prompt("Say hello.", max_tokens=8)
    with LLMClient(_config(llama_server), store=store_path) as client:
        first, identity = client.complete(request), client.identity
    assert first.ok and identity == "openai:smollm2"  # llama-cpp-python's server lists nothing identifying
    with _another_server(smollm2_path) as moved, LLMClient(_config(moved), store=store_path) as client:
        again = client.complete(request)
        assert client.identity == identity and client.usage()["requests"] == 0
    assert again.cached and again.text == first.text
