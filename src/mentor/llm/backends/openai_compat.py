"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through the ``openai`` client.

Each :meth:`~OpenAICompatBackend.complete` sends exactly one HTTP request (the ``openai`` client's own retries
are off): the :class:`~mentor.llm.LLMClient` retries timeouts, refused connections, 429 (honouring
``Retry-After``), 5xx and replies that are not a chat completion (an error object or no choices sent with
status 200 included), and books every request against the budget.
``timeout_s`` is a deadline for the whole request, a slowly streamed body included. Structured output is
negotiated per endpoint: servers differ in what ``response_format`` they accept, so on the first request with a
schema the backend tries, in order, OpenAI's ``json_schema``, llama.cpp's ``json_object`` + ``schema``, plain
``json_object`` and finally format instructions in the prompt, and keeps the first the endpoint accepts.

An API key is sent only where the user sent it: from the variable named by ``api_key_env``, or, when none is
named, from ``OPENAI_API_KEY`` to api.openai.com alone. Credentials in the base URL are sent as basic auth and
query parameters, and appear nowhere else (see :mod:`mentor.llm.backends.endpoint`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from mentor.llm.backends import describe
from mentor.llm.backends.base import (
    TOP_LOGPROBS,
    Backend,
    BackendError,
    MissingAPIKey,
    RawCompletion,
    Renegotiate,
    wants_logprobs,
)
from mentor.llm.backends.endpoint import (
    DEFAULT_KEY_ENV,
    Endpoint,
    fingerprint,
    http_identity,
    remember_identity,
    resolve,
)
from mentor.llm.config import LLMConfig, StructuredOutput
from mentor.llm.logprobs import TokenLogprob
from mentor.llm.types import ChatRequest

_FALLBACK_ORDER: tuple[StructuredOutput, ...] = ("json_schema", "json_object_schema", "json_object", "prompt")
NO_KEY = "not-needed"
#: The longest the server's model listing (``GET /models``, for the identity) is waited for.
PROBE_TIMEOUT_S = 10.0


class OpenAICompatBackend(Backend):
    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self.model = config.spec.target
        endpoint = resolve(config.base_url)
        self._client = openai.AsyncOpenAI(
            api_key=_api_key(config, endpoint),
            base_url=endpoint.url,
            default_headers={"Authorization": endpoint.authorization} if endpoint.authorization else None,
            default_query=dict(endpoint.query) or None,
            timeout=config.timeout_s,
            max_retries=0,  # the client retries, so that every request is booked against the budget
        )
        self._endpoint = endpoint
        self.endpoint = endpoint.url
        self._identity: str | None = None
        self._mode: StructuredOutput | None = None if config.structured_output == "auto" else config.structured_output
        self._mode_lock = asyncio.Lock()
        self._trying = 0  # the structured-output mode being tried while negotiating
        self._logprobs = True

    @property
    def identity(self) -> str:
        return self._identity or describe(self._config)[2]

    async def resolve_identity(self) -> str:
        """``--llm-identity``, or the model's name with the fingerprint of what the server lists for it (asked
        once, not booked as a call), remembered for this endpoint; when the server cannot be asked, the
        identity last remembered here."""
        if self._identity is None:
            self._identity = self._config.identity or await self._probe_identity()
        return self._identity

    async def _probe_identity(self) -> str:
        try:
            listing = await self._client.with_options(
                timeout=min(self._config.timeout_s, PROBE_TIMEOUT_S)
            ).models.list()
            entries = [entry.to_dict() for entry in listing.data]
        except (openai.OpenAIError, ValueError, TypeError, AttributeError):  # down, no listing, or not JSON
            return describe(self._config)[2]
        identity = http_identity(self.model, fingerprint(entries, self.model))
        remember_identity(self.model, self._endpoint, identity)
        return identity

    @property
    def structured_output(self) -> StructuredOutput | None:
        """The structured-output mode in use (``None`` until the first request with a schema)."""
        return self._mode

    async def complete(self, request: ChatRequest) -> RawCompletion:
        if request.output is None:
            return await self._send(request, None)
        if self._mode is not None:
            return await self._send(request, self._mode)
        async with self._mode_lock:
            if self._mode is None:
                return await self._negotiate(request)
        return await self._send(request, self._mode)

    async def _negotiate(self, request: ChatRequest) -> RawCompletion:
        """Send ``request`` in the structured-output mode being tried; keep the mode if the endpoint accepts it,
        or move to the next and ask for the request to be sent again. Faults unrelated to the format (429, a
        timeout) leave the mode on trial: the client retries them as any other."""
        if self._trying >= len(_FALLBACK_ORDER):  # pragma: no cover - "prompt" needs no server support
            raise BackendError("http_error", "the endpoint rejected every structured-output mode")
        mode = _FALLBACK_ORDER[self._trying]
        try:
            result = await self._send(request, mode, probing=True)
        except _Unsupported:
            self._trying += 1
            raise Renegotiate(f"{self.endpoint} does not accept response format {mode!r}") from None
        self._mode = mode
        return result

    async def _send(
        self, request: ChatRequest, mode: StructuredOutput | None, *, probing: bool = False
    ) -> RawCompletion:
        messages = [m.model_dump() for m in request.messages]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "temperature": request.decoding.temperature,
            "top_p": request.decoding.top_p,
            "max_tokens": request.decoding.max_tokens,
        }
        if request.decoding.seed is not None:
            kwargs["seed"] = request.decoding.seed
        if request.decoding.stop:
            kwargs["stop"] = list(request.decoding.stop)
        if wants_logprobs(request) and self._logprobs:
            kwargs["logprobs"], kwargs["top_logprobs"] = True, TOP_LOGPROBS
        if request.output is not None and mode is not None:
            schema = request.output.json_schema()
            if mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": schema, "strict": False},
                }
            elif mode == "json_object_schema":
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            else:
                if mode == "json_object":
                    kwargs["response_format"] = {"type": "json_object"}
                last = messages[-1]
                messages[-1] = {**last, "content": f"{last['content']}\n\n{request.output.instruction()}"}
        deadline = self._config.timeout_s
        try:
            response = await asyncio.wait_for(self._client.chat.completions.create(messages=messages, **kwargs),
                                              timeout=deadline)  # fmt: skip
        except openai.APIStatusError as error:
            if "logprobs" in kwargs and _rejects_logprobs(error):
                self._logprobs = False  # this endpoint gives none: answer without label probabilities
                raise Renegotiate(f"{self.endpoint} does not give log-probabilities") from None
            if probing and _rejects_format(error):
                raise _Unsupported from None
            raise _status_error(error) from None
        except (openai.APITimeoutError, TimeoutError) as error:
            raise BackendError(
                "timeout", f"{self.endpoint}: no complete answer within {deadline:g} s ({error})"
            ) from None
        except openai.APIConnectionError as error:
            raise BackendError("connection", f"{self.endpoint}: {error}") from None
        except ValueError as error:  # a body cut short or not JSON (json.JSONDecodeError is a ValueError)
            raise BackendError("bad_response", f"{self.endpoint}: the reply is not valid JSON ({error})") from None
        return self._raw(response)

    def _raw(self, response: Any) -> RawCompletion:
        if not isinstance(response, ChatCompletion):  # e.g. an HTML page served with status 200
            raise BackendError("bad_response", f"{self.endpoint}: the reply is not a chat completion: "
                               f"{str(response)[:80]!r}")  # fmt: skip
        try:
            if not response.choices:  # e.g. {"error": {"message": "model overloaded"}} with status 200
                raise BackendError("bad_response", f"{self.endpoint}: {_no_choices(response)}")
            choice = response.choices[0]
            usage = response.usage
            return RawCompletion(
                text=choice.message.content or "",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                finish_reason=choice.finish_reason,
                logprobs=_token_logprobs(choice),
            )
        except (AttributeError, TypeError, ValueError) as error:  # a JSON body of another shape
            raise BackendError("bad_response", f"{self.endpoint}: malformed chat completion ({error})") from None

    async def aclose(self) -> None:
        await self._client.close()


