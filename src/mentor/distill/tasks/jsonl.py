"""A user's own task as plain files.

A directory with ``train.jsonl`` and ``test.jsonl`` (one JSON object per line) and, optionally, ``task.json``::

    {"input": "Is a whale a fish?", "label": "no", "rationale": "Whales are mammals.", "teacher_label": "no"}

- ``input`` (string, required); ``id`` (string, default ``<split>-<line>``);
- ``label``: the gold answer, optional in ``train.jsonl`` (a task without gold labels learns the teacher's),
  required in ``test.jsonl``, which is what the student is scored on;
- ``rationale`` and ``teacher_label``: a recorded teacher explanation and answer (optional; without them the
  teacher is asked through ``mentor.llm``);
- ``choices``: the answer choices of a multiple-choice item (list of strings, optional).

``task.json`` says how answers are compared: ``{"labels": ["yes", "no"]}`` for a fixed label set,
``{"answer": "expression"}`` for arithmetic answers compared by value, ``{"answer": "text"}`` (the default, or
``"choice"`` when items have ``choices``) for answers compared as normalised text.
"""

from __future__ import annotations

from pathlib import Path

from mentor.distill.tasks._files import field, require
from mentor.distill.tasks.base import ChoiceTask, EquationTask, Example, LabelTask, Task, TaskData, TextTask
from mentor.errors import DataError
from mentor.readers import json_document, jsonl_objects

ANSWER_KINDS = ("text", "choice", "expression")


def _task(directory: Path, has_choices: bool) -> Task:
    path = directory / "task.json"
    spec: dict = {}
    if path.is_file():
        spec = json_document(path)
        if not isinstance(spec, dict):
            raise DataError("expected a JSON object", file=path)
    name = directory.name
    labels = spec.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
            raise DataError("expected a list of at least two non-empty strings", file=path, field="labels")
        return LabelTask(name, tuple(labels))
    kind = spec.get("answer", "choice" if has_choices else "text")
    if kind not in ANSWER_KINDS:
        raise DataError(f"expected one of {', '.join(ANSWER_KINDS)}, got {kind!r}", file=path, field="answer")
    return {"text": TextTask, "choice": ChoiceTask, "expression": EquationTask}[kind](name)


def _examples(path: Path, split: str) -> list[Example]:
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for line, record in jsonl_objects(require(path, f"{split} file")):
        key = field(record, "id", str, path, line, required=False) or f"{split}-{line}"
        if key in seen:
            raise DataError(f"duplicate id {key!r} (first on line {seen[key]})", file=path, line=line, field="id")
        seen[key] = line
        choices = field(record, "choices", list, path, line, required=False) or []
        if not all(isinstance(c, str) for c in choices):
            raise DataError("expected a list of strings", file=path, line=line, field="choices")
        label = field(record, "label", str, path, line, required=split == "test")
        examples.append(
            Example(
                id=key,
                input=field(record, "input", str, path, line),
                label=label,
                teacher_label=field(record, "teacher_label", str, path, line, required=False),
                rationale=field(record, "rationale", str, path, line, required=False),
                choices=tuple(choices),
            )
        )
    if not examples:
        raise DataError("no examples", file=path)
    return examples


def load_jsonl_task(directory: Path) -> TaskData:
    """The task in ``directory`` (``train.jsonl``, ``test.jsonl``, optional ``task.json``)."""
    train, test = _examples(directory / "train.jsonl", "train"), _examples(directory / "test.jsonl", "test")
    task = _task(directory, any(e.choices for e in train + test))
    if task.labels is not None:
        allowed = {label.lower() for label in task.labels}
        for split, examples in (("train", train), ("test", test)):
            for example in examples:
                for name, value in (("label", example.label), ("teacher_label", example.teacher_label)):
                    if value is not None and value.strip().lower() not in allowed:
                        raise DataError(
                            f"{value!r} is not one of the labels in task.json ({', '.join(task.labels)})",
                            file=directory / f"{split}.jsonl",
                            field=f"{name} of id {example.id!r}",
                        )
    return TaskData(task=task, train=train, test=test, source=str(directory))
