"""Options shared by every command that talks to a large model, and how they become an :class:`LLMConfig`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError

from mentor.graph.train import DEFAULT_BATCH_SIZE, MINIBATCH_FROM_NODES, parse_batch_setting
from mentor.llm import DEFAULT_LLM, BudgetLimits, LLMConfig, Price
from mentor.llm.config import StructuredOutput

LLM_PANEL = "Large model"

LlmOption = Annotated[
    str,
    typer.Option(
        "--llm",
        envvar="MENTOR_LLM",
        help="local:qwen2.5-1.5b | local:qwen2.5-0.5b | local:smollm2-135m | local:/path/model.gguf | openai:MODEL",
        rich_help_panel=LLM_PANEL,
    ),
]
BaseUrlOption = Annotated[
    Optional[str],
    typer.Option(
        "--llm-base-url",
        envvar="MENTOR_LLM_BASE_URL",
        help="Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp server), e.g. http://127.0.0.1:8000/v1. "
        "User-info and query are sent with requests but never stored or shown.",
        rich_help_panel=LLM_PANEL,
    ),
]
ApiKeyEnvOption = Annotated[
    Optional[str],
    typer.Option(
        "--llm-api-key-env",
        envvar="MENTOR_LLM_API_KEY_ENV",
        help="Environment variable holding the API key, sent to whatever server --llm-base-url names. "
        "Default: OPENAI_API_KEY, sent to api.openai.com only (no key goes to any other server).",
        rich_help_panel=LLM_PANEL,
    ),
]
IdentityOption = Annotated[
    Optional[str],
    typer.Option(
        "--llm-identity",
        envvar="MENTOR_LLM_IDENTITY",
        help="Identity of an openai: model in the response store's keys, e.g. qwen2.5-7b-q4. Default: the served "
        "model's name plus a fingerprint of what its server reports about it (not where it listens).",
        rich_help_panel=LLM_PANEL,
    ),
]
StoreOption = Annotated[
    Optional[Path],
    typer.Option(
        "--store",
        envvar="MENTOR_STORE",
        help="Response store (SQLite). Default: responses.sqlite in the mentor cache directory.",
        rich_help_panel=LLM_PANEL,
    ),
]
ConcurrencyOption = Annotated[
    int,
    typer.Option("--llm-concurrency", min=1, help="Requests in flight at once.", rich_help_panel=LLM_PANEL),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--llm-timeout",
        min=0.1,
        help="Deadline in seconds for one request, the whole reply included. A server's Retry-After longer "
        "than this (or 60 s) is not waited for: the request fails at once.",
        rich_help_panel=LLM_PANEL,
    ),
]
RetriesOption = Annotated[
    int,
    typer.Option(
        "--llm-retries",
        min=0,
        help="Retries of a request on timeouts, refused connections, 429, 5xx and bad replies.",
        rich_help_panel=LLM_PANEL,
    ),
]
StructuredOption = Annotated[
    str,
    typer.Option(
        "--llm-structured",
        help="How to require a format from an HTTP endpoint: auto|json_schema|json_object_schema|json_object|prompt.",
        rich_help_panel=LLM_PANEL,
    ),
]
MaxCallsOption = Annotated[
    Optional[int],
    typer.Option("--max-calls", min=0, help="Stop after this many new calls.", rich_help_panel=LLM_PANEL),
]
MaxInputTokensOption = Annotated[
    Optional[int],
    typer.Option("--max-input-tokens", min=0, help="Limit on prompt tokens.", rich_help_panel=LLM_PANEL),
]
MaxOutputTokensOption = Annotated[
    Optional[int],
    typer.Option("--max-output-tokens", min=0, help="Limit on completion tokens.", rich_help_panel=LLM_PANEL),
]
MaxCostOption = Annotated[
    Optional[float],
    typer.Option(
        "--max-cost",
        min=0.0,
        help="Limit on estimated cost (USD), with --price-in/--price-out.",
        rich_help_panel=LLM_PANEL,
    ),
]
PriceInOption = Annotated[
    float,
    typer.Option("--price-in", min=0.0, help="USD per million prompt tokens.", rich_help_panel=LLM_PANEL),
]
PriceOutOption = Annotated[
    float,
    typer.Option("--price-out", min=0.0, help="USD per million completion tokens.", rich_help_panel=LLM_PANEL),
]


def build_llm_config(
    llm: str = DEFAULT_LLM,
    base_url: str | None = None,
    api_key_env: str | None = None,
    identity: str | None = None,
    concurrency: int = 4,
    timeout: float = 120.0,
    retries: int = 3,
    structured: str = "auto",
    max_calls: int | None = None,
    max_input_tokens: int | None = None,
    max_output_tokens: int | None = None,
    max_cost: float | None = None,
    price_in: float = 0.0,
    price_out: float = 0.0,
) -> LLMConfig:
    """Validate the shared options; a bad value raises :class:`typer.BadParameter` naming the option."""
    try:
        return LLMConfig(
            llm=llm,
            base_url=base_url,
            api_key_env=api_key_env,
            identity=identity,
            concurrency=concurrency,
            timeout_s=timeout,
            max_retries=retries,
            structured_output=structured,  # type: ignore[arg-type]
            price=Price(input_per_mtok=price_in, output_per_mtok=price_out),
            limits=BudgetLimits(
                max_calls=max_calls,
                max_input_tokens=max_input_tokens,
                max_output_tokens=max_output_tokens,
                max_cost=max_cost,
            ),
        )
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        options = {"llm": "--llm", "structured_output": "--llm-structured", "base_url": "--llm-base-url",
                   "api_key_env": "--llm-api-key-env", "identity": "--llm-identity"}  # fmt: skip
        option = options.get(field, field)
        message = problem["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(message, param_hint=option) from None


__all__ = ["StructuredOutput", "build_llm_config"]


def _batch_setting(value: str) -> str:
    try:
        parse_batch_setting(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return value


BatchSizeOption = Annotated[
    str,
    typer.Option(
        "--batch-size",
        callback=_batch_setting,
        help="Training nodes per mini-batch step (neighbourhoods sampled), 'full' (full-batch), or 'auto': "
        f"mini-batches of {DEFAULT_BATCH_SIZE} on graphs of {MINIBATCH_FROM_NODES:,} nodes or more.",
    ),
]
DeviceOption = Annotated[
    str, typer.Option(help="Where the GNN trains: cpu, cuda, cuda:1, mps (the model is saved on the CPU).")
]
FanoutOption = Annotated[
    int, typer.Option(help="Mini-batch training: neighbours sampled per node and hop (-1: all of them).")
]

EMBEDDINGS_PANEL = "Embeddings endpoint (--features openai:MODEL)"
EmbeddingsBaseUrlOption = Annotated[
    Optional[str],
    typer.Option(
        "--embeddings-base-url",
        help="OpenAI-compatible endpoint that serves the --features openai:MODEL embeddings (vLLM, "
        "text-embeddings-inference, Ollama, OpenAI), e.g. http://127.0.0.1:8080/v1.",
        rich_help_panel=EMBEDDINGS_PANEL,
    ),
]
EmbeddingsKeyEnvOption = Annotated[
    Optional[str],
    typer.Option(
        "--embeddings-api-key-env",
        help="Environment variable holding the endpoint's API key (default: OPENAI_API_KEY for api.openai.com only).",
        rich_help_panel=EMBEDDINGS_PANEL,
    ),
]
EmbeddingsConcurrencyOption = Annotated[
    int,
    typer.Option("--embeddings-concurrency", min=1, help="Requests at once.", rich_help_panel=EMBEDDINGS_PANEL),
]
EmbeddingsMaxTextsOption = Annotated[
    Optional[int],
    typer.Option(
        "--embeddings-max-texts",
        min=0,
        help="Budget: refuse to send more new texts than this (cached ones are free).",
        rich_help_panel=EMBEDDINGS_PANEL,
    ),
]

DataRootOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-root",
        envvar="MENTOR_DATA_ROOT",
        help="Directory holding the data sets (planetoid/, cora_text/, webkb/). Default: <cache>/data.",
    ),
]


# Shared LLM options by parameter name: (annotation, default, keyword of build_llm_config).
_LLM_OPTIONS: dict[str, tuple[object, object, str]] = {
    "llm": (LlmOption, DEFAULT_LLM, "llm"),
    "llm_base_url": (BaseUrlOption, None, "base_url"),
    "llm_api_key_env": (ApiKeyEnvOption, None, "api_key_env"),
    "llm_identity": (IdentityOption, None, "identity"),
    "store": (StoreOption, None, ""),
    "llm_concurrency": (ConcurrencyOption, 4, "concurrency"),
    "llm_timeout": (TimeoutOption, 120.0, "timeout"),
    "llm_retries": (RetriesOption, 3, "retries"),
    "llm_structured": (StructuredOption, "auto", "structured"),
    "max_calls": (MaxCallsOption, None, "max_calls"),
    "max_input_tokens": (MaxInputTokensOption, None, "max_input_tokens"),
    "max_output_tokens": (MaxOutputTokensOption, None, "max_output_tokens"),
    "max_cost": (MaxCostOption, None, "max_cost"),
    "price_in": (PriceInOption, 0.0, "price_in"),
    "price_out": (PriceOutOption, 0.0, "price_out"),
}


def with_llm_options(*, exclude: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared LLM options; it receives them as ``llm_config`` (an :class:`LLMConfig`) and
    ``store`` (the ``--store`` path). Options named in ``exclude`` are left to the command itself."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "llm_config"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, (annotation, default, _) in _LLM_OPTIONS.items()
            if name not in exclude and name not in signature.parameters
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in list(kwargs) if name in _LLM_OPTIONS and name != "store"
                     and name not in exclude}  # fmt: skip
            config = build_llm_config(**{_LLM_OPTIONS[name][2]: value for name, value in given.items()})
            return command(*args, llm_config=config, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
        return wrapper

    return decorate