def _api_key(config: LLMConfig, endpoint: Endpoint) -> str:
    """The key the variable named by ``api_key_env`` holds; with none named, ``OPENAI_API_KEY`` for OpenAI's API
    and no key for any other host (a key goes to another host only when the user names its variable)."""
    name = config.api_key_env or (DEFAULT_KEY_ENV if endpoint.is_openai else None)
    if name is None:
        return NO_KEY
    key = os.environ.get(name)
    if key:
        return key
    if config.api_key_env is None:
        raise MissingAPIKey(
            f"--llm {config.llm}: set the API key in the environment variable {name} "
            "(or choose another with --llm-api-key-env), or give --llm-base-url for a local server"
        )
    raise MissingAPIKey(f"--llm-api-key-env {name}: the environment variable {name} is not set")


def _no_choices(response: ChatCompletion) -> str:
    """Why a status-200 reply holds no answer, with the server's own message when it sent one."""
    error = (response.model_extra or {}).get("error")
    message = error.get("message") if isinstance(error, dict) else error
    if message:
        return f"the server replied with an error: {str(message)[:300]}"
    return "the reply has no choices"


class _Unsupported(Exception):
    """The endpoint rejected this structured-output mode."""


def _rejects_format(error: openai.APIStatusError) -> bool:
    text = f"{error.message} {error.body}".lower()
    return error.status_code in (400, 422, 500, 501) and any(
        word in text for word in ("response_format", "json_schema", "schema", "json_object")
    )


def _rejects_logprobs(error: openai.APIStatusError) -> bool:
    # llama.cpp's server without --logits_all answers 500 "logprobs is not supported …"
    return error.status_code in (400, 422, 500, 501) and "logprob" in f"{error.message} {error.body}".lower()


def _token_logprobs(choice: Any) -> tuple[TokenLogprob, ...] | None:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    return tuple(
        TokenLogprob(token=entry.token, logprob=float(entry.logprob),
                     top={alt.token: float(alt.logprob) for alt in entry.top_logprobs or []})
        for entry in content
    )  # fmt: skip


def _status_error(error: openai.APIStatusError) -> BackendError:
    detail = f"HTTP {error.status_code}: {error.message}"
    if error.status_code == 429:
        return BackendError("rate_limited", detail, retry_after=_retry_after(error))
    if error.status_code >= 500:
        return BackendError("server_error", detail, retry_after=_retry_after(error))
    if error.status_code == 400 and "context" in error.message.lower():
        return BackendError("context_overflow", detail)
    return BackendError("http_error", detail)


def _retry_after(error: openai.APIStatusError) -> float | None:
    """The wait a server asked for (``Retry-After`` in seconds, or ``retry-after-ms``), if any."""
    headers = error.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:  # an HTTP date: rare from model servers; fall back to our own backoff
        return None
    return None
