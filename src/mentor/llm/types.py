"""Typed requests and results of the LLM layer."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mentor.llm.output import FailureReason, OutputSpec


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)
    role: Literal["system", "user", "assistant"]
    content: str


class Decoding(BaseModel):
    """Decoding parameters. ``seed`` is part of a request's identity: vary it to draw a new sample."""

    model_config = ConfigDict(frozen=True)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, gt=0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = 0
    stop: tuple[str, ...] = ()


class ChatRequest(BaseModel):
    """Messages, decoding parameters and, optionally, the required output format."""

    model_config = ConfigDict(frozen=True)
    messages: tuple[Message, ...] = Field(min_length=1)
    decoding: Decoding = Decoding()
    output: OutputSpec | None = None

    @classmethod
    def from_prompt(
        cls,
        prompt: str,
        *,
        system: str | None = None,
        output: OutputSpec | None = None,
        **decoding: Any,
    ) -> ChatRequest:
        messages = [Message(role="system", content=system)] if system else []
        messages.append(Message(role="user", content=prompt))
        return cls(messages=tuple(messages), decoding=Decoding(**decoding), output=output)

    def key(self, model_identity: str) -> str:
        """Stable hash of (model identity, messages, decoding parameters, output schema)."""
        payload = {"model": model_identity, **self.model_dump(mode="json")}
        if payload["output"] is not None and payload["output"].get("probabilities") is False:
            del payload["output"]["probabilities"]  # keys of requests made before the field existed stay valid
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def prompt_chars(self) -> int:
        return sum(len(m.content) for m in self.messages)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """A usable answer, fresh from the model or served from the response store (``cached``)."""

    ok: Literal[True] = True
    key: str
    text: str
    parsed: Any = None
    label: str | None = None
    #: The model's probability of each allowed label (``Labels(probabilities=True)`` and a backend that reports
    #: token log-probabilities); ``None`` otherwise.
    label_probs: dict[str, float] | None = None
    usage: Usage = Usage()
    cost: float = 0.0
    latency_s: float = 0.0
    model: str
    endpoint: str
    cached: bool = False
    repaired: bool = False
    created: float
    run_id: str


class Failure(BaseModel):
    """A request that produced no usable answer, with the reason. Never stored as a success."""

    ok: Literal[False] = False
    key: str
    reason: FailureReason
    detail: str
    attempts: int = 0
    model: str
    usage: Usage = Usage()


Result = Completion | Failure
