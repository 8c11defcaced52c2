"""Exact token counts from the model's own tokenizer: a local GGUF model's through llama.cpp, an HTTP server's
tokenizer endpoint where it has one; otherwise the estimate of 4 characters per token, said to be one."""

import pytest

from mentor.llm import LLMClient, LLMConfig
from mentor.llm.backends.base import Backend, RawCompletion
from tests.llm.fault_server import FaultServer

TEXT = "a page about graph neural networks"  # 6 words: the fake tokenizers count 6 tokens


def _client(server: FaultServer, store_path, **overrides) -> LLMClient:
    config = LLMConfig(llm="openai:fake", base_url=server.base_url, timeout_s=5.0, **overrides)
    return LLMClient(config, store=store_path)


@pytest.mark.parametrize("tokenizer", ["llama.cpp", "vllm", "llama-cpp-python"])
def test_an_http_servers_tokenizer_is_found_once_and_its_counts_are_exact(store_path, tokenizer):
    with FaultServer(tokenizer=tokenizer) as server, _client(server, store_path) as client:
        assert client.count_tokens(TEXT) == (6, True)  # llama-cpp-python's BOS token taken off
        asked = len(server.tokenize_requests)
        assert client.count_tokens(TEXT) == (6, True) and len(server.tokenize_requests) == asked  # remembered
        assert client.count_tokens("two words") == (2, True) and len(server.tokenize_requests) == asked + 1
        assert client.count_tokens("") == (0, True)
    paths = {request["path"] for request in server.tokenize_requests}
    assert paths == ({"/extras/tokenize/count", "/tokenize"} if tokenizer == "llama-cpp-python" else {"/tokenize"})
    assert not server.requests  # no chat request was sent (nor booked)
    assert client.usage()["requests"] == 0


def test_a_server_without_a_tokenizer_gives_estimates_and_is_asked_once(store_path):
    with FaultServer() as server, _client(server, store_path) as client:
        assert client.count_tokens(TEXT) == (len(TEXT) // 4 + 1, False)
        asked = len(server.tokenize_requests)
        assert asked == 3  # each known form once
        assert client.count_tokens("another text") == (len("another text") // 4 + 1, False)
        assert len(server.tokenize_requests) == asked


def test_the_tokenizer_gets_the_credentials_the_chat_requests_get(store_path, monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "sk-test-secret")
    with FaultServer(tokenizer="llama.cpp") as server, _client(server, store_path, api_key_env="MY_SERVER_KEY") as c:
        assert c.count_tokens(TEXT) == (6, True)
    assert {r["authorization"] for r in server.tokenize_requests} == {"Bearer sk-test-secret"}


def test_no_key_or_no_server_means_estimates(store_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with LLMClient(LLMConfig(llm="openai:gpt-4o-mini"), store=store_path) as client:
        assert client.count_tokens(TEXT) == (len(TEXT) // 4 + 1, False)
    with FaultServer() as server:
        base_url = server.base_url
    with LLMClient(LLMConfig(llm="openai:fake", base_url=base_url, timeout_s=2.0), store=store_path) as client:
        assert client.count_tokens(TEXT) == (len(TEXT) // 4 + 1, False)  # nothing listens there any more


class _Counting(Backend):
    model, endpoint, calls = "fake", "http://fake/v1", 0

    @property
    def identity(self) -> str:
        return "fake"

    async def complete(self, request):  # pragma: no cover - not asked
        return RawCompletion(text="", prompt_tokens=0, completion_tokens=0)

    def count_tokens(self, text: str) -> int | None:
        self.calls += 1
        return len(text.split())


def test_counts_of_repeated_texts_are_remembered(store_path):
    backend = _Counting()
    with LLMClient(LLMConfig(llm="openai:fake"), store=store_path, backend=backend) as client:
        for _ in range(5):
            assert client.count_tokens(TEXT) == (6, True)
        assert client.count_tokens("one") == (1, True)
    assert backend.calls == 2


@pytest.mark.slow
def test_a_local_model_counts_with_its_own_tokenizer(store_path, smollm2_path):
    from llama_cpp import Llama

    texts = [TEXT, "Ünïcödé — text, with <|im_start|> in it", "x" * 3000, ""]
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=1024), store=store_path) as client:
        counts = [client.count_tokens(text) for text in texts]
    llama = Llama(model_path=str(smollm2_path), n_ctx=256, vocab_only=True, verbose=False)
    expected = [len(llama.tokenize(text.encode(), add_bos=False, special=False)) for text in texts]
    assert counts == [(n, True) for n in expected]
    assert counts[-1] == (0, True) and counts[1][0] > 10  # special-token text counted as plain text


@pytest.mark.slow
def test_a_llama_cpp_python_server_counts_as_the_local_model_does(llama_server, store_path):
    config = LLMConfig(llm="openai:smollm2", base_url=llama_server, timeout_s=60)
    with LLMClient(config, store=store_path) as remote:
        over_http = [remote.count_tokens(text) for text in (TEXT, "Hello, world!")]
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=1024), store=store_path) as local:
        in_process = [local.count_tokens(text) for text in (TEXT, "Hello, world!")]
    assert over_http == in_process and all(exact for _, exact in over_http)
