"""Typed requests and results of the LLM layer."""

from __future__ import annotations

import hashlib
import json
import math
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


class Timings(BaseModel):
    """Where an answer's seconds went, as its backend measured them; every field may be missing.

    ``model_s``: the model's own time for the answer (in-process: the time it held the model, not the time queued
    behind other requests; HTTP: the request's round trip). ``prefill_s``/``prompt_eval_tokens``: evaluating the
    prompt, counting only the tokens actually evaluated (fewer than the prompt's when a shared prefix was reused
    from the previous request's cache). ``decode_s``/``generated_tokens``: generating the answer token by token
    (llama.cpp's count leaves out the first answer token, which comes with the prompt's evaluation).
    """

    model_config = ConfigDict(frozen=True, strict=True)
    model_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    prefill_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    decode_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    prompt_eval_tokens: int | None = Field(default=None, ge=0)
    generated_tokens: int | None = Field(default=None, ge=0)

    @classmethod
    def lenient(cls, **values: Any) -> Timings:
        """The fields of ``values`` that are valid (finite, non-negative numbers; whole ones for token counts), the
        others dropped: for figures reported by a server or a library, which are not to be trusted."""
        kept = {}
        for name, value in values.items():
            if name not in cls.model_fields or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or value < 0:
                continue
            if name.endswith("_tokens"):
                if value != int(value):
                    continue
                value = int(value)
            else:
                value = float(value)
            kept[name] = value
        return cls(**kept)

    def to_json(self) -> str:
        """The fields that are set, as a JSON object (how the response store keeps them)."""
        return self.model_dump_json(exclude_none=True)


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
    #: Where the answer's seconds went (:class:`Timings`), as far as its backend reports it; ``None`` for answers
    #: stored before timings were kept, and from backends that report none.
    timings: Timings | None = None
    cost: float = 0.0
    #: Seconds the answer took: the model's own time (``timings.model_s``) where the backend measures it, which
    #: leaves out time spent queued behind other requests to the same model; else the request's round trip.
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
