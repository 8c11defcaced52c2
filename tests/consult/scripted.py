"""A scripted consultant (tests only): a Backend that answers by a rule instead of a model."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

from mentor.graph import TextGraph
from mentor.llm.backends.base import Backend, RawCompletion
from mentor.llm.logprobs import TokenLogprob
from mentor.llm.types import ChatRequest, Timings

_TARGET = re.compile(r"TARGET node:\n<text>(.*?)</text>", re.DOTALL)


def target_node(request: ChatRequest, graph: TextGraph) -> int:
    """The node a consultation prompt is about (texts are unique in the test graphs)."""
    quoted = _TARGET.search(request.messages[-1].content).group(1)
    text = json.loads(f'"{quoted}"')
    matches = [i for i, t in enumerate(graph.texts) if t.startswith(text.removesuffix(" …"))]
    assert len(matches) == 1, f"target text matches {len(matches)} nodes"
    return matches[0]


class ScriptedConsultant(Backend):
    """``rule(node) -> class index``; every prompt's target node is appended to ``log`` (one per line). With
    ``confidence(node) -> p`` the reply carries token log-probabilities that give the answer probability p (the
    rest spread evenly over the other classes), as a backend with logprobs would; with ``timings`` every reply
    says the model took that long, as llama.cpp's timings would."""

    endpoint = "test"

    def __init__(self, graph: TextGraph, rule: Callable[[int], int], name: str = "scripted",
                 log: Path | None = None, delay_s: float = 0.0,
                 confidence: Callable[[int], float] | None = None, timings: Timings | None = None) -> None:  # fmt: skip
        self.graph, self.rule, self.model, self.log, self.delay_s = graph, rule, name, log, delay_s
        self.confidence, self.timings = confidence, timings
        self.asked: list[int] = []
        self.requests: list[ChatRequest] = []

    @property
    def identity(self) -> str:
        return f"scripted:{self.model}"

    async def complete(self, request: ChatRequest) -> RawCompletion:
        node = target_node(request, self.graph)
        self.asked.append(node)
        if self.log:
            with self.log.open("a") as handle:
                handle.write(f"{node}\n")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.requests.append(request)
        label = self.graph.class_names[self.rule(node)]
        text = json.dumps({"label": label, "explanation": f"The words point to {label}."})
        logprobs = None
        if self.confidence is not None:
            p = self.confidence(node)
            others = [name for name in self.graph.class_names if name != label]
            top = {label: math.log(p), **{name: math.log((1 - p) / len(others)) for name in others}}
            head, tail = text.split(label, 1)
            logprobs = (TokenLogprob(head, 0.0), TokenLogprob(label, math.log(p), top), TokenLogprob(tail, 0.0))
        return RawCompletion(text=text, prompt_tokens=100, completion_tokens=20, logprobs=logprobs,
                             timings=self.timings)  # fmt: skip


def always_right(graph: TextGraph) -> Callable[[int], int]:
    return lambda node: int(graph.data.true_y[node])


def always_wrong(graph: TextGraph) -> Callable[[int], int]:
    return lambda node: (int(graph.data.true_y[node]) + 1) % graph.num_classes
