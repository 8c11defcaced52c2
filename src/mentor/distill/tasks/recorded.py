"""The four Distilling step-by-step tasks, with the PaLM-540B rationales recorded for them.

Files live under ``<data root>/distilling_step_by_step/<task>/`` in the authors' layout: ``<task>_<split>.json``
(JSON Lines) and ``llm/<split>_CoT_<k>.json`` (the teacher's completions, aligned row by row).

=========  ===========================  =====================================================  ================
task       train / test (files)         input                                                   answer
=========  ===========================  =====================================================  ================
``svamp``  train (800) / test (200)     the word problem                                        an expression
``cqa``    train (9741) / test (1221)   question and lettered answer choices (CoS-E v1.11)      a choice's text
``esnli``  valid (9842) / test (9824)   premise and hypothesis (e-SNLI has no train rows here)  NLI label
``anli1``  valid (1000) / test (1000)   premise and hypothesis (ANLI round 1; no train rows)    NLI label
=========  ===========================  =====================================================  ================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mentor.distill.tasks._files import field, read_completions, require
from mentor.distill.tasks.base import ChoiceTask, EquationTask, Example, LabelTask, Task, TaskData
from mentor.distill.tasks.palm import PARSERS
from mentor.errors import DataError
from mentor.readers import jsonl_objects

NLI_LABELS = ("entailment", "neutral", "contradiction")
RECORDED_TASKS = ("svamp", "cqa", "esnli", "anli1")
#: which file split stands for mentor's train and test splits
FILE_SPLITS = {
    "svamp": ("train", "test"),
    "cqa": ("train", "test"),
    "esnli": ("valid", "test"),
    "anli1": ("valid", "test"),
}
DIRECTORY = "distilling_step_by_step"

Row = Callable[[dict[str, Any], Path, int, str], Example]


def _svamp(record: dict[str, Any], path: Path, line: int, key: str) -> Example:
    return Example(id=key, input=field(record, "input", str, path, line), label=field(record, "label", str, path, line))


def _cqa(record: dict[str, Any], path: Path, line: int, key: str) -> Example:
    choices = field(record, "choices", list, path, line)
    if not choices or not all(isinstance(c, str) for c in choices):
        raise DataError("expected a non-empty list of strings", file=path, line=line, field="choices")
    lettered = "\n".join(f"({letter}) {choice}" for letter, choice in zip("abcdefghij", choices, strict=False))
    question = field(record, "question", str, path, line)
    return Example(
        id=str(record.get("id") or key),
        input=f"{question}\nAnswer Choices:\n{lettered}",
        label=field(record, "answer", str, path, line),
        choices=tuple(choices),
    )


def _nli(record: dict[str, Any], path: Path, line: int, key: str) -> Example:
    label = field(record, "label", int, path, line)
    if label not in (0, 1, 2):
        raise DataError(
            f"expected 0, 1 or 2 ({', '.join(NLI_LABELS)}), got {label}", file=path, line=line, field="label"
        )
    premise, hypothesis = field(record, "premise", str, path, line), field(record, "hypothesis", str, path, line)
    return Example(
        id=str(record.get("uid") or key), input=f"Premise: {premise}\nHypothesis: {hypothesis}", label=NLI_LABELS[label]
    )


ROWS: dict[str, tuple[Row, Callable[[str], Task]]] = {
    "svamp": (_svamp, EquationTask),
    "cqa": (_cqa, ChoiceTask),
    "esnli": (_nli, lambda name: LabelTask(name, NLI_LABELS)),
    "anli1": (_nli, lambda name: LabelTask(name, NLI_LABELS)),
}


def load_recorded(name: str, root: Path, teacher: bool = True) -> TaskData:
    """Task ``name`` with its gold labels and, when ``teacher``, the parsed PaLM rationale and label per example."""
    row, make_task = ROWS[name]
    folder = root / DIRECTORY / name
    parse = PARSERS[name]
    splits: list[list[Example]] = []
    failures: dict[str, int] = {}
    for ours, theirs in zip(("train", "test"), FILE_SPLITS[name], strict=True):
        path = require(folder / f"{name}_{theirs}.json", f"{name} {theirs} split")
        examples = [
            row(record, path, line, f"{name}-{theirs}-{i}") for i, (line, record) in enumerate(jsonl_objects(path))
        ]
        if teacher:
            completions = read_completions(folder / "llm", theirs, len(examples))
            parsed = [parse(c) for c in completions]
            failures[ours] = sum(p is None for p in parsed)
            examples = [e.with_teacher(p[1], p[0]) if p else e for e, p in zip(examples, parsed, strict=True)]
        splits.append(examples)
    return TaskData(
        task=make_task(name), train=splits[0], test=splits[1], source=str(folder), teacher_parse_failures=failures
    )
