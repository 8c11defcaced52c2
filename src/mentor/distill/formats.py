"""What the student reads and writes: task prefixes, and the training rows each distillation mode makes.

Every row is a prompt and a target. ``predict: <input>`` → the answer and ``explain: <input>`` → the rationale
(Distilling step-by-step); ``answer: <input> / explanation: <rationale>`` → the answer is the consistency row,
which ties an answer to the explanation that supports it. ``answer-then-rationale`` writes one row per example,
``predict: <input>`` → the answer, a new line and the rationale: the input is read once, and the answer comes first,
so that a rationale cannot delay or cut it. At test time only the ``predict:`` prompt is used, and only the first
line of what the student writes is its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mentor.distill.tasks import Example, Task

Mode = Literal["finetune", "label", "step-by-step", "answer-then-rationale", "consistency"]
MODES: tuple[Mode, ...] = ("finetune", "label", "step-by-step", "answer-then-rationale", "consistency")
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
    given, follows the target on a new line and belongs to the ``explain`` term."""

    kind: Kind
    prompt: str
    target: str
    weight: float = 1.0
    rationale: str | None = None


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
    rows = [Row("predict", predict_prompt(example.input), answer)]
    if mode in ("step-by-step", "consistency") and example.rationale and weight > 0:
        rows.append(Row("explain", explain_prompt(example.input), example.rationale, weight))
        if mode == "consistency":
            rows.append(Row("consistency", consistency_prompt(example.input, example.rationale), answer, weight))
    return rows
