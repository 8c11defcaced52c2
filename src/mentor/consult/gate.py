"""The gate of the gated strategy: how the LLM's answers are combined with the GNN, learned on validation nodes.

Two rules, both fitted on *calibration* nodes (validation nodes the LLM was asked about, with their labels):

- ``pool`` (default): the node's class distribution is the GNN's and the LLM's pooled log-linearly,
  ``p ∝ p_gnn^a · p_llm^w``, with ``a`` and ``w`` fitted by maximum likelihood on the calibration nodes. A weak
  LLM gets a small ``w`` (or none) and a strong one outvotes an unsure GNN; where the GNN is sure the pool keeps
  its answer. The gate opens when pooling gains at least ``min_gain`` calibration nodes *out of sample*: each
  node is judged by weights fitted on the others (leave-one-out), so a rule picked among many cannot open the
  gate on noise.
- ``route``: a node's prediction is the LLM's label when the GNN's confidence is at most ``tau`` and the LLM's
  confidence in its own answer is at least ``kappa`` (``tau`` tried halfway between consecutive calibration
  confidences); the rule that gains most calibration nodes (in sample) opens the gate if it gains ``min_gain``.

Test labels never reach this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Rule = Literal["pool", "route"]

#: ``route``: LLM-confidence thresholds tried: few, so that the rule does not chase the noise of a few dozen
#: nodes, and low enough for a small teacher whose label probabilities are flat (0.25-0.65 on WebKB for
#: Qwen2.5-1.5B).
KAPPAS: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.7, 0.9)
#: ``pool``: exponents tried for the GNN's distribution (a temperature) and for the LLM's.
GNN_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
LLM_WEIGHTS: tuple[float, ...] = tuple(i / 4 for i in range(17))  # 0, 0.25, ..., 4
#: With no label at all, the share of the LLM's first answers (its most confident) that is used.
LABEL_FREE_KEEP = 0.5
#: Probabilities are floored here before logarithms (a label the LLM gave 0 keeps a finite penalty).
FLOOR = 1e-4
#: Each rule's own fields in :meth:`Gate.as_dict`, reported only where they were fitted (see there).
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "pool": ("gnn_weight", "llm_weight"),
    "route": ("tau", "kappa", "routed", "llm_correct_routed", "gnn_correct_routed"),
}


@dataclass(frozen=True)
class Calibration:
    """One calibration node: its validation label and the GNN's and the LLM's class distributions."""

    node: int
    label: int
    gnn_probs: tuple[float, ...]
    llm_probs: tuple[float, ...]

    @property
    def gnn_confidence(self) -> float:
        return max(self.gnn_probs)

    @property
    def gnn_correct(self) -> bool:
        return _argmax(self.gnn_probs) == self.label

    @property
    def llm_confidence(self) -> float:
        return max(self.llm_probs)

    @property
    def llm_correct(self) -> bool:
        return _argmax(self.llm_probs) == self.label


@dataclass(frozen=True)
class Gate:
    """A fitted rule and the evidence it was chosen on (``gain``: calibration nodes it answers right minus the
    GNN's; out of sample for ``pool``). ``tau``, ``kappa`` and the ``routed`` counts belong to ``route``, the
    weights to ``pool``: a pool asks about any node while it is open, whatever ``tau`` and ``kappa`` say."""

    open: bool
    rule: Rule
    gain: int
    calibration_nodes: int
    llm_accuracy: float | None
    gnn_accuracy: float | None
    reason: str
    tau: float = -1.0
    kappa: float = 1.0
    routed: int = 0
    llm_correct_routed: int = 0
    gnn_correct_routed: int = 0
    gnn_weight: float = 1.0
    llm_weight: float = 0.0

    def routes(self, gnn_confidence: float, llm_confidence: float | None = None) -> bool:
        """Whether a node with these confidences is worth asking (``llm_confidence=None``) and its answer used."""
        if self.rule == "pool" or not self.open:
            return self.open  # an open pool asks about any node and combines every answer
        if gnn_confidence > self.tau:
            return False
        return llm_confidence is None or llm_confidence >= self.kappa

    def combine(self, gnn_probs: Sequence[float], llm_probs: Sequence[float]) -> list[float]:
        """The class distribution of a node whose answer is used (call only where :meth:`routes` says so)."""
        if self.rule == "route":
            return [float(v) for v in llm_probs]
        return pooled(gnn_probs, llm_probs, self.gnn_weight, self.llm_weight)

    def as_dict(self) -> dict[str, Any]:
        """The gate as ``result.json`` reports it: the rule's own fields only where they were fitted (a pool's
        weights once it saw a calibration answer; a route rule's thresholds and counts once it opened: a closed one
        routes nothing), never the other rule's placeholders. ``Gate(**as_dict())`` rebuilds it (floats to 4 places)."""
        fitted = self.calibration_nodes > 0 if self.rule == "pool" else self.open
        left_out = {name for rule, names in RULE_FIELDS.items() if rule != self.rule or not fitted for name in names}
        return {key: round(value, 4) if isinstance(value, float) else value
                for key, value in asdict(self).items() if key not in left_out}  # fmt: skip


