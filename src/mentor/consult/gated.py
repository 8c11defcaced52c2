"""The gated strategy: ask the LLM about the nodes the GNN does not know, where validation says it pays.

1. Train the GNN on the training labels (round 0).
2. **Calibrate** on validation: ask the LLM about the validation nodes the GNN is least sure of (a share of the
   budget), and fit how its answers combine with the GNN's (:mod:`mentor.consult.gate`; by default a log-linear
   pool of the two class distributions, weighted by maximum likelihood). If that gains fewer than ``min_gain``
   calibration nodes out of sample, the gate stays closed and no further call is made. Calibration stops after its
   first half (of at least ``MIN_EARLY_CLOSE`` answers) when the LLM adds nothing there.
3. In each of ``rounds`` rounds, re-fit the gate on the calibration answers with the current GNN (no call), then
   ask about nodes without a training or validation label that it routes, until the budget is spent: a
   ``teaching`` share of the round's calls goes to *representative* nodes (k-means centres of neighbourhood-averaged
   features, :mod:`mentor.graph.representative`; by default half of them with at most 10 training labels per
   class, none otherwise), the rest to the least confident. An answer the gate accepts is used two ways, each
   switchable:
   - **cascade**: the node's final prediction is the combined one (pool: GNN and LLM pooled; route: the LLM's);
   - **teaching**: the combined label becomes a pseudo-label weighted by its combined probability (where that
     reaches ``teach_min_confidence``; with ``augment`` the explanation is appended to the node's text), and the
     GNN is retrained, so the small model itself learns.
4. Keep a retrained GNN unless its validation accuracy is lower than the kept one's by more than
   ``selection_margin`` (``selection="not-worse"``, the default), or only if it is higher by more than that
   (``"improve"``).

**Few labels, no validation part** (a ``few:K`` split): the gate calibrates on the training nodes instead. Their
GNN distributions are cross-fitted (``CALIBRATION_FOLDS`` GNNs, each trained without one fold and predicting it),
so the gate compares the LLM with what the GNN says of nodes it did not train on; the LLM is asked about them like
any node (blind prompts show no label). Nothing can select a round then: each retrained GNN is kept.

**No label at all** (``few:0``): the calibration share of the budget goes to representative nodes instead. No
label can calibrate a gate, so the LLM's own confidence is the gate (``confidence_gate``: the most confident half
of those first answers is used); they train round 0's GNN, and the rounds go on under that gate.

Labels used: training labels train (and, cross-fitted, calibrate where there is no validation part); validation
labels calibrate the gate and select the round, and calibration nodes are never pseudo-labelled; test labels are
read only to report the scores. Prompts are blind by default
(each node's own text and its neighbours' original texts), so they depend on the graph alone and the response
store answers each node once for every seed, backbone and arm.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mentor.consult.actions import augment_text
from mentor.consult.gate import Calibration, Gate, calibrate, confidence_gate, llm_distribution
from mentor.consult.loop import TEXT_EXCERPT, Consultation
from mentor.consult.prompt import NodeView, neighbour_lists, prompt_hash
from mentor.graph import PseudoLabels, Split, TrainResult
from mentor.graph.predictions import PredictionTable
from mentor.graph.representative import representative_nodes
from mentor.graph.train import mask_metrics
from mentor.llm import ChatRequest, Result
from mentor.progress import stage

EventHook = Callable[[str], None]
#: Calibration answers needed before the gate may close after the first half (fewer are too noisy to stop on).
MIN_EARLY_CLOSE = 10
#: Folds of the cross-fitted GNN distributions on training nodes (calibration without validation nodes).
CALIBRATION_FOLDS = 5


@dataclass
class Asked:
    """One consultation: which node, in which phase, and what came back."""

    node: int
    phase: str  # "calibration" or "round N"
    part: str  # "train" (cross-fitted calibration), "val", "test" or "unlabelled"
    request: ChatRequest
    answer: Result
    gnn_prediction: int
    gnn_confidence: float
    label: int | None = None  # the class index the LLM answered
    llm_probs: list[float] | None = None  # the LLM's class distribution (see gate.llm_distribution)
    accepted: bool = False
    combined: list[float] | None = None  # the class distribution the gate made of GNN and LLM, once accepted
    text: str = ""  # the start of the node's original text (for reports)
    chosen: str = "uncertain"  # why it was asked: "calibration", "uncertain" or "representative"

    @property
    def llm_confidence(self) -> float:
        """The LLM's probability of its answer."""
        return max(self.llm_probs) if self.llm_probs else 0.0

    @property
    def combined_label(self) -> int:
        assert self.combined is not None, "only an accepted answer has a combined label"
        return max(range(len(self.combined)), key=lambda i: (self.combined[i], -i))


