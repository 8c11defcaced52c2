"""The backend interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from mentor.llm.logprobs import TokenLogprob
from mentor.llm.output import FailureReason
from mentor.llm.types import ChatRequest, Timings


@dataclass(frozen=True)
class RawCompletion:
    """What a backend returns: the reply text, the tokens it cost, where its time went (as far as the backend
    can tell) and, when asked for, each generated token's log-probability with its most likely alternatives."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    timings: Timings | None = None


#: Alternatives asked for at each token when label probabilities are wanted (OpenAI's maximum).
TOP_LOGPROBS = 20


def wants_logprobs(request: ChatRequest) -> bool:
    output = request.output
    return output is not None and getattr(output, "probabilities", False)


#: Failures worth sending the request again for (with backoff, honouring ``Retry-After``).
RETRYABLE: frozenset[str] = frozenset({"timeout", "connection", "rate_limited", "server_error", "bad_response"})


class BackendError(RuntimeError):
    """A request that returned no reply, with a failure reason (timeouts, refused connections, HTTP errors, a
    reply that is not a chat completion). ``retry_after``: seconds the server asked to wait before retrying."""

    def __init__(self, reason: FailureReason, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.reason in RETRYABLE


class MissingAPIKey(ValueError):
    """The endpoint needs an API key and the environment holds none."""


class Renegotiate(RuntimeError):
    """The endpoint rejected an optional feature of the request (a structured-output mode, log-probabilities);
    the backend has switched it off and the request should be sent again at once (it is another request, so the
    client books it against the budget, but it uses none of the retries)."""


class Backend(ABC):
    """One model behind one endpoint."""

    #: Short name shown to users and used in statistics, e.g. ``qwen2.5-1.5b``.
    model: str
    #: Where it runs: ``local`` or a base URL.
    endpoint: str

    @property
    @abstractmethod
    def identity(self) -> str:
        """What makes two answers interchangeable (part of the store key): a file hash, or a served model's name
        and fingerprint."""

    async def resolve_identity(self) -> str:
        """The identity, settled once before the first store key (an HTTP backend asks its server)."""
        return self.identity

    @abstractmethod
    async def complete(self, request: ChatRequest) -> RawCompletion:
        """Send exactly one request; raise :class:`BackendError` when no reply came back, :class:`Renegotiate`
        when it should be sent again with what the endpoint accepts (retries are the client's)."""

    def count_tokens(self, text: str) -> int | None:
        """The number of tokens the model's own tokenizer makes of ``text`` (no special tokens added), or ``None``
        when this backend cannot tell. Blocking; called from the caller's thread, not the client's loop."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or model memory."""
