"""The multi-task distillation loss.

For a batch of rows, each of kind k ∈ {predict, explain, consistency} with weight w_i (its consistency score, 1 when
no scorer is used) and mean token cross-entropy ℓ_i over its target:

    L = Σ_k c_k · (Σ_{i ∈ k} w_i ℓ_i) / (Σ_{i ∈ k} w_i)

with c_predict = α, c_explain = 1 − α and c_consistency = λ (Distilling step-by-step is λ = 0; label-only modes
have predict rows only and c_predict = 1). A kind with no row in the batch adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from mentor.distill.encoding import IGNORE
from mentor.distill.formats import KINDS, Mode


def coefficients(mode: Mode, alpha: float = 0.5, consistency_weight: float = 0.5) -> dict[str, float]:
    """c_k for each kind under ``mode``."""
    if mode in ("finetune", "label"):
        return {"predict": 1.0}
    terms = {"predict": alpha, "explain": 1.0 - alpha}
    if mode == "consistency":
        terms["consistency"] = consistency_weight
    return terms


def row_losses(logits: torch.Tensor, labels: torch.Tensor, shift: bool) -> torch.Tensor:
    """Mean cross-entropy over each row's target tokens (``shift`` for causal LMs, whose logit t predicts t+1)."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    tokens = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
    counts = (labels != IGNORE).sum(1).clamp(min=1)
    return tokens.sum(1) / counts


def multitask_loss(
    losses: torch.Tensor, kind: torch.Tensor, weight: torch.Tensor, coefs: Mapping[str, float]
) -> tuple[torch.Tensor, dict[str, float]]:
    """L as defined above, and each kind's weighted mean loss (for logging)."""
    total = losses.new_zeros(())
    parts: dict[str, float] = {}
    for index, name in enumerate(KINDS):
        mask = kind == index
        if name not in coefs or not bool(mask.any()):
            continue
        w = weight[mask]
        term = (w * losses[mask]).sum() / w.sum().clamp(min=1e-8)
        total = total + coefs[name] * term
        parts[name] = float(term.detach())
    return total, parts
