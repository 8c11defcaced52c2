"""Label probabilities read from token log-probabilities, their storage, and the request key they leave alone."""

import hashlib
import io
import json
import math

import pytest

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig, ResponseStore
from mentor.llm.backends.base import Backend, RawCompletion
from mentor.llm.logprobs import TokenLogprob, label_distribution

LABELS = ("student", "staff", "faculty")


def test_the_alternatives_at_the_label_token_give_the_distribution():
    tokens = [
        TokenLogprob('{"label": "', 0.0),
        TokenLogprob("student", math.log(0.6), {"student": math.log(0.6), "staff": math.log(0.2),
                                                "faculty": math.log(0.1), "```": math.log(0.1)}),
        TokenLogprob('", "explanation": "x"}', 0.0),
    ]  # fmt: skip
    probs = label_distribution(LABELS, tokens)
    assert probs == pytest.approx({"student": 0.6 / 0.9, "staff": 0.2 / 0.9, "faculty": 0.1 / 0.9})


def test_a_token_that_starts_before_the_value_and_a_shared_first_piece():
    tokens = [
        TokenLogprob('{"label":', 0.0),
        TokenLogprob(' "stud', math.log(0.5), {' "stud': math.log(0.5), ' "st': math.log(0.3), ' "fac': math.log(0.2),
                                              ' "': math.log(0.1)}),
        TokenLogprob('ent"}', 0.0),
    ]  # fmt: skip
    probs = label_distribution(LABELS, tokens)
    # ' "st' starts both student and staff: split evenly; ' "' alone says nothing about the label.
    assert probs == pytest.approx({"student": 0.65, "staff": 0.15, "faculty": 0.2})


def test_no_label_field_or_no_matching_alternative_gives_none():
    assert label_distribution(LABELS, [TokenLogprob('{"answer": "x"}', 0.0)]) is None
    tokens = [TokenLogprob('{"label": "', 0.0), TokenLogprob("zzz", -0.1, {"zzz": -0.1})]
    assert label_distribution(LABELS, tokens) is None


def test_the_key_of_a_request_without_probabilities_is_what_it_was_before_the_field():
    request = ChatRequest.from_prompt("q", output=Labels(labels=("a", "b")))
    payload = {"model": "m", **request.model_dump(mode="json")}
    del payload["output"]["probabilities"]
    before = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert request.key("m") == before
    with_probs = ChatRequest.from_prompt("q", output=Labels(labels=("a", "b"), probabilities=True))
    assert with_probs.key("m") != before


class _Backend(Backend):
    model, endpoint = "fake", "test"

    @property
    def identity(self) -> str:
        return "fake"

    async def complete(self, request: ChatRequest) -> RawCompletion:
        head, tail = '{"label": "', 'a", "explanation": "e"}'
        tokens = (TokenLogprob(head, 0.0), TokenLogprob("a", math.log(0.75), {"a": math.log(0.75),
                                                                              "b": math.log(0.25)}),
                  TokenLogprob(tail[1:], 0.0))  # fmt: skip
        return RawCompletion(text=head + tail, prompt_tokens=3, completion_tokens=4, logprobs=tokens)


def test_the_client_attaches_stores_and_exports_label_probabilities(tmp_path):
    request = ChatRequest.from_prompt("q", output=Labels(labels=("a", "b"), probabilities=True))
    config = LLMConfig(llm="openai:fake", base_url="http://127.0.0.1:9/v1")
    with LLMClient(config, store=tmp_path / "s.sqlite", backend=_Backend()) as client:
        fresh = client.complete(request)
        cached = client.complete(request)
    assert fresh.label_probs == pytest.approx({"a": 0.75, "b": 0.25})
    assert cached.cached and cached.label_probs == fresh.label_probs
    with ResponseStore(tmp_path / "s.sqlite") as store:
        out = io.StringIO()
        store.export_jsonl(out)
    record = json.loads(out.getvalue())
    assert record["label_probs"] == pytest.approx({"a": 0.75, "b": 0.25})
    older = {k: v for k, v in record.items() if k != "label_probs"}  # an export made before the field existed
    with ResponseStore(tmp_path / "other.sqlite") as store:
        assert store.import_jsonl(io.StringIO(json.dumps(older) + "\n")) == (1, 0)
        assert store.get(record["key"], run_id="r").label_probs is None
    bad = {**record, "label_probs": {"a": 7}}
    with ResponseStore(tmp_path / "third.sqlite") as store, pytest.raises(Exception, match="label_probs"):
        store.import_jsonl(io.StringIO(json.dumps(bad) + "\n"))


def test_a_store_written_before_label_probabilities_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with ResponseStore(path):
        pass
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE responses DROP COLUMN label_probs")
    db.commit()
    db.close()
    with ResponseStore(path) as store:
        assert len(store) == 0
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(responses)")}
    assert "label_probs" in columns


@pytest.mark.slow
def test_a_local_model_reports_label_probabilities(store_path):
    spec = Labels(labels=("positive", "negative"), max_explanation_chars=60, probabilities=True)
    request = ChatRequest.from_prompt("Sentiment of: I loved this film.", output=spec, max_tokens=40)
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=1024), store=store_path) as client:
        result = client.complete(request)
    assert result.ok and set(result.label_probs) == {"positive", "negative"}
    assert sum(result.label_probs.values()) == pytest.approx(1.0)
