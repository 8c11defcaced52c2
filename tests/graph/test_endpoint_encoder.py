"""Embeddings through an OpenAI-compatible endpoint (``--features openai:MODEL``), against a local test server:
vectors in the texts' order, batched and concurrent, cached like every encoder's, retried, budgeted, and a bad reply
refused with the endpoint named and nothing of it cached."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mentor.cli import app
from mentor.graph import make_synthetic
from mentor.graph.features import EmbeddingsError, EndpointEncoder, FeatureSpec, make_encoder
from tests.graph.embeddings_server import DIM, EmbeddingsServer, vector_of


def _expected(texts):
    vectors = np.asarray([vector_of(t) for t in texts], dtype=np.float32)
    return torch.from_numpy(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def _encoder(server, tmp_path, **options):
    return EndpointEncoder("openai:emb", server.base_url, cache_path=tmp_path / "cache.sqlite", **options)


def test_texts_are_encoded_in_batches_at_once_in_their_order_and_cached(tmp_path):
    texts = [f"text number {i}" for i in range(23)]
    with EmbeddingsServer(delay_s=0.05) as server:
        encoder = _encoder(server, tmp_path, batch_size=4, concurrency=3)
        x = encoder.encode(texts, progress=False)
        assert x.shape == (23, DIM) and encoder.encoded_last == 23
        torch.testing.assert_close(x, _expected(texts))
        assert len(server.requests) == 6 and {r["model"] for r in server.requests} == {"emb"}
        assert 1 < server.max_in_flight <= 3
        assert server.requests[0]["authorization"] in ("", "Bearer not-needed")  # no key sent to a local server
        sent = len(server.requests)
        again = _encoder(server, tmp_path).encode([*texts[:5], "a new text"], progress=False)
        assert server.texts_sent[-1:] == ["a new text"] and len(server.requests) == sent + 1
        torch.testing.assert_close(again, _expected([*texts[:5], "a new text"]))


def test_a_failing_endpoint_is_retried_and_a_budget_refuses_before_sending(tmp_path):
    with EmbeddingsServer(fail_first=2) as server:
        x = _encoder(server, tmp_path, retries=3).encode(["one", "two"], progress=False)
        torch.testing.assert_close(x, _expected(["one", "two"]))
        assert len(server.requests) == 3
    with EmbeddingsServer() as server:
        with pytest.raises(EmbeddingsError, match="3 texts are not in the cache and the budget allows 2"):
            _encoder(server, tmp_path, max_texts=2).encode(["a", "b", "c"], progress=False)
        assert server.requests == []


@pytest.mark.parametrize(("reply", "message"), [
    ("short", "1 embeddings came back for 2 texts"),
    ("nan", "is not a list of finite numbers"),
    ("mixed", "embeddings of different lengths"),
    ("badindex", "indexes are not 0..1"),
])  # fmt: skip
def test_a_bad_reply_is_refused_naming_the_endpoint_and_nothing_of_it_is_cached(tmp_path, reply, message):
    with EmbeddingsServer(reply=reply) as server:
        encoder = _encoder(server, tmp_path, batch_size=2)
        with pytest.raises(EmbeddingsError, match=message) as error:
            encoder.encode(["first text", "second text"], progress=False)
        assert server.base_url in str(error.value)
        assert encoder.cache.get(encoder.identity, ["first text", "second text"]) == {}


def test_an_unreachable_endpoint_or_a_missing_key_is_a_clear_error(tmp_path, monkeypatch):
    encoder = EndpointEncoder("openai:emb", "http://127.0.0.1:9/v1", retries=0, cache_path=tmp_path / "c.sqlite")
    with pytest.raises(EmbeddingsError, match=r"embeddings at http://127.0.0.1:9/v1 \(emb\): Connection error"):
        encoder.encode(["x"], progress=False)
    monkeypatch.delenv("MY_EMBEDDINGS_KEY", raising=False)
    keyed = EndpointEncoder("openai:emb", "http://127.0.0.1:9/v1", api_key_env="MY_EMBEDDINGS_KEY",
                            cache_path=tmp_path / "c.sqlite")  # fmt: skip
    with pytest.raises(EmbeddingsError, match="MY_EMBEDDINGS_KEY"):
        keyed.encode(["x"], progress=False)
    with pytest.raises(EmbeddingsError, match="--embeddings-base-url"):
        make_encoder("openai:emb")
    with pytest.raises(EmbeddingsError, match="name the embedding model"):
        EndpointEncoder("openai:", "http://127.0.0.1:9/v1")


def test_credentials_in_the_base_url_are_sent_and_kept_out_of_the_cache_key_and_the_spec(tmp_path):
    graph = make_synthetic(num_nodes=30, num_classes=3, seed=0)
    with EmbeddingsServer() as server:
        url = server.base_url.replace("http://", "http://user:secret@") + "?token=abc"
        encoder = EndpointEncoder("openai:emb", url, cache_path=tmp_path / "c.sqlite")
        spec, x = FeatureSpec.fit_transform("openai:emb", graph, encoder=encoder, progress=False)
        assert server.requests[0]["authorization"].startswith("Basic ")
    assert "secret" not in encoder.identity and "abc" not in encoder.identity
    assert spec.endpoint == server.base_url and spec.encoder == "openai:emb" and spec.dim == DIM
    assert "secret" not in spec.model_dump_json() and "abc" not in spec.model_dump_json()
    torch.testing.assert_close(x, _expected(graph.texts))


def test_graph_train_encodes_through_the_endpoint_and_the_saved_model_knows_it(tmp_path):
    out = tmp_path / "run"
    with EmbeddingsServer() as server:
        result = CliRunner().invoke(app, ["train", "synthetic", "--features", "openai:emb",
                                          "--embeddings-base-url", server.base_url, "--epochs", "20", "--out",
                                          str(out), "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert len(server.texts_sent) == 300  # the synthetic graph's texts, once each
    features = json.loads((out / "model" / "config.json").read_text())["features"]
    assert features["encoder"] == "openai:emb" and features["endpoint"] == server.base_url
    missing = CliRunner().invoke(app, ["train", "synthetic", "--features", "openai:emb"])
    assert missing.exit_code != 0 and "--embeddings-base-url" in missing.output


def test_a_saved_spec_encodes_new_texts_at_its_endpoint_sending_only_what_is_new():
    graph = make_synthetic(num_nodes=30, num_classes=3, seed=2)
    with EmbeddingsServer() as server:
        spec, x = FeatureSpec.fit_transform("openai:emb", graph, encoder=make_encoder(
            "openai:emb", base_url=server.base_url), progress=False)  # fmt: skip
        changed = graph.copy()
        changed.texts = [*graph.texts[:-1], "a text never seen"]
        again = FeatureSpec.model_validate_json(spec.model_dump_json()).transform(changed)
        assert server.texts_sent[30:] == ["a text never seen"]
    torch.testing.assert_close(again[:-1], x[:-1])


def test_repeated_texts_share_a_row_and_a_cached_vector_of_another_length_is_refused(tmp_path):
    from mentor.graph.features.cache import text_key

    with EmbeddingsServer() as server:
        encoder = _encoder(server, tmp_path)
        x = encoder.encode(["same", "other", "same"], progress=False)
        assert server.texts_sent == ["same", "other"] and torch.equal(x[0], x[2])
        encoder.cache.put(encoder.identity, [(text_key("odd"), np.ones(DIM + 1, dtype=np.float32))])
        with pytest.raises(ValueError, match=f"a vector of {DIM + 1} values among vectors of {DIM}"):
            encoder.encode(["same", "odd"], progress=False)
