"""What every distillation task provides: examples with gold and teacher fields, and a way to score answers."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace

from mentor.distill.arithmetic import NotArithmetic, evaluate, variants


@dataclass(frozen=True)
class Example:
    """One task input with what is known about its answer.

    ``label`` is the gold answer (None when the data set has none); ``teacher_label`` and ``rationale`` are a
    teacher's answer and its explanation (None when there is no teacher output, or it could not be parsed).
    """

    id: str
    input: str
    label: str | None = None
    teacher_label: str | None = None
    rationale: str | None = None
    choices: tuple[str, ...] = ()

    def with_teacher(self, label: str | None, rationale: str | None) -> Example:
        return replace(self, teacher_label=label, rationale=rationale)


@dataclass
class TaskData:
    """A task's examples: ``train`` (validation is carved from it by the trainer) and ``test``."""

    task: Task
    train: list[Example]
    test: list[Example]
    source: str = ""
    teacher_parse_failures: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> list[Example]:
        if name not in ("train", "test"):
            raise ValueError(f"split {name!r}: expected 'train' or 'test'")
        return self.train if name == "train" else self.test


def normalise(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation: ``" (D) Math problem. "`` → ``"(d) math problem"``."""
    return re.sub(r"\s+", " ", text).strip().strip(".").strip().lower()


class Task(ABC):
    """A task: its name, its answer format and how a predicted answer is checked."""

    name: str
    #: the fixed answer set, when there is one (classification); None for free-form answers
    labels: tuple[str, ...] | None = None
    #: what the teacher is asked to end with, shown in prompts
    answer_format: str = "the answer"
    #: whether a consistency scorer trains against :meth:`near_misses` by default (``ScorerConfig.negatives``)
    scorer_near_misses: bool = True

    @abstractmethod
    def answer_of(self, predicted: str, example: Example) -> str | None:
        """The answer a student or teacher output stands for, in the form of ``example.label``; None if none."""

    def is_correct(self, predicted: str | None, example: Example, gold: str | None = None) -> bool:
        """Whether ``predicted`` answers ``example`` correctly (against ``gold``, default its gold label)."""
        gold = example.label if gold is None else gold
        if predicted is None or gold is None:
            return False
        answer = self.answer_of(predicted, example)
        return answer is not None and self.same(answer, gold)

    def same(self, answer: str, gold: str) -> bool:
        return normalise(answer) == normalise(gold)

    def canonical(self, answer: str) -> str:
        """``answer`` written one way whatever its source (gold data, a teacher), for models that read answers
        as text, such as the consistency scorer."""
        return answer

    def near_misses(self, answer: str, example: Example) -> list[str]:
        """Wrong answers of the same form as ``answer``: the other labels or choices. A consistency scorer
        trained against these must read the explanation; empty where the task has none (free-form text)."""
        return [c for c in self.labels or example.choices if not self.same(c, answer)]


class LabelTask(Task):
    """A classification task with a fixed set of labels (NLI)."""

    def __init__(self, name: str, labels: tuple[str, ...]) -> None:
        self.name, self.labels = name, labels
        self.answer_format = "one of: " + ", ".join(labels)

    def answer_of(self, predicted: str, example: Example) -> str | None:
        text = normalise(predicted)
        for label in self.labels or ():
            if text == label.lower():
                return label
        found = [label for label in self.labels or () if re.search(rf"\b{re.escape(label.lower())}\b", text)]
        return found[0] if len(found) == 1 else None


class TextTask(Task):
    """Free-form answers, equal when they match after :func:`normalise`."""

    answer_format = "a short answer"

    def __init__(self, name: str) -> None:
        self.name = name

    def answer_of(self, predicted: str, example: Example) -> str | None:
        return predicted.strip() or None


class ChoiceTask(Task):
    """Multiple choice with per-example choices, answered by the choice's text or its letter (CommonsenseQA)."""

    answer_format = "the text of one of the answer choices"

    def __init__(self, name: str) -> None:
        self.name = name

    def answer_of(self, predicted: str, example: Example) -> str | None:
        text = normalise(predicted)
        letters = "abcdefghijklmnopqrstuvwxyz"
        marked = re.match(r"^\(?([a-z])\)\s*(.*)$", text)
        if marked:
            letter, rest = marked.groups()
            if rest:
                text = rest
            elif letters.index(letter) < len(example.choices):
                return example.choices[letters.index(letter)]
        for choice in example.choices:
            if text == normalise(choice):
                return choice
        return None


class EquationTask(Task):
    """Answers are arithmetic expressions, equal when they evaluate to the same number (SVAMP)."""

    answer_format = "an arithmetic expression over the numbers in the problem, in parentheses"
    #: a MiniLM scorer trained on these did worse than on other problems' answers (bench/distill_scorer.py)
    scorer_near_misses = False

    def __init__(self, name: str, tolerance: float = 1e-4) -> None:
        self.name, self.tolerance = name, tolerance

    def answer_of(self, predicted: str, example: Example) -> str | None:
        text = predicted.strip().rstrip(".").strip()
        try:
            evaluate(text)
        except NotArithmetic:
            return None
        return text

    def canonical(self, answer: str) -> str:
        """Whole numbers without ``.0`` and no space inside parentheses: the gold ``( 84.0 / 2.0 )`` and a
        teacher's ``(84 / 2)`` are both ``(84 / 2)``."""
        text = re.sub(r"(\d+)\.0+\b", r"\1", answer)
        text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
        return re.sub(r"\s+", " ", text).strip()

    def near_misses(self, answer: str, example: Example) -> list[str]:
        """The same numbers with one operator changed or the operands of a ``-`` or ``/`` swapped."""
        return variants(answer)

    def same(self, answer: str, gold: str) -> bool:
        try:
            a, b = evaluate(answer), evaluate(gold)
        except NotArithmetic:
            return False
        return abs(a - b) <= self.tolerance * max(1.0, abs(b))