@dataclass
class GatedRound:
    round: int
    gate: Gate
    asked: int = 0
    answered: int = 0
    accepted: int = 0
    texts_augmented: int = 0
    representative: int = 0  # of the nodes asked, chosen to teach (k-means centres) rather than as least confident
    pseudo_labels: int = 0
    filtered: int = 0  # accepted answers not taught: their combined probability is below the minimum
    val_acc: float | None = None
    kept: bool = False
    train_seconds: float = 0.0
    llm_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["gate"] = self.gate.as_dict()
        return out


@dataclass
class GatedResult:
    config: Any
    graph: Any
    split: Any
    before: TrainResult
    selected: TrainResult
    selected_round: int
    calibration_gate: Gate
    rounds: list[GatedRound]
    asked: list[Asked]
    predictions: Tensor  # final: cascade over the selected GNN
    last: TrainResult  # the GNN of the last round, kept or not (a diagnostic)
    llm_seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)
    feature_seconds: float = 0.0  # encoding node texts into features (the first run on a graph encodes them all)
    train_seconds: float = 0.0  # training the GNN: round 0 and every retraining
    label_free: bool = False  # no training label: round 0's GNN learned from the LLM's seed labels alone
    teaching: float = 0.0  # the share of each round's calls that went to representative nodes (default resolved)

    # -- what decided the run (the no-leakage tests compare these under poisoned test labels) ------------------

    def decisions(self) -> dict[str, Any]:
        return {
            "asked": [(a.phase, a.node, a.chosen, prompt_hash(a.request)) for a in self.asked],
            "accepted": [a.node for a in self.asked if a.accepted],
            "gates": [r.gate.as_dict() for r in self.rounds],
            "calibration_gate": self.calibration_gate.as_dict(),
            "selected_round": self.selected_round,
            "predictions": self.predictions.tolist(),
        }

    @property
    def answered(self) -> list[Asked]:
        return [a for a in self.asked if a.answer.ok]

    def prediction_table(self) -> PredictionTable:
        """Every node's final prediction: the selected GNN's, or, with the cascade, the gate's combination on an
        accepted node (source ``pooled``, or ``llm`` under the route rule); the selected GNN's own beside it."""
        gnn = self.selected.probs
        probs = gnn.clone()
        sources = ["gnn"] * self.graph.num_nodes
        if self.config.cascade:
            combined = "llm" if self.config.combine == "route" else "pooled"
            for item in self.asked:
                if item.accepted and item.combined is not None:
                    probs[item.node] = torch.tensor(item.combined, dtype=probs.dtype)
                    sources[item.node] = combined
        asked = torch.zeros(self.graph.num_nodes, dtype=torch.bool)
        asked[[a.node for a in self.asked]] = True
        return PredictionTable.from_probs(self.graph, probs, self.split, sources=sources, asked=asked, gnn_probs=gnn)


