"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through the ``openai`` client.

Each :meth:`~OpenAICompatBackend.complete` sends exactly one HTTP request (the ``openai`` client's own retries
are off): the :class:`~mentor.llm.LLMClient` retries timeouts, refused connections, 429 (honouring
``Retry-After``), 5xx and replies that are not a chat completion (an error object or no choices sent with
status 200 included), and books every request against the budget.
``timeout_s`` is a deadline for the whole request, a slowly streamed body included. Structured output is
negotiated per endpoint: servers differ in what ``response_format`` they accept, so on the first request with a
schema the backend tries, in order, OpenAI's ``json_schema``, llama.cpp's ``json_object`` + ``schema``, plain
``json_object`` and finally format instructions in the prompt, and keeps the first the endpoint accepts.

An answer's time is the request's round trip; a llama.cpp server's ``timings`` object (prompt evaluation and
decoding, in milliseconds and tokens) and OpenAI's count of cached prompt tokens are kept with it where a reply
carries them, each figure checked (a server's reply is not trusted). Once a reply has shown the server is
llama.cpp's (it carries ``timings``), requests ask it to keep the prompt in its cache (``cache_prompt``): the
prefix the next prompt shares with it is then not evaluated again (servers since mid-2024 do so by default, some
earlier ones only when asked; no other server is sent the field). Exact token counts come from the server's
tokenizer endpoint where it has one (llama.cpp server and vLLM ``POST /tokenize``, llama-cpp-python's
``POST /extras/tokenize/count``), found on first need and remembered.

An API key is sent only where the user sent it: from the variable named by ``api_key_env``, or, when none is
named, from ``OPENAI_API_KEY`` to api.openai.com alone. Credentials in the base URL are sent as basic auth and
query parameters, and appear nowhere else (see :mod:`mentor.llm.backends.endpoint`).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

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
    NO_KEY,
    Endpoint,
    fingerprint,
    http_identity,
    remember_identity,
    resolve,
)
from mentor.llm.config import LLMConfig, StructuredOutput
from mentor.llm.logprobs import TokenLogprob
from mentor.llm.types import ChatRequest, Timings