def calibrate(nodes: Sequence[Calibration], min_gain: int = 2, rule: Rule = "pool") -> Gate:
    """The gate fitted on ``nodes`` with ``rule`` (see the module docstring)."""
    n = len(nodes)
    closed = Gate(open=False, rule=rule, gain=0, calibration_nodes=n,
                  llm_accuracy=sum(c.llm_correct for c in nodes) / n if n else None,
                  gnn_accuracy=sum(c.gnn_correct for c in nodes) / n if n else None,
                  reason="no calibration answers")  # fmt: skip
    if not n:
        return closed
    return _pool(nodes, min_gain, closed) if rule == "pool" else _route(nodes, min_gain, closed)


def confidence_gate(answers: Sequence[Sequence[float]], keep: float | None = None) -> Gate:
    """The gate where no label can calibrate one (no training label): the LLM's answers are used where its own
    confidence is among the ``keep`` share (default :data:`LABEL_FREE_KEEP`) highest of ``answers`` (its class
    distributions); a ``route`` rule with no GNN threshold."""
    keep = LABEL_FREE_KEEP if keep is None else keep
    confidences = sorted((max(a) for a in answers), reverse=True)
    if not confidences:
        return Gate(open=False, rule="route", gain=0, calibration_nodes=0, llm_accuracy=None, gnn_accuracy=None,
                    reason="no label and no LLM answer to start from")  # fmt: skip
    kappa = confidences[max(1, math.ceil(keep * len(confidences))) - 1]
    kept = sum(c >= kappa for c in confidences)
    return Gate(open=True, rule="route", gain=0, calibration_nodes=0, llm_accuracy=None, gnn_accuracy=None,
                tau=1.0, kappa=kappa, routed=kept,
                reason=f"no label to calibrate on: the LLM's answers with confidence >= {kappa:.3f} are used "
                f"({kept} of {len(confidences)} first answers)")  # fmt: skip


def pooled(gnn_probs: Sequence[float], llm_probs: Sequence[float], gnn_weight: float, llm_weight: float) -> list[float]:
    """``p_gnn^gnn_weight · p_llm^llm_weight``, normalised."""
    scores = _log_pool(np.asarray([gnn_probs]), np.asarray([llm_probs]), gnn_weight, llm_weight)[0]
    probs = np.exp(scores - scores.max())
    return (probs / probs.sum()).tolist()


# -- pool -------------------------------------------------------------------------------------------------------


def _log_pool(gnn: np.ndarray, llm: np.ndarray, a: float, w: float) -> np.ndarray:
    return a * np.log(np.maximum(gnn, FLOOR)) + w * np.log(np.maximum(llm, FLOOR))


