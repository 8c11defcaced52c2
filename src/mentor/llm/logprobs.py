"""The model's probability of each allowed label, read from the token log-probabilities of its reply.

A :class:`~mentor.llm.Labels` reply is a JSON object whose ``"label"`` value comes first. At the token where that
value begins, the backend reports the most likely alternatives (``top_logprobs``) under the model's own,
unconstrained distribution. Each alternative that starts a label (after the part of the token that precedes the
value, such as a quote) adds its probability to that label; an alternative that starts several labels (a shared
first token) is split evenly among them; alternatives that start no label are dropped. The result is normalised
over the labels, so it reads as the model's distribution over the allowed answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_LABEL_VALUE = re.compile(r'"label"\s*:\s*"')


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability and the most likely alternatives at its position."""

    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


def label_distribution(labels: Sequence[str], tokens: Sequence[TokenLogprob]) -> dict[str, float] | None:
    """``{label: probability}`` summing to 1, or ``None`` when the tokens do not show where the label begins."""
    text = "".join(t.token for t in tokens)
    match = _LABEL_VALUE.search(text)
    if match is None:
        return None
    offset, start = match.end(), 0
    for token in tokens:
        end = start + len(token.token)
        if start <= offset < end:
            prefix = text[start:offset]
            alternatives = dict(token.top)
            alternatives.setdefault(token.token, token.logprob)
            return _distribute(labels, prefix, alternatives)
        start = end
    return None


def _distribute(labels: Sequence[str], prefix: str, alternatives: dict[str, float]) -> dict[str, float] | None:
    mass = dict.fromkeys(labels, 0.0)
    for piece, logprob in alternatives.items():
        if not piece.startswith(prefix):
            continue
        rest = piece[len(prefix) :]
        if not rest:
            continue
        matching = [label for label in labels if label.startswith(rest) or rest.startswith(label + '"')]
        for label in matching:
            mass[label] += math.exp(logprob) / len(matching)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {label: value / total for label, value in mass.items()}


__all__ = ["TokenLogprob", "label_distribution"]
