"""The consultation loop (LOGIN, "LLMs as consultants"): train, find the hard training nodes, ask the LLM, act on
its answers, retrain; repeat for several rounds and keep the round with the best validation accuracy.

Only training nodes are consulted and only training labels are shown or used to judge an answer: validation and
test labels never reach a prompt or a decision (they select and report models, as in plain training).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mentor.consult.actions import augment_text, dissimilar_edges, remove_edges
from mentor.consult.config import ConsultConfig
from mentor.consult.prompt import (
    NodeView,
    PromptOptions,
    TokenCounter,
    build_prompt,
    estimate_tokens,
    load_templates,
    neighbour_lists,
    prompt_hash,
)
from mentor.graph import (
    PseudoLabels,
    TextGraph,
    TrainConfig,
    TrainResult,
    load_dataset,
    mc_dropout_probs,
    select_uncertain,
    train_node_classifier,
    uncertainty_scores,
)
from mentor.graph.datasets.labels import class_descriptions
from mentor.graph.features import FeatureSpec, TextEncoder, make_encoder
from mentor.graph.predictions import PredictionTable
from mentor.graph.saved import GraphFingerprint
from mentor.graph.text_graph import Split
from mentor.graph.train import resolve_batch_size
from mentor.llm import ChatRequest, LLMClient

#: Characters of a node's text kept with each consultation record (for reports).
TEXT_EXCERPT = 300


@dataclass
class RoundReport:
    round: int
    planned: int
    consulted: int = 0
    answered: int = 0
    llm_correct: int = 0
    texts_augmented: int = 0
    edges_pruned: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    new_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    spent_cost: float = 0.0  # what the answers cost when they were made (also by an earlier, killed run)
    spent_llm_seconds: float = 0.0
    agree_with_gnn: int = 0
    agree_with_neighbour_majority: int = 0
    with_neighbour_majority: int = 0
    llm_seconds: float = 0.0
    train_seconds: float = 0.0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        answered = max(self.answered, 1)
        out = dict(self.__dict__)
        out["llm_accuracy"] = round(self.llm_correct / answered, 4) if self.answered else None
        out["echo_gnn_rate"] = round(self.agree_with_gnn / answered, 4) if self.answered else None
        out["echo_neighbours_rate"] = (
            round(self.agree_with_neighbour_majority / self.with_neighbour_majority, 4)
            if self.with_neighbour_majority
            else None
        )
        return out


@dataclass
class ConsultResult:
    config: ConsultConfig
    graph: TextGraph
    rounds: list[RoundReport]
    consultations: list[dict[str, Any]]
    best_round: int
    best: TrainResult
    stopped: str | None = None
    feature_seconds: float = 0.0  # encoding node texts into features (the first run on a graph encodes them all)
    split: Split | None = None

    @property
    def before(self) -> dict[str, dict[str, float]]:
        return self.rounds[0].metrics

    @property
    def after(self) -> dict[str, dict[str, float]]:
        return self.rounds[self.best_round].metrics

    def prediction_table(self) -> PredictionTable:
        """Every node's prediction by the best round's GNN (the loop never puts an answer on a node; the nodes
        it asked about are training nodes, whose given labels stand)."""
        asked = torch.zeros(self.graph.num_nodes, dtype=torch.bool)
        asked[[c["node"] for c in self.consultations]] = True
        return PredictionTable.from_probs(self.graph, self.best.probs, self.split, asked=asked)


ProgressHook = Callable[[str, RoundReport], None]


def exact_token_counter(client: LLMClient) -> TokenCounter:
    """Counts tokens with the teacher's own tokenizer (``client.count_tokens``), each distinct text once; where
    the teacher has none (an endpoint without a tokenizer route) the count is the estimate, as the client says."""
    counts: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in counts:
            counts[text] = client.count_tokens(text)[0]
        return counts[text]

    return count


class Consultation:
    """Run the loop for one graph, one backbone and one consultant (an :class:`~mentor.llm.LLMClient`)."""

    def __init__(self, config: ConsultConfig, client: LLMClient, *, graph: TextGraph | None = None,
                 encoder: TextEncoder | None = None, progress: bool = True) -> None:  # fmt: skip
        self.config = config
        self.client = client
        self.progress = progress
        self.graph = (graph or load_dataset(config.dataset, config.data_root, config.seed)).copy()
        self.fingerprint = GraphFingerprint.of(self.graph)  # as given: a run may change its texts and edges
        self.feature_spec: FeatureSpec | None = None  # how the latest features were made (saved with a model)
        if self.graph.texts is None:
            raise ValueError(f"{self.graph.name} has no node texts to show a consultant")
        if config.class_descriptions is not None:
            self.graph.class_descriptions = class_descriptions(config.class_descriptions, self.graph.class_names)
        split_name = config.split or ("public" if "public" in self.graph.splits else "random")
        self.split_name = split_name
        self.split = self.graph.split(split_name)
        if config.strategy == "login" and not bool(self.split.val.any()):
            raise ValueError(f"split {split_name} has no validation node: LOGIN's loop selects its round on "
                             "validation nodes (a few-label split takes them as few:K:V, V per class; the gated "
                             "strategy calibrates on the training labels instead)")  # fmt: skip
        self.known = torch.where(self.split.train, self.graph.y, torch.full_like(self.graph.y, -1))
        self.templates = load_templates(config.templates, config.context)
        self.options = PromptOptions(
            show_gnn_prediction=config.show_gnn_prediction,
            show_neighbour_labels=config.show_neighbour_labels,
            node_text_chars=config.node_text_chars,
            neighbour_text_chars=config.neighbour_text_chars,
            max_prompt_tokens=config.max_prompt_tokens,
            context=config.context,
            similar_k=config.similar_k,
            explain=config.explains,
        )
        self.count_tokens: TokenCounter = estimate_tokens
        if config.token_count == "exact":
            self.count_tokens = exact_token_counter(client)
        self.encoder = encoder if config.features == "bow" else encoder or make_encoder(config.features)
        self.prompt_features: Tensor | None = None  # context "similar": features of the texts as given
        if config.context == "similar":
            _, x = FeatureSpec.fit_transform(config.features, self.graph, encoder=self.encoder, progress=progress)
            self.prompt_features = F.normalize(x.float(), dim=-1)
        # without validation nodes a fixed number of epochs trains: the usual 200, or fewer if epochs says so
        unvalidated = min(config.epochs, TrainConfig.model_fields["unvalidated_epochs"].default)
        batch_size = resolve_batch_size(config.batch_size, self.graph.num_nodes, config.model)
        self.train_config = TrainConfig(model=config.model, epochs=config.epochs, patience=config.patience,
                                        seed=config.seed, unvalidated_epochs=unvalidated, batch_size=batch_size,
                                        fanout=config.fanout, device=config.device)  # fmt: skip
        self.feature_seconds = 0.0

    # -- pieces -------------------------------------------------------------------------------------------------

    def features(self) -> Tensor:
        """Features of the current node texts (time spent on it accumulates in ``feature_seconds``)."""
        started = time.perf_counter()
        self.feature_spec, x = FeatureSpec.fit_transform(self.config.features, self.graph, encoder=self.encoder,
                                                         progress=self.progress)  # fmt: skip
        self.feature_seconds += time.perf_counter() - started
        return x

    def train(self, x: Tensor, pseudo: PseudoLabels | None = None, split: Split | None = None) -> TrainResult:
        """The backbone trained on ``split`` (default: the run's) and ``pseudo``."""
        return train_node_classifier(x, self.graph.edge_index, self.graph.y, split or self.split, self.train_config,
                                     pseudo=pseudo, num_classes=self.graph.num_classes,
                                     features=self.feature_spec)  # fmt: skip

    def select(self, result: TrainResult, x: Tensor, k: int, round_: int, consulted: dict[int, tuple]) -> list[int]:
        """Training nodes to consult: not consulted before unless their neighbourhood changed since."""
        neighbours = neighbour_lists(self.graph.edge_index, self.graph.num_nodes)
        candidates = self.split.train.clone()
        for node, signature in consulted.items():
            if tuple(neighbours[node]) == signature:
                candidates[node] = False
        if self.config.select == "random":
            pool = candidates.nonzero().view(-1)
            generator = torch.Generator().manual_seed(self.config.seed * 1000 + round_)
            return sorted(pool[torch.randperm(pool.numel(), generator=generator)[:k]].tolist())
        probs = mc_dropout_probs(result.model, x, self.graph.edge_index, self.config.mc_passes,
                                 seed=self.config.seed * 1000 + round_)  # fmt: skip
        scores = uncertainty_scores(probs, self.config.uncertainty)
        return select_uncertain(scores, candidates, k).tolist()

    def view(self, result: TrainResult) -> NodeView:
        confidence, predictions = result.probs.max(dim=-1)
        return NodeView(
            texts=list(self.graph.texts or []),
            class_names=self.graph.class_names,
            known_labels=self.known,
            predictions=predictions,
            confidence=confidence,
            neighbours=neighbour_lists(self.graph.edge_index, self.graph.num_nodes),
            features=self.prompt_features,
            class_descriptions=self.graph.class_descriptions,
        )

    def requests(self, nodes: list[int], view: NodeView) -> list[ChatRequest]:
        return [build_prompt(node, view, self.options, self.templates, self.count_tokens) for node in nodes]

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(self, on_round: ProgressHook | None = None) -> ConsultResult:
        config = self.config
        x = self.features()
        started = time.perf_counter()
        result = self.train(x)
        baseline = RoundReport(round=0, planned=0, train_seconds=time.perf_counter() - started, metrics=result.metrics)
        reports, results = [baseline], [result]
        if on_round:
            on_round("trained", baseline)
        consultations: list[dict[str, Any]] = []
        consulted: dict[int, tuple] = {}
        plan = config.calls_per_round(int(self.split.train.sum()))
        stopped = None
        for round_, k in enumerate(plan, start=1):
            report = RoundReport(round=round_, planned=k)
            nodes = self.select(result, x, k, round_, consulted)
            view = self.view(result)
            requests = self.requests(nodes, view)
            llm_started = time.perf_counter()
            answers = self.client.complete_many(requests, progress=self.progress)
            report.llm_seconds = time.perf_counter() - llm_started
            augmented: dict[int, str] = {}
            wrong: list[int] = []
            for node, request, answer in zip(nodes, requests, answers, strict=True):
                consulted[node] = tuple(view.neighbours[node])
                record = self._record(round_, node, request, answer, view)
                report.consulted += 1
                if not answer.ok:
                    report.failures[answer.reason] = report.failures.get(answer.reason, 0) + 1
                    if answer.reason == "budget":
                        stopped = "budget"
                    consultations.append(record)
                    continue
                report.answered += 1
                report.calls += 1
                report.new_calls += 0 if answer.cached else 1
                report.prompt_tokens += answer.usage.prompt_tokens
                report.completion_tokens += answer.usage.completion_tokens
                report.cost += 0.0 if answer.cached else answer.cost
                report.spent_cost += answer.cost
                report.spent_llm_seconds += answer.latency_s
                report.agree_with_gnn += record["gnn_prediction"] == answer.label
                if record["neighbour_majority"] is not None:
                    report.with_neighbour_majority += 1
                    report.agree_with_neighbour_majority += record["neighbour_majority"] == answer.label
                if record["correct"]:
                    report.llm_correct += 1
                    if config.augment:
                        augmented[node] = answer.parsed.get("explanation", "")
                        record["action"] = "augment_text"
                elif config.prune:
                    wrong.append(node)
                    record["action"] = "prune_edges"
                consultations.append(record)
            self._apply(augmented, wrong, x, report, consultations)
            if report.texts_augmented:
                x = self.features()
            started = time.perf_counter()
            result = self.train(x)
            report.train_seconds = time.perf_counter() - started
            report.metrics = result.metrics
            reports.append(report)
            results.append(result)
            if on_round:
                on_round("round", report)
            if stopped:
                break
        best_round = max(range(len(reports)), key=lambda r: (reports[r].metrics["val"]["acc"], -r))
        return ConsultResult(config=config, graph=self.graph, rounds=reports, consultations=consultations,
                             best_round=best_round, best=results[best_round], stopped=stopped,
                             feature_seconds=self.feature_seconds, split=self.split)  # fmt: skip

    def _record(self, round_: int, node: int, request: ChatRequest, answer: Any, view: NodeView) -> dict[str, Any]:
        shown = [int(view.known_labels[u]) if int(view.known_labels[u]) >= 0 else int(view.predictions[u])
                 for u in view.neighbours[node]]  # fmt: skip
        majority = None
        if shown and (self.options.show_neighbour_labels or self.options.show_gnn_prediction):
            top = Counter(shown).most_common()
            if len(top) == 1 or top[0][1] > top[1][1]:
                majority = self.graph.class_names[top[0][0]]
        truth = int(self.known[node])
        label = answer.label if answer.ok else None
        return {
            "round": round_,
            "node": node,
            "node_id": self.graph.node_ids[node] if self.graph.node_ids else node,
            "split": "train",
            "text": (self.graph.texts or [])[node][:TEXT_EXCERPT],
            "prompt_hash": prompt_hash(request),
            "store_key": answer.key,
            "answer": label,
            "explanation": answer.parsed.get("explanation") if answer.ok and answer.parsed else None,
            "correct": label == self.graph.class_names[truth] if answer.ok else None,
            "gnn_prediction": self.graph.class_names[int(view.predictions[node])],
            "gnn_confidence": round(float(view.confidence[node]), 4),
            "neighbour_majority": majority,
            "cached": bool(answer.cached) if answer.ok else None,
            "failure": None if answer.ok else answer.reason,
            "action": "none",
            "pruned_neighbours": [],
        }

    def _apply(self, augmented: dict[int, str], wrong: list[int], x: Tensor, report: RoundReport,
               consultations: list[dict[str, Any]]) -> None:  # fmt: skip
        texts = self.graph.texts or []
        for node, explanation in augmented.items():
            new = augment_text(texts[node], explanation)
            report.texts_augmented += new != texts[node]
            texts[node] = new
        pairs = []
        by_node = {c["node"]: c for c in consultations if c["round"] == report.round}
        for node in wrong:
            dropped = dissimilar_edges(node, x, self.graph.edge_index, self.config.prune_threshold)
            by_node[node]["pruned_neighbours"] = dropped
            pairs += [(node, u) for u in dropped]
        before = self.graph.edge_index.size(1)
        self.graph.data.edge_index = remove_edges(self.graph.edge_index, pairs)
        report.edges_pruned = (before - self.graph.edge_index.size(1)) // 2