def _pool(nodes: Sequence[Calibration], min_gain: int, closed: Gate) -> Gate:
    gnn = np.asarray([c.gnn_probs for c in nodes], dtype=float)
    llm = np.asarray([c.llm_probs for c in nodes], dtype=float)
    y = np.asarray([c.label for c in nodes])
    grid = [(a, w) for a in GNN_WEIGHTS for w in LLM_WEIGHTS]
    # Per weight pair and node: negative log-likelihood of the label, and whether the pool predicts it.
    nll = np.empty((len(grid), len(nodes)))
    right = np.empty((len(grid), len(nodes)), dtype=bool)
    for g, (a, w) in enumerate(grid):
        scores = _log_pool(gnn, llm, a, w)
        top = scores.max(axis=1, keepdims=True)
        log_probs = scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
        nll[g] = -log_probs[np.arange(len(nodes)), y]
        right[g] = scores.argmax(axis=1) == y
    total = nll.sum(axis=1)
    best = int(np.argmin(total))  # ties: the first, i.e. the smaller weights
    # Leave-one-out: node i is judged by the weights that fit the other nodes best.
    held_out = np.argmin(total[:, None] - nll, axis=0)
    gnn_right = gnn.argmax(axis=1) == y
    gain = int(right[held_out, np.arange(len(nodes))].sum() - gnn_right.sum())
    a, w = grid[best]
    fitted = {**asdict(closed), "gain": gain, "gnn_weight": a, "llm_weight": w}
    if w == 0 or gain < min_gain:
        verdict = ("the LLM adds nothing to the GNN on them" if gain <= 0 or w == 0
                   else "too little evidence that it helps")  # fmt: skip
        reason = f"pooling gains {gain} of {len(nodes)} calibration nodes out of sample (needs {min_gain}): " + verdict
        return Gate(**{**fitted, "open": False, "reason": reason})
    reason = (f"pooling (LLM weight {w:g}, GNN weight {a:g}) gains {gain} of {len(nodes)} calibration nodes "
              "out of sample")  # fmt: skip
    return Gate(**{**fitted, "open": True, "reason": reason})


# -- route ------------------------------------------------------------------------------------------------------


def _route(nodes: Sequence[Calibration], min_gain: int, closed: Gate) -> Gate:
    best: tuple[int, int, float] | None = None
    best_rule: tuple[float, float, int, int, int] | None = None
    levels = sorted({c.gnn_confidence for c in nodes})
    # A threshold halfway to the next calibration confidence (the highest one at the top: calibration nodes are
    # the least confident validation nodes, so nothing is known above them).
    thresholds = [(low + high) / 2 for low, high in zip(levels, levels[1:], strict=False)] + [levels[-1]]
    for tau in thresholds:
        for kappa in KAPPAS:
            routed = [c for c in nodes if c.gnn_confidence <= tau and c.llm_confidence >= kappa]
            llm_right = sum(c.llm_correct for c in routed)
            gnn_right = sum(c.gnn_correct for c in routed)
            score = (llm_right - gnn_right, len(routed), -kappa)
            if best is None or score > best:
                best, best_rule = score, (tau, kappa, len(routed), llm_right, gnn_right)
    assert best is not None and best_rule is not None
    tau, kappa, routed, llm_right, gnn_right = best_rule
    gain = llm_right - gnn_right
    n = len(nodes)
    if gain < min_gain:
        verdict = ("the LLM is not better than the GNN on any group of them" if gain <= 0
                   else "too little evidence that the LLM is better")  # fmt: skip
        reason = f"the best rule gains {gain} of {n} calibration nodes (needs {min_gain}): {verdict}"
        return Gate(**{**asdict(closed), "gain": gain, "reason": reason})
    return Gate(**{**asdict(closed), "open": True, "tau": tau, "kappa": kappa, "gain": gain, "routed": routed,
                   "llm_correct_routed": llm_right, "gnn_correct_routed": gnn_right,
                   "reason": f"routing gains {gain} of {n} calibration nodes"})  # fmt: skip


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def llm_distribution(
    label_probs: dict[str, float] | None, label: str | None, class_names: Sequence[str]
) -> list[float]:
    """The LLM's class distribution for one answer: its label probabilities where the backend gave them
    (renormalised over ``class_names``), else its label with half the mass and the rest spread evenly (the pool's
    weight then learns how far to trust a bare label)."""
    k = len(class_names)
    if label_probs:
        raw = [max(float(label_probs.get(name, 0.0)), 0.0) for name in class_names]
        total = sum(raw)
        if total > 0 and math.isfinite(total):
            return [v / total for v in raw]
    if label is None or label not in class_names:
        return [1.0 / k] * k
    return [0.5 + 0.5 / k if name == label else 0.5 / k for name in class_names]


__all__ = ["GNN_WEIGHTS", "KAPPAS", "LABEL_FREE_KEEP", "LLM_WEIGHTS", "RULE_FIELDS", "Calibration", "Gate", "Rule",
           "calibrate", "confidence_gate", "llm_distribution", "pooled"]  # fmt: skip
