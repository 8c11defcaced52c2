"""``mentor.distill``: rationale distillation from a teacher LLM into a small student LM."""

from mentor.distill.tasks import Example, Task, TaskData, load_task

__all__ = ["Example", "Task", "TaskData", "load_task"]
