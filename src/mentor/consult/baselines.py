"""Baselines run with the same data, client and budget accounting as the consultation loop.

- **LLM as predictor**: the LLM labels a sample of test nodes from their text and their neighbours' texts
  (no labels, no GNN predictions shown); test labels are used only to score it.
- **LLM as enhancer** (TAPE-style): the LLM explains a random, budgeted set of nodes from any split; every
  explanation is added to its node's text whatever the answer (no label is consulted), then the GNN is retrained.
  No pruning, no uncertainty.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from mentor.consult.actions import augment_text
from mentor.consult.config import ConsultConfig
from mentor.consult.loop import Consultation
from mentor.llm import LLMClient


def _sample(pool: torch.Tensor, k: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return sorted(pool[torch.randperm(pool.numel(), generator=generator)[:k]].tolist())


def llm_as_predictor(config: ConsultConfig, client: LLMClient, sample: int = 50, **kwargs: Any) -> dict[str, Any]:
    """Accuracy of the LLM labelling ``sample`` random test nodes directly."""
    blind = config.model_copy(update={"show_gnn_prediction": False, "show_neighbour_labels": False})
    consultation = Consultation(blind, client, **kwargs)
    nodes = _sample(consultation.split.test.nonzero().view(-1), sample, config.seed)
    result = consultation.train(consultation.features())  # only for the (hidden) neighbour view
    view = consultation.view(result)
    started = time.perf_counter()
    answers = client.complete_many(consultation.requests(nodes, view), progress=consultation.progress)
    names = consultation.graph.class_names
    answered = [(n, a) for n, a in zip(nodes, answers, strict=True) if a.ok]
    correct = sum(a.label == names[int(consultation.graph.y[n])] for n, a in answered)
    return {
        "baseline": "llm_as_predictor",
        "dataset": consultation.graph.name,
        "split": consultation.split_name,
        "sampled_test_nodes": len(nodes),
        "answered": len(answered),
        "accuracy": round(correct / len(answered), 4) if answered else None,
        "gnn_test_accuracy_on_sample": round(
            float((result.probs[nodes].argmax(-1) == consultation.graph.y[nodes]).float().mean()), 4
        ),
        "new_calls": sum(not a.cached for _, a in answered),
        "prompt_tokens": sum(a.usage.prompt_tokens for _, a in answered),
        "completion_tokens": sum(a.usage.completion_tokens for _, a in answered),
        "cost": round(sum(a.cost for _, a in answered if not a.cached), 6),
        "llm_seconds": round(time.perf_counter() - started, 3),
        "failures": [a.reason for a in answers if not a.ok],
    }


def llm_as_enhancer(config: ConsultConfig, client: LLMClient, calls: int, **kwargs: Any) -> dict[str, Any]:
    """Test accuracy before and after adding LLM explanations to ``calls`` random nodes' texts (an explanation is
    always asked for, whatever ``config.explain`` says: it is what this baseline uses)."""
    blind = config.model_copy(update={"show_gnn_prediction": False, "show_neighbour_labels": False, "explain": True})
    consultation = Consultation(blind, client, **kwargs)
    x = consultation.features()
    before = consultation.train(x)
    everyone = torch.arange(consultation.graph.num_nodes)
    nodes = _sample(everyone, calls, config.seed)
    started = time.perf_counter()
    answers = client.complete_many(consultation.requests(nodes, consultation.view(before)),
                                   progress=consultation.progress)  # fmt: skip
    llm_seconds = time.perf_counter() - started
    texts = consultation.graph.texts or []
    augmented = 0
    for node, answer in zip(nodes, answers, strict=True):
        if answer.ok and answer.parsed.get("explanation"):
            texts[node] = augment_text(texts[node], answer.parsed["explanation"])
            augmented += 1
    after = consultation.train(consultation.features())
    return {
        "baseline": "llm_as_enhancer",
        "dataset": consultation.graph.name,
        "split": consultation.split_name,
        "model": config.model,
        "calls": sum(a.ok for a in answers),
        "new_calls": sum(a.ok and not a.cached for a in answers),
        "texts_augmented": augmented,
        "before": before.metrics,
        "after": after.metrics,
        "llm_seconds": round(llm_seconds, 3),
    }


__all__ = ["llm_as_enhancer", "llm_as_predictor"]
