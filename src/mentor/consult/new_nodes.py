"""Asking the LLM about new nodes after a run, through the gate the run saved (``mentor predict --max-calls``).

A gated run leaves its GNN and, in ``model/gate.json``, the gate fitted with that GNN on the run's validation
answers, the consultant it was fitted against and the prompt it asked with. When new nodes arrive, the saved GNN
predicts every node; the least confident *new* nodes that the gate would ask about are put to the LLM with the
same prompt; each answer the gate accepts is combined with the GNN's distribution as during the run (``pool``:
the fitted log-linear pool, ``route``: the LLM's label). Nothing is recalibrated and no label of the graph is read:
prompts show node texts (blind, as the gated strategy asks) and, where the run's prompts did, the GNN's
predictions. A closed gate asks nothing: the run found that the LLM does not beat the GNN on validation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import TypeAdapter, ValidationError

from mentor.consult.gate import Gate, llm_distribution
from mentor.consult.loop import exact_token_counter
from mentor.consult.prompt import (
    NodeView,
    PromptOptions,
    build_prompt,
    estimate_tokens,
    neighbour_lists,
    templates_from_texts,
)
from mentor.graph.features.encoder import TextEncoder
from mentor.graph.predictions import PredictionTable
from mentor.graph.saved import GATE, ModelDirError, SavedModel
from mentor.graph.text_graph import TextGraph
from mentor.llm import LLMClient


@dataclass(frozen=True)
class SavedGate:
    """What ``gate.json`` holds for asking about new nodes: the gate, the consultant it was fitted against, and
    the prompt options and templates of the run."""

    gate: Gate
    llm: str | None
    options: PromptOptions
    templates: tuple[Any, Any]
    token_count: str = "estimate"
    class_descriptions: list[str | None] | None = None

    @classmethod
    def of(cls, saved: SavedModel) -> SavedGate:
        """The gate of ``saved``; a model without one (``mentor train``, a login run) or a ``gate.json`` that
        does not hold what is needed is a :class:`~mentor.graph.saved.ModelDirError` naming the field."""
        record = saved.gate
        if record is None:
            strategy = saved.config.training.strategy or saved.config.training.command
            raise ModelDirError(f"the model has no {GATE} (it was saved by a {strategy} run): only a gated consult "
                                "run saves the gate that decides which new nodes to ask about and how to use the "
                                "answers; drop --max-calls/--budget to predict without the LLM")  # fmt: skip
        try:
            gate = TypeAdapter(Gate).validate_python(record.get("gate"))
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            where = ".".join(["gate", *(str(p) for p in problem["loc"])])
            raise ModelDirError(problem["msg"], file=GATE, field=where) from None
        prompt = record.get("prompt")
        if not isinstance(prompt, dict):
            raise ModelDirError("no prompt settings (saved by an older mentor): consult again to save them",
                                file=GATE, field="prompt")  # fmt: skip
        try:
            options = TypeAdapter(PromptOptions).validate_python(prompt.get("options"))
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            where = ".".join(["prompt", "options", *(str(p) for p in problem["loc"])])
            raise ModelDirError(problem["msg"], file=GATE, field=where) from None
        templates = templates_from_texts(prompt.get("templates"), f"{GATE}, field 'prompt.templates'")
        llm = record.get("llm")
        token_count = prompt.get("token_count", "estimate")
        if token_count not in ("estimate", "exact"):
            raise ModelDirError("expected estimate or exact", file=GATE, field="prompt.token_count")
        descriptions = prompt.get("class_descriptions")
        classes = saved.config.class_names
        if descriptions is not None and not (
            isinstance(descriptions, list) and len(descriptions) == len(classes)
            and all(d is None or isinstance(d, str) for d in descriptions)
        ):  # fmt: skip
            raise ModelDirError(f"expected null or a list of {len(classes)} descriptions (text or null), one per class",
                                file=GATE, field="prompt.class_descriptions")  # fmt: skip
        return cls(gate=gate, llm=llm if isinstance(llm, str) else None, options=options, templates=templates,
                   token_count=token_count, class_descriptions=descriptions)  # fmt: skip


@dataclass
class NewNodeAnswers:
    """What consulting about new nodes gave: the predictions table and what was spent."""

    table: PredictionTable
    new_nodes: int
    asked: list[int] = field(default_factory=list)  # the nodes asked, least confident first
    answered: int = 0
    accepted: int = 0
    changed: int = 0  # accepted nodes whose label differs from the GNN's
    llm_seconds: float = 0.0
    gate_open: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"new_nodes": self.new_nodes, "asked": len(self.asked), "answered": self.answered,
                "accepted": self.accepted, "changed": self.changed, "llm_seconds": round(self.llm_seconds, 1),
                "gate_open": self.gate_open}  # fmt: skip


def consult_new_nodes(saved: SavedModel, graph: TextGraph, client: LLMClient, *, max_calls: int | None = None,
                      budget: float | None = None, encoder: TextEncoder | None = None,
                      progress: bool = False) -> NewNodeAnswers:  # fmt: skip
    """``saved``'s predictions for every node of ``graph``, with the LLM (``client``) asked about the least
    confident new nodes the saved gate would ask about: at most ``max_calls`` of them, or ``budget`` as a share of
    the new nodes (see the module docstring)."""
    if max_calls is None and budget is None:
        raise ValueError("consult_new_nodes: give max_calls or budget")
    settings = SavedGate.of(saved)  # before any text is encoded
    saved.check(graph)
    if graph.texts is None:
        raise ValueError(f"{graph.name} has no node texts to show a consultant")
    new = saved.new_nodes(graph)
    x = saved.config.features.transform(graph, encoder=encoder, progress=progress)
    probs = saved.predict_proba(graph, x=x)
    result = NewNodeAnswers(table=PredictionTable.from_probs(graph, probs), new_nodes=int(new.sum()),
                            gate_open=settings.gate.open)  # fmt: skip
    if settings.llm is not None and settings.llm != client.identity:
        result.notes.append(f"the gate was fitted on answers of {settings.llm}; asking {client.identity}")
    if not settings.gate.open:
        result.notes.append(f"the run's gate is closed ({settings.gate.reason}): the LLM is not asked")
        return result
    confidence, prediction = probs.max(dim=-1)
    eligible = sorted((v for v in new.nonzero().view(-1).tolist() if settings.gate.routes(float(confidence[v]))),
                      key=lambda v: (float(confidence[v]), v))  # fmt: skip
    result.asked = eligible[: calls_for(result.new_nodes, max_calls, budget)]
    if not result.asked:
        return result
    features = F.normalize(x.float(), dim=-1) if settings.options.context == "similar" else None
    view = NodeView(texts=list(graph.texts), class_names=list(graph.class_names),
                    known_labels=torch.full((graph.num_nodes,), -1, dtype=torch.long),  # no label of the graph
                    predictions=prediction, confidence=confidence,
                    neighbours=neighbour_lists(graph.edge_index, graph.num_nodes), features=features,
                    class_descriptions=settings.class_descriptions)  # fmt: skip
    count = exact_token_counter(client) if settings.token_count == "exact" else estimate_tokens
    requests = [build_prompt(v, view, settings.options, settings.templates, count) for v in result.asked]
    started = time.perf_counter()
    answers = client.complete_many(requests, progress=progress, label=f"new nodes, asking {client.model}")
    result.llm_seconds = time.perf_counter() - started
    final, sources = probs.clone(), ["gnn"] * graph.num_nodes
    asked = torch.zeros(graph.num_nodes, dtype=torch.bool)
    asked[result.asked] = True
    names = list(graph.class_names)
    for node, answer in zip(result.asked, answers, strict=True):
        if not answer.ok:
            continue
        result.answered += 1
        llm_probs = llm_distribution(answer.label_probs, answer.label, names)
        if settings.gate.routes(float(confidence[node]), max(llm_probs)):
            combined = settings.gate.combine(probs[node].tolist(), llm_probs)
            final[node] = torch.tensor(combined, dtype=torch.float)
            sources[node] = "llm" if settings.gate.rule == "route" else "pooled"
            result.accepted += 1
            result.changed += int(final[node].argmax()) != int(prediction[node])
    result.table = PredictionTable.from_probs(graph, final, sources=sources, asked=asked, gnn_probs=probs)
    return result


def calls_for(new_nodes: int, max_calls: int | None, budget: float | None) -> int:
    """Calls allowed: ``max_calls``, or ``budget`` as a share of the new nodes (rounded up), whichever is less."""
    limits = [max_calls] if max_calls is not None else []
    if budget is not None:
        limits.append(math.ceil(budget * new_nodes))
    return min(limits) if limits else 0


__all__ = ["NewNodeAnswers", "SavedGate", "calls_for", "consult_new_nodes"]