_FALLBACK_ORDER: tuple[StructuredOutput, ...] = ("json_schema", "json_object_schema", "json_object", "prompt")
#: The longest the server's model listing (``GET /models``, for the identity) is waited for.
PROBE_TIMEOUT_S = 10.0
#: The longest a tokenizer endpoint is waited for.
TOKENIZE_TIMEOUT_S = 5.0
#: Tokenizer endpoints, tried in this order on first need: (path under the server's root, request body for a text).
#: llama.cpp's server answers an unknown body with no tokens, so its form goes first; vLLM refuses it (no
#: ``prompt``); llama-cpp-python's server counts a BOS token too, measured on the empty text and taken off.
_TOKENIZERS: tuple[tuple[str, Callable[[str, str], dict[str, Any]]], ...] = (
    ("/tokenize", lambda model, text: {"content": text, "add_special": False}),
    ("/tokenize", lambda model, text: {"model": model, "prompt": text, "add_special_tokens": False}),
    ("/extras/tokenize/count", lambda model, text: {"input": text}),
)


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
        #: A llama.cpp server (its replies carry ``timings``): requests then ask it to keep the prompt's KV cache
        #: (``cache_prompt``), so the next prompt's shared prefix (instructions, classes) is not evaluated again.
        self._llama_server = False
        self._authorization = endpoint.authorization or (None if self._client.api_key == NO_KEY else
                                                         f"Bearer {self._client.api_key}")  # fmt: skip
        #: The tokenizer endpoint found (its index in _TOKENIZERS and the count of the empty text), ``False``
        #: when the server has none that works, ``None`` before the first look.
        self._tokenizer: tuple[int, int] | bool | None = None
        self._tokenizer_lock = threading.Lock()

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
        if self._llama_server:
            kwargs["extra_body"] = {"cache_prompt": True}  # only to a server known to take it
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
        started = time.perf_counter()
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
        return self._raw(response, time.perf_counter() - started)

    def _raw(self, response: Any, model_s: float) -> RawCompletion:
        if not isinstance(response, ChatCompletion):  # e.g. an HTML page served with status 200
            raise BackendError("bad_response", f"{self.endpoint}: the reply is not a chat completion: "
                               f"{str(response)[:80]!r}")  # fmt: skip
        try:
            if not response.choices:  # e.g. {"error": {"message": "model overloaded"}} with status 200
                raise BackendError("bad_response", f"{self.endpoint}: {_no_choices(response)}")
            choice = response.choices[0]
            usage = response.usage
            raw = RawCompletion(
                text=choice.message.content or "",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                finish_reason=choice.finish_reason,
                logprobs=_token_logprobs(choice),
                timings=_timings(response, model_s),
            )
            self._llama_server = self._llama_server or isinstance((response.model_extra or {}).get("timings"),
                                                                  Mapping)  # fmt: skip
            return raw
        except (AttributeError, TypeError, ValueError) as error:  # a JSON body of another shape
            raise BackendError("bad_response", f"{self.endpoint}: malformed chat completion ({error})") from None

    # -- token counts ------------------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` as the server's tokenizer counts them (no special tokens added); ``None`` when the
        server has no tokenizer endpoint that works (looked for once, on the first non-empty text; OpenAI's API has
        none), or when it stops answering (then it is not asked again)."""
        if self._tokenizer is False or self._endpoint.is_openai:
            return None
        with self._tokenizer_lock:
            if self._tokenizer is None:
                if not text:  # nothing to tell a working tokenizer by
                    return None
                self._tokenizer = self._find_tokenizer(text)
                if self._tokenizer is False:
                    return None
            found = self._tokenizer
        assert isinstance(found, tuple)
        index, offset = found
        count = self._ask_tokenizer(index, text)
        if count is None or count < offset:
            self._tokenizer = False
            return None
        return count - offset

    def _find_tokenizer(self, text: str) -> tuple[int, int] | bool:
        """The first tokenizer endpoint that counts ``text`` as some tokens and the empty text as at most one
        (a BOS token), with that count; ``False`` if none does."""
        for index in range(len(_TOKENIZERS)):
            count = self._ask_tokenizer(index, text)
            if count is None:
                continue
            empty = self._ask_tokenizer(index, "")
            if empty is not None and empty <= 1 and count > empty:
                return index, empty
        return False

    def _ask_tokenizer(self, index: int, text: str) -> int | None:
        """The count one tokenizer endpoint gives for ``text``, or ``None`` (no such endpoint, an error, a reply
        of another shape)."""
        path, body = _TOKENIZERS[index]
        root = self.endpoint.removesuffix("/v1")
        query = f"?{urlencode(dict(self._endpoint.query))}" if self._endpoint.query else ""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(f"{root}{path}{query}", data=json.dumps(body(self.model, text)).encode(),
                                         headers=headers, method="POST")  # fmt: skip
        try:
            with _NO_REDIRECTS.open(request, timeout=min(self._config.timeout_s, TOKENIZE_TIMEOUT_S)) as reply:
                payload = json.loads(reply.read())
        except (OSError, ValueError, http.client.HTTPException):  # refused, 4xx/5xx, timeout, not JSON
            return None
        return _token_count(payload)

    async def aclose(self) -> None:
        await self._client.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: they would carry the credentials to wherever they point."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def _token_count(payload: Any) -> int | None:
    """The count in a tokenizer's reply: ``{"count": N}`` or ``{"tokens": [...]}``; ``None`` for anything else."""
    if not isinstance(payload, Mapping):
        return None
    count = payload.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    tokens = payload.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _number(value: Any) -> float | None:
    """``value`` as a finite number, or ``None`` (strings, booleans and other shapes are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


#: A llama.cpp server's ``timings`` fields: (milliseconds, tokens) of the prompt's evaluation and of decoding.
_SERVER_TIMINGS = (
    ("prompt_ms", "prompt_n", "prefill_s", "prompt_eval_tokens"),
    ("predicted_ms", "predicted_n", "decode_s", "generated_tokens"),
)


def _timings(response: ChatCompletion, model_s: float) -> Timings:
    """The request's round trip, with what the reply says of the server's own time: a llama.cpp server's
    ``timings`` (``prompt_ms``/``prompt_n``: prompt tokens evaluated, cached ones left out; ``predicted_ms``/
    ``predicted_n``: decoding), or the prompt tokens an OpenAI-style ``usage`` reports as cached. A figure that
    is not a finite non-negative number (a whole one for tokens) is left out."""
    values: dict[str, Any] = {"model_s": model_s}
    try:
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
        cached = _number(getattr(details, "cached_tokens", None))
        prompt = _number(getattr(usage, "prompt_tokens", None))
        if cached is not None and prompt is not None and cached <= prompt:
            values["prompt_eval_tokens"] = prompt - cached
        server = (response.model_extra or {}).get("timings")
        if isinstance(server, Mapping):
            for ms, n, seconds, tokens in _SERVER_TIMINGS:
                if (value := _number(server.get(ms))) is not None:
                    values[seconds] = value / 1000
                if (value := _number(server.get(n))) is not None:
                    values[tokens] = value
    except (AttributeError, TypeError, ValueError):  # a reply of another shape: its round trip is still known
        return Timings(model_s=model_s)
    return Timings.lenient(**values)


def _api_key(config: LLMConfig, endpoint: Endpoint) -> str:
    """The key the variable named by ``api_key_env`` holds; with none named, ``OPENAI_API_KEY`` for OpenAI's API
    and no key for any other host (a key goes to another host only when the user names its variable)."""
    name = endpoint.key_variable(config.api_key_env)
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
