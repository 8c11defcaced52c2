"""A scripted teacher (tests only): a Backend that answers chain-of-thought requests by a rule."""

from __future__ import annotations

import json
from collections.abc import Callable

from mentor.llm.backends.base import Backend, RawCompletion
from mentor.llm.types import ChatRequest


class ScriptedTeacher(Backend):
    """``rule(input_text) -> (rationale, answer)``; every input asked is appended to ``asked``."""

    endpoint = "test"
    model = "scripted-teacher"

    def __init__(self, rule: Callable[[str], tuple[str, str]]) -> None:
        self.rule = rule
        self.asked: list[str] = []

    @property
    def identity(self) -> str:
        return "scripted:teacher"

    async def complete(self, request: ChatRequest) -> RawCompletion:
        text = json.loads(request.messages[-1].content.removeprefix("Input: "))
        self.asked.append(text)
        rationale, answer = self.rule(text)
        return RawCompletion(json.dumps({"rationale": rationale, "answer": answer}), 80, 20)
