"""The gate of the gated strategy: where the LLM's answer should replace the GNN's, learned on validation nodes.

A routing rule sends a node to the LLM when the GNN's confidence is at most ``tau`` and the LLM's confidence in its
own answer is at least ``kappa`` (``tau`` is tried halfway between consecutive calibration confidences). It is
chosen on *calibration* nodes (validation nodes the LLM was asked about) to maximise the number of them answered
right after routing, minus before. The gate opens only when the best rule gains at least ``min_gain`` calibration
nodes; otherwise no rule routes anything and no further call is spent.
Test labels never reach this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: LLM-confidence thresholds tried: few, so that the rule does not chase the noise of a few dozen nodes, and low
#: enough for a small teacher whose label probabilities are flat (0.25-0.65 on WebKB for Qwen2.5-1.5B).
KAPPAS: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.7, 0.9)


@dataclass(frozen=True)
class Calibration:
    """One calibration node: the GNN's confidence and correctness, the LLM's confidence and correctness."""

    node: int
    gnn_confidence: float
    gnn_correct: bool
    llm_confidence: float
    llm_correct: bool


@dataclass(frozen=True)
class Gate:
    """A routing rule and the evidence it was chosen on."""

    open: bool
    tau: float
    kappa: float
    gain: int
    calibration_nodes: int
    routed: int
    llm_correct_routed: int
    gnn_correct_routed: int
    llm_accuracy: float | None
    gnn_accuracy: float | None
    reason: str

    def routes(self, gnn_confidence: float, llm_confidence: float | None = None) -> bool:
        """Whether a node with these confidences goes to the LLM (``llm_confidence=None``: not asked yet)."""
        if not self.open or gnn_confidence > self.tau:
            return False
        return llm_confidence is None or llm_confidence >= self.kappa

    def as_dict(self) -> dict[str, Any]:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


def calibrate(nodes: Sequence[Calibration], min_gain: int = 2, kappas: Sequence[float] = KAPPAS) -> Gate:
    """The rule with the largest gain on ``nodes`` (ties: more nodes routed, then the lower ``kappa``)."""
    n = len(nodes)
    llm_accuracy = sum(c.llm_correct for c in nodes) / n if n else None
    gnn_accuracy = sum(c.gnn_correct for c in nodes) / n if n else None
    closed = Gate(open=False, tau=-1.0, kappa=1.0, gain=0, calibration_nodes=n, routed=0, llm_correct_routed=0,
                  gnn_correct_routed=0, llm_accuracy=llm_accuracy, gnn_accuracy=gnn_accuracy,
                  reason="no calibration answers")  # fmt: skip
    if not n:
        return closed
    best: tuple[int, int, float] | None = None
    best_rule: tuple[float, float, int, int, int] | None = None
    levels = sorted({c.gnn_confidence for c in nodes})
    # A threshold halfway to the next calibration confidence (the highest one at the top: calibration nodes are
    # the least confident validation nodes, so nothing is known above them).
    thresholds = [(low + high) / 2 for low, high in zip(levels, levels[1:], strict=False)] + [levels[-1]]
    for tau in thresholds:
        for kappa in kappas:
            routed = [c for c in nodes if c.gnn_confidence <= tau and c.llm_confidence >= kappa]
            llm_right = sum(c.llm_correct for c in routed)
            gnn_right = sum(c.gnn_correct for c in routed)
            score = (llm_right - gnn_right, len(routed), -kappa)
            if best is None or score > best:
                best, best_rule = score, (tau, kappa, len(routed), llm_right, gnn_right)
    assert best is not None and best_rule is not None
    tau, kappa, routed, llm_right, gnn_right = best_rule
    gain = llm_right - gnn_right
    if gain < min_gain:
        verdict = ("the LLM is not better than the GNN on any group of them" if gain <= 0
                   else "too little evidence that the LLM is better")  # fmt: skip
        reason = f"the best rule gains {gain} of {n} calibration nodes (needs {min_gain}): {verdict}"
        return Gate(**{**asdict(closed), "gain": gain, "reason": reason})
    return Gate(open=True, tau=tau, kappa=kappa, gain=gain, calibration_nodes=n, routed=routed,
                llm_correct_routed=llm_right, gnn_correct_routed=gnn_right, llm_accuracy=llm_accuracy,
                gnn_accuracy=gnn_accuracy, reason=f"routing gains {gain} of {n} calibration nodes")  # fmt: skip


__all__ = ["KAPPAS", "Calibration", "Gate", "calibrate"]
