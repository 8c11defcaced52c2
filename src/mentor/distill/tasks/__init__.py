"""Distillation tasks, found by name under a data root.

=================  ==========================================================================
name               what
=================  ==========================================================================
``svamp``          math word problems, answers are expressions (recorded PaLM rationales)
``cqa``            CommonsenseQA with CoS-E (recorded PaLM rationales)
``esnli``          e-SNLI natural language inference (recorded PaLM rationales)
``anli1``          ANLI round 1 (recorded PaLM rationales)
a directory        a user's task as JSON Lines (see :mod:`mentor.distill.tasks.jsonl`)
=================  ==========================================================================
"""

from __future__ import annotations

from pathlib import Path

from mentor.distill.tasks.base import ChoiceTask, EquationTask, Example, LabelTask, Task, TaskData, TextTask
from mentor.distill.tasks.jsonl import load_jsonl_task
from mentor.distill.tasks.recorded import RECORDED_TASKS, load_recorded
from mentor.paths import data_root

TASK_NAMES = (*RECORDED_TASKS, "DIR")


def load_task(name: str, root: str | Path | None = None, teacher: bool = True) -> TaskData:
    """Load a task by name (see the table above). ``teacher=False`` skips recorded teacher outputs."""
    if name.lower() in RECORDED_TASKS:
        return load_recorded(name.lower(), Path(root) if root is not None else data_root(), teacher=teacher)
    directory = Path(name).expanduser()
    if directory.is_dir():
        return load_jsonl_task(directory)
    raise ValueError(
        f"unknown task {name!r}: expected one of {', '.join(RECORDED_TASKS)} or a directory "
        "with train.jsonl and test.jsonl"
    )


__all__ = [
    "TASK_NAMES",
    "ChoiceTask",
    "EquationTask",
    "Example",
    "LabelTask",
    "Task",
    "TaskData",
    "TextTask",
    "load_task",
]
