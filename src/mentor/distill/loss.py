"""The multi-task distillation loss.

Every target token belongs to a loss term k ∈ {predict, explain, consistency}: a row's target to the row's kind,
and a rationale that follows or precedes an answer in one row (``answer-then-rationale``, ``rationale-then-answer``)
to ``explain``. With ℓ_{i,k} the mean token cross-entropy of row i over its tokens of term k and w_i the row's weight
(its consistency score, 1 when no scorer is used):

    L = Σ_k c_k · (Σ_{i has k} w_i ℓ_{i,k}) / (Σ_{i has k} w_i)

with c_predict = α, c_explain = 1 − α and c_consistency = λ (Distilling step-by-step is λ = 0; label-only modes
have predict tokens only and c_predict = 1). A term with no token in the batch adds nothing.
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


def term_losses(
    logits: torch.Tensor, labels: torch.Tensor, label_kinds: torch.Tensor, shift: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """ℓ_{i,k}, the mean cross-entropy of each row over its target tokens of each term, and which rows have
    tokens of which term (both ``rows × len(KINDS)``). ``shift`` for causal LMs, whose logit t predicts token t+1;
    ``logits`` may cover only the last columns (``logits_to_keep``): labels are aligned on the right."""
    if shift:
        logits, labels, label_kinds = logits[:, :-1], labels[:, 1:], label_kinds[:, 1:]
    width = logits.shape[1]
    labels, label_kinds = labels[:, labels.shape[1] - width :], label_kinds[:, label_kinds.shape[1] - width :]
    tokens = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
    member = (label_kinds.unsqueeze(-1) == torch.arange(len(KINDS), device=labels.device)).to(tokens.dtype)
    counts = member.sum(1)
    return (tokens.unsqueeze(-1) * member).sum(1) / counts.clamp(min=1), counts > 0


def multitask_loss(
    losses: torch.Tensor, present: torch.Tensor, weight: torch.Tensor, coefs: Mapping[str, float]
) -> tuple[torch.Tensor, dict[str, float]]:
    """L as defined above from :func:`term_losses`, and each term's weighted mean loss (for logging)."""
    total = losses.new_zeros(())
    parts: dict[str, float] = {}
    for index, name in enumerate(KINDS):
        mask = present[:, index]
        if name not in coefs or not bool(mask.any()):
            continue
        w = weight[mask]
        term = (w * losses[mask, index]).sum() / w.sum().clamp(min=1e-8)
        total = total + coefs[name] * term
        parts[name] = float(term.detach())
    return total, parts
