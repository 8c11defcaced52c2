"""What the student reads and writes: task prefixes, and the training rows each distillation mode makes.

Every row is a prompt and a target. ``predict: <input>`` → the answer and ``explain: <input>`` → the rationale
(Distilling step-by-step); ``answer: <input> / explanation: <rationale>`` → the answer is the consistency row,
which ties an answer to the explanation that supports it. ``answer-then-rationale`` writes one row per example,
``predict: <input>`` → the answer, a new line and the rationale: the input is read once, and the answer comes first,
so that a rationale cannot delay or cut it. ``rationale-then-answer`` (chain-of-thought fine-tuning) writes the
rationale first and the answer on the line after it: the student reasons before it answers, at test time too. At test
time only the ``predict:`` prompt is used, and the student's answer is the first line of what it writes, or the last
line in the modes that reason first (:data:`REASONS_FIRST`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mentor.distill.tasks import Example, Task

Mode = Literal["finetune", "label", "step-by-step", "answer-then-rationale", "rationale-then-answer", "consistency"]
MODES: tuple[Mode, ...] = (
    "finetune",
    "label",
    "step-by-step",
    "answer-then-rationale",
    "rationale-then-answer",
    "consistency",
)
#: modes whose student writes its rationale before its answer, at test time too (the answer is its last line)
REASONS_FIRST: tuple[Mode, ...] = ("rationale-then-answer",)
Kind = Literal["predict", "explain", "consistency"]
KINDS: tuple[Kind, ...] = ("predict", "explain", "consistency")


def predict_prompt(text: str) -> str:
    return f"predict: {text}\n"


def explain_prompt(text: str) -> str:
    return f"explain: {text}\n"


def consistency_prompt(text: str, rationale: str) -> str:
    return f"answer: {text}\nexplanation: {rationale}\n"


@dataclass(frozen=True)
class Row:
    """One training pair, with the loss term its target belongs to and its weight in that term; ``rationale``, when
    given, belongs to the ``explain`` term and follows the target on a new line, or precedes it with
    ``rationale_first``."""

    kind: Kind
    prompt: str
    target: str
    weight: float = 1.0
    rationale: str | None = None
    rationale_first: bool = False


def answer_target(example: Example, mode: Mode) -> str | None:
    """The answer the student learns for ``example``: gold for ``finetune``, the teacher's for ``label``, and for
    the rationale modes gold where the data set has it, else the teacher's."""
    if mode == "finetune":
        return example.label
    if mode == "label":
        return example.teacher_label
    return example.label if example.label is not None else example.teacher_label


def disagrees_with_gold(example: Example, task: Task) -> bool:
    """Whether ``example``'s rationale backs an answer other than its gold label: the teacher's answer is
    missing or wrong. False where there is no rationale or no gold label to check it against."""
    return bool(example.rationale) and example.label is not None and not task.is_correct(example.teacher_label, example)


def rows_for(example: Example, mode: Mode, weight: float = 1.0) -> list[Row]:
    """The rows ``example`` contributes under ``mode``; ``weight`` (a consistency score) scales the rationale and
    consistency rows, and a weight of 0 drops them."""
    answer = answer_target(example, mode)
    if answer is None:
        return []
    if mode == "answer-then-rationale":
        return [Row("predict", predict_prompt(example.input), answer, rationale=example.rationale or None)]
    if mode == "rationale-then-answer":
        rationale = " ".join(example.rationale.split()) if example.rationale else None  # one line: the answer is next
        return [Row("predict", predict_prompt(example.input), answer, rationale=rationale, rationale_first=True)]
    rows = [Row("predict", predict_prompt(example.input), answer)]
    if mode in ("step-by-step", "consistency") and example.rationale and weight > 0:
        rows.append(Row("explain", explain_prompt(example.input), example.rationale, weight))
        if mode == "consistency":
            rows.append(Row("consistency", consistency_prompt(example.input, example.rationale), answer, weight))
    return rows


def read_answer(written: str, reasons_first: bool = False) -> str:
    """The answer in what a student wrote: its first line, or its last for a student that reasons first
    (:data:`REASONS_FIRST`; reasoning cut off before its answer line gives that unfinished line instead)."""
    lines = [line.strip() for line in written.strip().split("\n") if line.strip()]
    if not lines:
        return ""
    return lines[-1] if reasons_first else lines[0]
