"""The identity of an HTTP model: its name and what its server reports about it, not where the server listens."""

import pytest

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig
from mentor.llm.backends.endpoint import MEMO_FILE, Endpoint, fingerprint, remembered_identity
from mentor.paths import cache_dir
from tests.llm.fault_server import FaultServer

LABELS = Labels(labels=("a", "b", "c"))
#: What llama.cpp's server lists for a model (``meta``), and the same name serving other weights.
LLAMA_CPP = [{"id": "fake", "object": "model", "owned_by": "llamacpp",
              "meta": {"vocab_type": 2, "n_vocab": 49152, "n_ctx_train": 8192, "n_embd": 576,
                       "n_params": 134515008, "size": 270889984}}]  # fmt: skip
OTHER_WEIGHTS = [{**LLAMA_CPP[0], "meta": {**LLAMA_CPP[0]["meta"], "n_params": 1543714304, "size": 1104410624}}]


def _config(base_url: str, **overrides) -> LLMConfig:
    return LLMConfig(llm="openai:fake", base_url=base_url, timeout_s=5.0, max_retries=0, **overrides)


def _ask(prompt: str = "q [answer:b]") -> ChatRequest:
    return ChatRequest.from_prompt(prompt, output=LABELS)


def _answer(base_url: str, store_path, **overrides):
    with LLMClient(_config(base_url, **overrides), store=store_path) as client:
        return client.complete(_ask()), client.identity, client.usage()


def test_a_server_moved_to_another_port_or_host_name_pays_nothing_again(store_path):
    with FaultServer(models=LLAMA_CPP) as first:
        result, identity, usage = _answer(first.base_url, store_path)
    assert result.ok and not result.cached and usage["requests"] == 1  # the model listing is not booked
    assert identity.startswith("openai:fake#") and len(first.model_requests) == 1
    with FaultServer(models=LLAMA_CPP) as moved:
        for base_url in (moved.base_url, moved.base_url.replace("127.0.0.1", "localhost")):
            again, same, _ = _answer(base_url, store_path)
            assert again.ok and again.cached and same == identity
        assert not moved.requests


def test_other_weights_behind_the_same_name_are_told_apart(store_path):
    with FaultServer(models=LLAMA_CPP) as server:
        _, identity, _ = _answer(server.base_url, store_path)
    with FaultServer(models=OTHER_WEIGHTS) as other:
        result, other_identity, _ = _answer(other.base_url, store_path)
        assert result.ok and not result.cached and len(other.requests) == 1
    assert other_identity != identity


def test_a_server_that_reports_nothing_identifying_is_known_by_the_model_name(fault_server, store_path):
    _, identity, _ = _answer(fault_server.base_url, store_path)
    assert identity == "openai:fake"


def test_a_server_that_is_down_replays_with_the_identity_last_seen_there(store_path):
    with FaultServer(models=LLAMA_CPP) as server:
        base_url, port = server.base_url, server.port
        first, identity, _ = _answer(base_url, store_path)
    assert remembered_identity("fake", Endpoint.parse(base_url)) == identity
    assert MEMO_FILE in {p.name for p in cache_dir().iterdir()}
    replay, same, usage = _answer(base_url, store_path)  # nothing listens on the port now
    assert replay.ok and replay.cached and same == identity and usage["requests"] == 0
    with FaultServer(models=LLAMA_CPP, port=port) as back:  # and back up, it is still the same model
        assert _answer(back.base_url, store_path)[1] == identity


def test_a_named_identity_replaces_the_fingerprint_and_asks_the_server_nothing(store_path):
    with FaultServer(models=LLAMA_CPP) as server:
        result, identity, _ = _answer(server.base_url, store_path, identity="smollm2-135m-q8")
        assert identity == "smollm2-135m-q8" and not server.model_requests
    with FaultServer(models=OTHER_WEIGHTS) as other:  # the user says it is the same model: it is
        assert _answer(other.base_url, store_path, identity="smollm2-135m-q8")[0].cached


@pytest.mark.parametrize(
    ("listing", "same_as_bare"),
    [
        ([{"id": "fake", "object": "model", "created": 1, "owned_by": "vllm", "root": "Qwen/Qwen2.5-7B",
           "parent": None, "max_model_len": 4096}], False),  # vLLM
        ([{"id": "fake:latest", "object": "model", "created": 1, "owned_by": "library"}], True),  # Ollama
        ([{"id": "fake", "object": "model", "owned_by": "me", "permissions": []}], True),  # llama-cpp-python
        ([{"id": "other", "root": "x"}], True),  # not served under this name
    ],
)  # fmt: skip
def test_fingerprint_of_a_listing(listing, same_as_bare):
    assert (fingerprint(listing, "fake") is None) == same_as_bare


def test_fingerprint_ignores_runtime_settings():
    vllm = {"id": "fake", "root": "Qwen/Qwen2.5-7B", "max_model_len": 4096, "created": 1}
    assert fingerprint([vllm], "fake") == fingerprint([{**vllm, "max_model_len": 32768, "created": 2}], "fake")
    meta = LLAMA_CPP[0]
    assert fingerprint([meta], "fake") == fingerprint([{**meta, "meta": {**meta["meta"], "n_ctx": 512}}], "fake")
