"""Configuration of an LLM client: which model, how to reach it, and the limits on its use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mentor.llm.budget import BudgetLimits, Price

DEFAULT_LLM = "local:qwen2.5-1.5b"

StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "json_object", "prompt"]


@dataclass(frozen=True)
class LLMSpec:
    """A parsed ``--llm`` value: ``local:NAME``, ``local:/path/to/model.gguf`` or ``openai:MODEL``."""

    backend: Literal["local", "openai"]
    target: str

    @property
    def is_path(self) -> bool:
        return self.backend == "local" and (self.target.endswith(".gguf") or "/" in self.target)

    def __str__(self) -> str:
        return f"{self.backend}:{self.target}"


def parse_spec(spec: str) -> LLMSpec:
    backend, sep, target = spec.partition(":")
    if not sep or backend not in ("local", "openai") or not target.strip():
        raise ValueError(
            f"--llm {spec!r}: expected local:NAME (e.g. local:qwen2.5-1.5b), local:/path/to/model.gguf, "
            "or openai:MODEL (with --llm-base-url for vLLM, Ollama or a llama.cpp server)"
        )
    return LLMSpec(backend=backend, target=target.strip())  # type: ignore[arg-type]


class LLMConfig(BaseModel):
    """Everything needed to build an :class:`~mentor.llm.LLMClient`. The API key itself is never stored."""

    model_config = ConfigDict(frozen=True)
    llm: str = DEFAULT_LLM
    base_url: str | None = Field(default=None, repr=False)  # it may carry credentials
    api_key_env: str | None = Field(default=None, description="variable holding the API key; unnamed: "
                                    "OPENAI_API_KEY, sent to api.openai.com only")  # fmt: skip
    identity: str | None = Field(default=None, description="an HTTP model's identity in the store's keys, "
                                 "instead of its name and the fingerprint its server reports")  # fmt: skip
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0, description="retries of a request on timeouts, refused connections, "
                             "429, 5xx and replies that are not a chat completion")  # fmt: skip
    invalid_output_retries: int = Field(default=1, ge=0, description="re-asks after an unusable answer")
    concurrency: int = Field(default=4, ge=1)
    structured_output: StructuredOutput = "auto"
    n_ctx: int = Field(default=4096, ge=256, description="context window of a local model")
    n_threads: int | None = Field(default=None, ge=1)
    price: Price = Price()
    limits: BudgetLimits = BudgetLimits()

    @field_validator("llm")
    @classmethod
    def _valid_spec(cls, value: str) -> str:
        parse_spec(value)
        return value

    @field_validator("base_url")
    @classmethod
    def _valid_base_url(cls, value: str | None) -> str | None:
        if value is not None:
            from mentor.llm.backends.endpoint import Endpoint  # the backends import this module

            Endpoint.parse(value)
        return value

    @field_validator("api_key_env")
    @classmethod
    def _valid_key_env(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("name an environment variable")
        return value

    @field_validator("identity")
    @classmethod
    def _valid_identity(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.strip() or not value.isprintable() or len(value) > 200:
            raise ValueError("expected a non-empty name on one line, at most 200 characters")
        if "llm" in info.data and parse_spec(info.data["llm"]).backend != "openai":
            raise ValueError("applies to openai: models only (a local model's identity is its file's sha256)")
        return value

    @property
    def spec(self) -> LLMSpec:
        return parse_spec(self.llm)
