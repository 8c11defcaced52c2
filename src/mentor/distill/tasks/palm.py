"""Parsers of the PaLM-540B chain-of-thought completions recorded by the Distilling step-by-step authors.

Each completion usually runs on into the next few-shot exemplar; it is cut there, then split into the rationale
and the answer the way the authors' own loader does. A completion that does not parse gives ``None`` (counted by
the loaders), never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Parsed = tuple[str, str] | None  # (rationale, label)


def _split_on(text: str, cut: str, marker: str) -> tuple[str, str] | None:
    head = text.split(cut)[0].rstrip()
    if marker not in head:
        return None
    rationale, _, rest = head.partition(marker)
    return rationale.strip(), rest


def parse_cqa(text: str) -> Parsed:
    """``… So the answer is (d) math problem.`` → the choice text."""
    parts = _split_on(text, "Q:", "So the answer is")
    if parts is None:
        return None
    rationale, rest = parts
    match = re.search(r"\([a-e]\)\s*(.+)", rest)
    label = (match.group(1) if match else rest).strip().rstrip(".").strip()
    return (rationale, label) if rationale and label else None


def parse_svamp(text: str) -> Parsed:
    """``… The answer is (84 / 2).`` → the parenthesised expression."""
    parts = _split_on(text, "Q:", "The answer is")
    if parts is None:
        return None
    rationale, rest = parts
    match = re.search(r"\(.*\)", rest)
    return (rationale, match.group(0)) if rationale and match else None


def parse_esnli(text: str) -> Parsed:
    """``<rationale>\\nAnswer: neutral\\n\\nPremise: …`` → the word after ``Answer:``."""
    if "Answer: " not in text:
        return None
    rationale = text.split("Answer:")[0].strip()
    label = text.split("Answer: ")[1].split("Premise")[0].strip().rstrip(".").strip()
    return (rationale, label) if rationale and label else None


def parse_anli(text: str) -> Parsed:
    """``… So the answer is contradiction.\\n\\nPremise: …`` → the word after the marker."""
    parts = _split_on(text, "Premise:", "So the answer is")
    if parts is None:
        return None
    rationale, rest = parts
    label = rest.strip().rstrip(".").strip()
    return (rationale, label) if rationale and label else None


PARSERS: dict[str, Callable[[str], Parsed]] = {
    "cqa": parse_cqa,
    "svamp": parse_svamp,
    "esnli": parse_esnli,
    "anli1": parse_anli,
}
