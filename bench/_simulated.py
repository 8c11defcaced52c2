"""A simulated consultant for the upper-bound study in bench/consult.py (a benchmark device, not a model).

It answers a consultation about a training node correctly with probability ``p`` (decided per node by a seeded
hash), otherwise with another class, and explains with a generic sentence naming the class. Results obtained with
it are labelled "simulation" wherever they are reported.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mentor.graph import TextGraph
from mentor.llm import LLMClient, LLMConfig
from mentor.llm.backends.base import Backend, RawCompletion
from mentor.llm.types import ChatRequest


class SimulatedConsultant(Backend):
    endpoint = "simulation"

    def __init__(self, graph: TextGraph, p: float, seed: int = 0) -> None:
        self.graph, self.p, self.seed = graph, p, seed
        self.model = f"simulated-p{p:g}"
        self._by_text = {t: i for i, t in enumerate(graph.texts or [])}

    @property
    def identity(self) -> str:
        return f"simulation:p={self.p}:seed={self.seed}"

    def _node(self, request: ChatRequest) -> int:
        content = request.messages[-1].content
        quoted = content.split("TARGET node:\n<text>", 1)[1].split("</text>", 1)[0]
        text = json.loads(f'"{quoted}"').removesuffix(" …")
        matches = [i for t, i in self._by_text.items() if t.startswith(text)]
        return matches[0]

    async def complete(self, request: ChatRequest) -> RawCompletion:
        node = self._node(request)
        truth = int(self.graph.y[node])
        draw = int(hashlib.sha256(f"{self.seed}:{node}".encode()).hexdigest(), 16) % 10_000 / 10_000
        label = truth if draw < self.p else (truth + 1 + node % (self.graph.num_classes - 1)) % self.graph.num_classes
        name = self.graph.class_names[label]
        text = json.dumps({"label": name, "explanation": f"The content of this node is typical of {name}."})
        return RawCompletion(text=text, prompt_tokens=0, completion_tokens=0)


@contextmanager
def simulated_client(graph: TextGraph, p: float, seed: int) -> Iterator[LLMClient]:
    """A client whose consultant is :class:`SimulatedConsultant`, with a throw-away response store."""
    config = LLMConfig(llm="openai:simulation", base_url="http://127.0.0.1:9/v1")
    with tempfile.TemporaryDirectory() as tmp:
        with LLMClient(config, store=Path(tmp) / "simulation.sqlite", backend=SimulatedConsultant(graph, p, seed)) as c:
            yield c