class GatedConsultation(Consultation):
    """The gated strategy for one graph, one backbone and one consultant; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.original_texts = list(self.graph.texts or [])
        self.neighbours = neighbour_lists(self.graph.edge_index, self.graph.num_nodes)
        if not bool(self.split.train.any()) and self.options.show_gnn_prediction:
            raise ValueError(f"split {self.split_name} has no training label, so the first prompts cannot show a GNN "
                             "prediction: leave show_gnn_prediction off")  # fmt: skip

    # -- prompts ------------------------------------------------------------------------------------------------

    def prompt_view(self, result: TrainResult | None) -> NodeView:
        """What prompts may show: the original texts (never our augmentations), training labels and, when the
        options show them, the GNN's predictions."""
        n = self.graph.num_nodes
        if result is None:
            predictions, confidence = torch.zeros(n, dtype=torch.long), torch.zeros(n)
        else:
            confidence, predictions = result.probs.max(dim=-1)
        return NodeView(texts=self.original_texts, class_names=self.graph.class_names, known_labels=self.known,
                        predictions=predictions, confidence=confidence, neighbours=self.neighbours,
                        features=self.prompt_features,
                        class_descriptions=self.graph.class_descriptions)  # fmt: skip

    def blind_requests(self, nodes: list[int]) -> list[ChatRequest]:
        """The prompts of ``nodes`` as this strategy sends them, when they are blind (they need no GNN)."""
        if self.options.show_gnn_prediction or self.options.show_neighbour_labels:
            raise ValueError("blind_requests: these prompts show GNN predictions or labels, so they need a GNN")
        return self.requests(nodes, self.prompt_view(None))

    # -- the strategy -------------------------------------------------------------------------------------------

    def run(self, on_event: EventHook | None = None) -> GatedResult:  # type: ignore[override]
        config, split = self.config, self.split
        say = on_event or (lambda _message: None)
        stage(f"features: {config.features} for {self.graph.num_nodes} nodes", enabled=self.progress)
        x = self.features()
        budget = config.budget_calls(self.graph.num_nodes)
        label_free = not bool(split.train.any())
        per_class = int(split.train.sum()) / max(self.graph.num_classes, 1)
        teaching = config.teaching_share(per_class)
        asked: list[Asked] = []
        accepted: dict[int, Asked] = {}
        llm_seconds = 0.0

        def ask(nodes: list[int], phase: str, result: TrainResult | None,
                chosen: set[int] | frozenset[int] = frozenset()) -> list[Asked]:  # fmt: skip
            nonlocal llm_seconds
            requests = self.requests(nodes, self.prompt_view(result))
            started = time.perf_counter()
            answers = self.client.complete_many(requests, progress=self.progress,
                                                label=f"{phase}, asking {self.client.model}")  # fmt: skip
            llm_seconds += time.perf_counter() - started
            n = self.graph.num_nodes
            probs = result.probs if result is not None else torch.zeros(n, self.graph.num_classes)
            confidence, prediction = probs.max(dim=-1)
            batch = []
            names = self.graph.class_names
            for node, request, answer in zip(nodes, requests, answers, strict=True):
                label = names.index(answer.label) if answer.ok else None
                distribution = llm_distribution(answer.label_probs, answer.label, names) if answer.ok else None
                batch.append(Asked(node=node, phase=phase, part=self._part(node), request=request, answer=answer,
                                   gnn_prediction=int(prediction[node]), gnn_confidence=float(confidence[node]),
                                   label=label, llm_probs=distribution,
                                   text=self.original_texts[node][:TEXT_EXCERPT],
                                   chosen=("calibration" if phase == "calibration" else
                                           "representative" if node in chosen else "uncertain")))  # fmt: skip
            asked.extend(batch)
            return batch

        def pseudo_labels() -> PseudoLabels:
            """The accepted answers that teach: those whose combined probability reaches the minimum."""
            nodes = [v for v in sorted(accepted) if max(accepted[v].combined or [0.0]) >= config.teach_min_confidence]
            return PseudoLabels(nodes=torch.tensor(nodes, dtype=torch.long),
                                labels=torch.tensor([accepted[v].combined_label for v in nodes], dtype=torch.long),
                                weights=torch.tensor([max(accepted[v].combined or [0.0]) for v in nodes]))  # fmt: skip

        pool = ~(split.train | split.val)
        started = time.perf_counter()
        if label_free:
            # No label at all: the LLM labels representative nodes (blind prompts), its most confident answers are
            # kept (the gate is its own confidence: nothing can calibrate it) and train round 0's GNN.
            seeds, _ = self.first_nodes(x)
            gate = confidence_gate([a.llm_probs for a in ask(seeds, "seed labels", None, set(seeds))
                                    if a.answer.ok and a.llm_probs is not None])  # fmt: skip
            for item in asked:
                if item.answer.ok and gate.routes(0.0, item.llm_confidence):
                    assert item.llm_probs is not None
                    item.accepted, item.combined = True, list(item.llm_probs)
                    accepted[item.node] = item
            first = pseudo_labels()
            if not first.nodes.numel():
                raise ValueError("no training label, and none of the LLM's first answers is usable (answered, and "
                                 "as confident as teach_min_confidence asks): nothing to train the GNN on")  # fmt: skip
            stage(f"training: {config.model} on {first.nodes.numel()} LLM labels (round 0, no training label)",
                  enabled=self.progress)  # fmt: skip
            before = self.train(x, pseudo=first)
        else:
            stage(f"training: {config.model} on the training labels (round 0)", enabled=self.progress)
            before = self.train(x)
        train_seconds = time.perf_counter() - started
        val = before.metrics.get("val")
        say(f"round 0 (GNN {'on the LLM seed labels' if label_free else 'alone'}): val "
            f"{'–' if val is None else format(val['acc'], '.4f')}, train {train_seconds:.1f} s")  # fmt: skip

        cross_fitted = None
        if label_free:
            calibration: list[Asked] = []
            say(f"no training label: {len(asked)} representative nodes asked, {len(accepted)} answers kept; "
                f"{gate.reason}")  # fmt: skip
        else:
            # Calibration: the least confident validation nodes (else the training nodes, cross-fitted), in halves.
            order, cross_fitted = self.first_nodes(x, before)
            reference = before.probs if cross_fitted is None else cross_fitted
            half = math.ceil(len(order) / 2)
            calibration = ask(order[:half], "calibration", before)
            checked = self._checked(calibration, reference)
            gate = self._calibrate(checked)
            if config.combine == "pool":
                hopeless = gate.gain <= 0
            else:
                hopeless = sum(c.llm_correct for c in checked) < sum(c.gnn_correct for c in checked)
            early_close = len(calibration) >= MIN_EARLY_CLOSE and hopeless and not gate.open
            if order[half:] and not early_close:
                calibration += ask(order[half:], "calibration", before)
                gate = self._calibrate(self._checked(calibration, reference))
            say(f"calibration on {len(calibration)} {'validation' if cross_fitted is None else 'training'} nodes: "
                f"gate {'open' if gate.open else 'closed'} ({gate.reason})")  # fmt: skip
        calibration_gate = gate

        # Rounds: ask what the rule routes (a share chosen to teach), accept, teach, retrain.
        reports: list[GatedRound] = []
        current, kept, kept_round = before, before, 0
        rounds = config.rounds if config.teach else 1
        for round_ in range(1, rounds + 1):
            if round_ > 1 and cross_fitted is None and not label_free:  # cross-fitted distributions stay round 0's
                gate = self._calibrate(self._checked(calibration, current.probs))
            report = GatedRound(round=round_, gate=gate)
            reports.append(report)
            if not gate.open:
                break
            remaining = budget - len(asked)
            confidence = current.probs.max(dim=-1).values
            consulted = {a.node for a in asked}
            eligible = sorted((v for v in pool.nonzero().view(-1).tolist()
                               if v not in consulted and gate.routes(float(confidence[v]))),
                              key=lambda v: (float(confidence[v]), v))  # fmt: skip
            quota = math.ceil(remaining / (rounds - round_ + 1)) if remaining > 0 else 0
            nodes, chosen = self.round_nodes(x, eligible, quota, teaching if config.teach else 0.0)
            report.representative = len(chosen)
            llm_before = llm_seconds
            batch = ask(nodes, f"round {round_}", current, chosen) if nodes else []
            report.llm_seconds = llm_seconds - llm_before
            report.asked, report.answered = len(batch), sum(a.answer.ok for a in batch)
            gnn_probs = current.probs
            for item in batch:
                if item.answer.ok and gate.routes(item.gnn_confidence, item.llm_confidence):
                    assert item.llm_probs is not None
                    item.accepted = True
                    item.combined = gate.combine(gnn_probs[item.node].tolist(), item.llm_probs)
                    accepted[item.node] = item
            report.accepted = sum(a.accepted for a in batch)
            if config.teach and report.accepted:
                if config.augment:
                    report.texts_augmented = self._augment([a for a in batch if a.accepted])
                    if report.texts_augmented:
                        x = self.features()
                pseudo = pseudo_labels()
                started = time.perf_counter()
                stage(f"round {round_}: retraining with {pseudo.nodes.numel()} pseudo-labels", enabled=self.progress)
                current = self.train(x, pseudo=pseudo)
                report.train_seconds = time.perf_counter() - started
                report.pseudo_labels = pseudo.nodes.numel()
                report.filtered = len(accepted) - report.pseudo_labels
                val = current.metrics.get("val")
                report.val_acc = None if val is None else val["acc"]
                if report.val_acc is None or self._keeps(report.val_acc, kept.metrics["val"]["acc"]):
                    kept, kept_round = current, round_  # without validation nodes nothing selects: keep it
            say(f"round {round_}: asked {report.asked} ({report.representative} to teach), answered "
                f"{report.answered}, accepted {report.accepted}"
                + (f", retrained: val {report.val_acc:.4f}{' (kept)' if kept_round == round_ else ''}"
                   if report.val_acc is not None else ""))  # fmt: skip
            if not batch:
                break
        for report in reports:
            report.kept = report.round == kept_round
        predictions = kept.probs.argmax(dim=-1).clone()
        if config.cascade:
            for node, item in accepted.items():
                predictions[node] = item.combined_label
        failures = Counter(a.answer.reason for a in asked if not a.answer.ok)
        return GatedResult(config=config, graph=self.graph, split=split, before=before, selected=kept,
                           selected_round=kept_round, calibration_gate=calibration_gate,
                           rounds=reports, asked=asked, predictions=predictions, last=current, llm_seconds=llm_seconds,
                           failures=dict(failures), feature_seconds=self.feature_seconds, label_free=label_free,
                           teaching=teaching,
                           train_seconds=train_seconds + sum(r.train_seconds for r in reports))  # fmt: skip

    # -- pieces -------------------------------------------------------------------------------------------------

    def first_nodes(self, x: Tensor, before: TrainResult | None = None) -> tuple[list[int], Tensor | None]:
        """The nodes a run asks about first, and the cross-fitted distributions of the training nodes where they
        calibrate the gate (else ``None``): with no training label, representative nodes (a ``calibration`` share
        of the budget) whose answers are the first labels; else :meth:`calibration_nodes` by round 0's GNN
        (``before``, trained here if not given)."""
        budget = self.config.budget_calls(self.graph.num_nodes)
        if not bool(self.split.train.any()):
            pool = ~(self.split.train | self.split.val)
            count = min(int(pool.sum()), max(1, round(self.config.calibration * budget)))
            return self.representative(x, pool, count), None
        before = before if before is not None else self.train(x)
        cross_fitted = None if bool(self.split.val.any()) else self.out_of_fold(x)
        return self.calibration_nodes(before, cross_fitted), cross_fitted

    def calibration_nodes(self, before: TrainResult, reference: Tensor | None = None) -> list[int]:
        """The nodes asked to calibrate the gate, a share of the budget: the validation nodes the GNN is least sure
        of; on a split without validation nodes, the training nodes by their cross-fitted ``reference``
        distributions."""
        budget = self.config.budget_calls(self.graph.num_nodes)
        part = self.split.val if bool(self.split.val.any()) else self.split.train
        count = min(int(part.sum()), max(1, round(self.config.calibration * budget)))
        confidence = (before.probs if reference is None else reference).max(dim=-1).values
        return sorted(part.nonzero().view(-1).tolist(), key=lambda v: (float(confidence[v]), v))[:count]

    def round_nodes(self, x: Tensor, eligible: list[int], quota: int, teaching: float) -> tuple[list[int], set[int]]:
        """The nodes a round asks about, and which of them were chosen to teach: ``round(teaching * quota)``
        representative nodes among ``eligible`` (:meth:`representative`), the rest the first of ``eligible`` (the
        least confident) not already chosen."""
        quota = min(quota, len(eligible))
        count = round(teaching * quota)
        chosen: set[int] = set()
        if count:
            mask = torch.zeros(self.graph.num_nodes, dtype=torch.bool)
            mask[eligible] = True
            chosen = set(self.representative(x, mask, count))
        rest = [v for v in eligible if v not in chosen][: quota - len(chosen)]
        return rest + sorted(chosen), chosen

    def representative(self, x: Tensor, mask: Tensor, count: int) -> list[int]:
        """``count`` nodes where ``mask`` is true that stand for many others: k-means centres of the features
        averaged over each node's neighbourhood (:func:`~mentor.graph.representative.representative_nodes`)."""
        nodes = representative_nodes(x, mask, count, seed=self.config.seed, edge_index=self.graph.edge_index)
        return nodes.tolist()

    def out_of_fold(self, x: Tensor) -> Tensor:
        """Class distributions of the training nodes from GNNs that did not train on them: the training nodes cut
        into ``CALIBRATION_FOLDS`` folds (seeded), one GNN per fold trained on the others (rows of other nodes are
        zero). Calibration on them is then as honest as on held-out validation nodes."""
        train = self.split.train.nonzero().view(-1)
        generator = torch.Generator().manual_seed(self.config.seed)
        order = train[torch.randperm(train.numel(), generator=generator)]
        probs = torch.zeros(self.graph.num_nodes, self.graph.num_classes)
        for fold in order.tensor_split(min(CALIBRATION_FOLDS, train.numel())):
            held_out = torch.zeros_like(self.split.train)
            held_out[fold] = True
            result = self.train(x, split=Split(self.split.train & ~held_out, self.split.val, held_out))
            probs[fold] = result.probs[fold]
        return probs

    def _keeps(self, new: float, kept: float) -> bool:
        """Whether a retrained GNN with validation accuracy ``new`` replaces the kept one (``kept``).

        Validation nodes are never pseudo-labelled, so teaching cannot raise their accuracy by fitting answers;
        ``not-worse`` keeps what the gate-approved answers taught unless validation says it harmed the model."""
        margin = self.config.selection_margin
        return new >= kept - margin if self.config.selection == "not-worse" else new > kept + margin

    def _part(self, node: int) -> str:
        if bool(self.split.train[node]):
            return "train"
        if bool(self.split.val[node]):
            return "val"
        return "test" if bool(self.split.test[node]) else "unlabelled"

    def _calibrate(self, checked: list[Calibration]) -> Gate:
        return calibrate(checked, min_gain=self.config.min_gain, rule=self.config.combine)

    def _checked(self, calibration: list[Asked], probs: Tensor) -> list[Calibration]:
        """The answered calibration nodes with their (validation or training) labels and the GNN distribution
        ``probs`` gives them."""
        return [Calibration(node=a.node, label=int(self.graph.y[a.node]),
                            gnn_probs=tuple(probs[a.node].tolist()), llm_probs=tuple(a.llm_probs))
                for a in calibration
                if a.answer.ok and a.part in ("val", "train") and a.llm_probs is not None]  # fmt: skip

    def _augment(self, items: list[Asked]) -> int:
        texts = self.graph.texts or []
        changed = 0
        for item in items:
            new = augment_text(texts[item.node], item.answer.parsed.get("explanation", ""))
            changed += new != texts[item.node]
            texts[item.node] = new
        return changed


def subset_metrics(predictions: Tensor, y: Tensor, mask: Tensor) -> dict[str, float | int] | None:
    """:func:`~mentor.graph.train.mask_metrics` with the number of nodes scored."""
    scores = mask_metrics(predictions, y, mask)
    return None if scores is None else {"nodes": int(mask.sum()), **scores}


__all__ = ["Asked", "GatedConsultation", "GatedResult", "GatedRound", "subset_metrics"]
