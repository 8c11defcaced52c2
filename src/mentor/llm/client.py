"""The client the rest of mentor uses to talk to a large model.

Every request goes through the same steps: answer from the response store if it holds one; otherwise book the
call against the budget, send it (at most ``concurrency`` at once), validate the reply against the required
output format (re-asking a limited number of times), and commit the answer to the store the moment it is valid.
Timeouts, refused connections, 429, 5xx and replies that are not a chat completion are sent again with
exponential backoff (honouring ``Retry-After``), and every request sent, retries included, is booked against the
budget. Failures come back as :class:`~mentor.llm.Failure` values with a reason (secrets scrubbed from their
detail); they never raise mid-batch.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mentor.llm.backends import Backend, BackendError, MissingAPIKey, describe, make_backend
from mentor.llm.backends.base import RawCompletion, Renegotiate
from mentor.llm.budget import Budget, BudgetExceeded
from mentor.llm.config import LLMConfig
from mentor.llm.logprobs import label_distribution
from mentor.llm.models import ModelNotAvailable
from mentor.llm.output import FailureReason, InvalidOutput, Labels, parse_output
from mentor.llm.secrets import redact
from mentor.llm.store import Claim, ResponseStore, StoreError, claim_owner
from mentor.llm.types import ChatRequest, Completion, Failure, Result, Usage
from mentor.paths import default_store_path
from mentor.progress import duration, track

T = TypeVar("T")
#: Backoff between retries: BACKOFF_S * 2**retry, at most MAX_BACKOFF_S, plus up to 25 % jitter; a server's
#: ``Retry-After`` is honoured up to the request timeout (at most MAX_RETRY_AFTER_S): a longer wait is not slept,
#: the request fails at once.
BACKOFF_S, MAX_BACKOFF_S, MAX_RETRY_AFTER_S = 0.5, 8.0, 60.0
#: How often a request claimed by another process is looked for in the store.
CLAIM_POLL_S = 0.2
#: A claim lapses unless renewed within this many seconds: its owner renews it every third of that while asking,
#: and a claim seen unchanged for a whole lease (a dead process, on any host) is taken over.
CLAIM_LEASE_S = 30.0
#: Token counts remembered per client (prompts repeat the same neighbour texts).
TOKEN_CACHE_SIZE = 1 << 16

log = logging.getLogger(__name__)


class _NoReply(Exception):
    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


async def _gather_or_cancel(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """All results in order; if one raises, the others are cancelled and awaited (so that they release their
    claims while the store is still open) before the error propagates."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class LLMError(RuntimeError):
    """Raised by :meth:`LLMClient.ask` when a request produced no usable answer."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.reason}: {failure.detail}")
        self.failure = failure


class _LoopThread:
    """A private event loop in a daemon thread, so sync callers (and notebooks) can use the async core."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mentor-llm", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class LLMClient:
    """Chat completions from one model, with a persistent store, a hard budget and validated outputs.

    Args:
        config: which model and how to use it (default: the local default teacher).
        store: a :class:`ResponseStore` or a path to one (default ``MENTOR_STORE`` or the user cache).
        run_id: label recorded with every stored answer (default: a fresh random id).
        backend: a ready backend (for tests and embedding); by default built from ``config`` on first need.
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        *,
        store: ResponseStore | str | Path | None = None,
        run_id: str | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.config = config or LLMConfig()
        if backend is not None:
            self.model, self.endpoint = backend.model, backend.endpoint
            self._identity: str | None = None  # settled by the backend on first need
        else:
            self.model, self.endpoint, known = describe(self.config)
            self._identity = known if self.config.spec.backend == "local" else None  # an HTTP server is asked
        self._owns_store = not isinstance(store, ResponseStore)
        self.store = store if isinstance(store, ResponseStore) else ResponseStore(store or default_store_path())
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.budget = Budget(limits=self.config.limits, price=self.config.price)
        self.hits = 0
        self.answers = 0  # new answers received (the budget's ``calls`` counts requests sent)
        self._backend = backend
        self._runner = _LoopThread()
        self._semaphore = asyncio.Semaphore(self.config.concurrency)
        self._backend_lock = asyncio.Lock()
        self._identity_lock = asyncio.Lock()
        self._inflight: dict[str, asyncio.Future[Result]] = {}
        self._announced: set[str] = set()  # owners of claims this client was told to wait for
        self._counter_lock = threading.Lock()
        self._no_counter = False  # the backend cannot be built here (no API key, no model file): estimates only
        self._counts = functools.lru_cache(maxsize=TOKEN_CACHE_SIZE)(self._count_tokens)
        self._counted: set[bool] = set()  # whether each count so far was exact

    # -- public API ----------------------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> Result:
        """Answer one request (blocking)."""
        return self._runner.run(self._complete(request))

    async def acomplete(self, request: ChatRequest) -> Result:
        """Answer one request (awaitable from any event loop)."""
        return await self._runner.run_async(self._complete(request))

    def complete_many(self, requests: Iterable[ChatRequest], *, progress: bool = False,
                      label: str | None = None) -> list[Result]:  # fmt: skip
        """Answer a batch concurrently (up to ``config.concurrency`` calls at once), results in input order.
        ``progress``: a bar on a terminal, plain lines elsewhere (:mod:`mentor.progress`), named ``label``."""
        return self._runner.run(self._complete_many(list(requests), progress, label))

    async def acomplete_many(self, requests: Iterable[ChatRequest], *, progress: bool = False,
                             label: str | None = None) -> list[Result]:  # fmt: skip
        return await self._runner.run_async(self._complete_many(list(requests), progress, label))

    def ask(self, prompt: str, **kwargs: Any) -> Completion:
        """One prompt in, one answer out; raises :class:`LLMError` on failure. ``kwargs`` as in
        :meth:`ChatRequest.from_prompt` (``system``, ``output``, decoding parameters)."""
        result = self.complete(ChatRequest.from_prompt(prompt, **kwargs))
        if not result.ok:
            raise LLMError(result)
        return result

    def count_tokens(self, text: str) -> tuple[int, bool]:
        """(tokens of ``text``, whether that count is exact). Exact where the model's own tokenizer can be asked: a
        local GGUF model's through llama.cpp (the model is loaded if it is not yet), an HTTP server's tokenizer
        endpoint where it has one (llama.cpp server, vLLM, llama-cpp-python's server); otherwise the estimate
        ``len(text) // 4 + 1``. No special tokens are counted (a chat template adds a few per message). Counts
        are remembered, so repeated texts cost nothing. Blocking: call it from the caller's thread."""
        return self._counts(text)

    def _count_tokens(self, text: str) -> tuple[int, bool]:
        backend = self._counting_backend()
        count = backend.count_tokens(text) if backend is not None else None
        self._counted.add(count is not None)
        return (estimate_tokens(text), False) if count is None else (count, True)

    @property
    def token_counts(self) -> str | None:
        """How this client's token counts were made: ``exact`` (the teacher's tokenizer), ``estimate`` (some or all
        were the estimate: the teacher has no tokenizer this client can reach), None if it counted nothing."""
        return None if not self._counted else "estimate" if False in self._counted else "exact"

    def _counting_backend(self) -> Backend | None:
        if self._backend is None and not self._no_counter:
            with self._counter_lock:
                if self._backend is None and not self._no_counter:
                    try:
                        self._runner.run(self._get_backend())
                    except (MissingAPIKey, ModelNotAvailable, ValueError) as error:
                        log.info("token counts are estimates: %s", redact(str(error), self.config.api_key_env))
                        self._no_counter = True
        return self._backend

    def usage(self) -> dict[str, Any]:
        """What this client spent: requests sent (retries included) and new answers, tokens, estimated cost, and
        answers served from the store."""
        return {
            "requests": self.budget.calls,
            "new_calls": self.answers,
            "prompt_tokens": self.budget.input_tokens,
            "completion_tokens": self.budget.output_tokens,
            "cost": round(self.budget.cost, 6),
            "store_hits": self.hits,
        }

    def close(self) -> None:
        if self._backend is not None:
            self._runner.run(self._backend.aclose())
        self._runner.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the core (runs on the private loop) ---------------------------------------------------------------

    async def _complete_many(self, requests: Sequence[ChatRequest], progress: bool, label: str | None) -> list[Result]:
        if not progress:
            return await _gather_or_cancel(self._complete(r) for r in requests)
        spent = {"new": 0, "stored": 0, "failed": 0, "seconds": 0.0}

        def note() -> str:
            new, failed = spent["new"], f", {spent['failed']} failed" if spent["failed"] else ""
            return (f"{new} new call{'' if new == 1 else 's'}, {spent['stored']} from the store{failed}, "
                    f"LLM {duration(spent['seconds'])}")  # fmt: skip

        with track(label or f"asking {self.model}", len(requests), unit="answers", note=note) as bar:

            async def tracked(request: ChatRequest) -> Result:
                result = await self._complete(request)
                if not result.ok:
                    spent["failed"] += 1
                elif result.cached:
                    spent["stored"] += 1
                else:
                    spent["new"] += 1
                    spent["seconds"] += result.latency_s
                bar.advance()
                return result

            return await _gather_or_cancel(tracked(r) for r in requests)

    @property
    def identity(self) -> str:
        """What makes two answers interchangeable (part of every store key): a local model's file hash; an HTTP
        model's ``--llm-identity``, or its name with the fingerprint its server reports (asked on first need)."""
        if self._identity is None:
            return self._runner.run(self._settle_identity())
        return self._identity

    async def _settle_identity(self) -> str:
        async with self._identity_lock:
            if self._identity is None:
                try:
                    backend = await self._get_backend()
                except MissingAPIKey:  # nothing can be asked, but stored answers can still be replayed
                    self._identity = describe(self.config)[2]
                else:
                    self._identity = await backend.resolve_identity()
            return self._identity

    async def _complete(self, request: ChatRequest) -> Result:
        key = request.key(await self._settle_identity())
        stored = self.store.get(key, run_id=self.run_id)
        if stored is not None:
            self.hits += 1
            return stored
        pending = self._inflight.get(key)
        if pending is not None:  # the same request is already on its way: share its answer
            result = await asyncio.shield(pending)
            return result.model_copy(update={"cached": True}) if result.ok else result
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._call(request, key)
            future.set_result(result)
            return result
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: the caller sees the error, waiters re-raise it
            raise
        finally:
            del self._inflight[key]

    async def _get_backend(self) -> Backend:
        async with self._backend_lock:
            if self._backend is None:
                # Building may assemble a model file (seconds): keep the loop responsive.
                self._backend = await asyncio.to_thread(make_backend, self.config)
            return self._backend

    async def _call(self, request: ChatRequest, key: str) -> Result:
        """Ask (at most ``concurrency`` at once) unless another process on the same store is asking the same
        request: then wait for its answer, so that concurrent runs on one store pay once."""
        async with self._semaphore:
            owner, watch, stale = claim_owner(self.run_id), _ClaimWatch(), None
            while not self.store.claim(key, owner, CLAIM_LEASE_S, take_over=stale):
                stored = self.store.get(key, run_id=self.run_id)
                if stored is not None:
                    self.hits += 1
                    return stored
                holder = self.store.holder(key)
                stale = watch.stale(holder)
                if holder is not None and stale is None:
                    self._announce_wait(holder)
                    await asyncio.sleep(CLAIM_POLL_S)
            heartbeat = asyncio.ensure_future(self._keep_claim(key, owner))
            try:
                return await self._ask(request, key)
            finally:
                heartbeat.cancel()
                self.store.release(key, owner)

    async def _keep_claim(self, key: str, owner: str) -> None:
        """Renew this process's claim on ``key`` while it asks, so that others wait for it rather than pay again."""
        while True:
            await asyncio.sleep(CLAIM_LEASE_S / 3)
            try:
                if not self.store.renew(key, owner, CLAIM_LEASE_S):
                    return  # released by the user (`mentor llm claims --release`): another process may ask too
            except StoreError:  # the claim lapses: at worst another process pays for this request too
                return

    def _announce_wait(self, holder: Claim) -> None:
        """Say, once per owner, that this run waits for requests another process has claimed."""
        if holder.owner in self._announced:
            return
        self._announced.add(holder.owner)
        held = sum(claim.owner == holder.owner for claim in self.store.claims())
        lapse = time.strftime("%H:%M:%S", time.localtime(time.time() + CLAIM_LEASE_S))
        log.warning(
            "note: waiting for %d request(s) claimed in %s by %s (another process, here or on another host); "
            "if it stops renewing its claims they lapse by %s and this run asks them itself "
            "(`mentor llm claims --release --store %s` frees them now)",
            held, self.store.path, holder.owner, lapse, self.store.path,
        )  # fmt: skip

    async def _ask(self, request: ChatRequest, key: str) -> Result:
        backend = await self._get_backend()
        usage = Usage()
        sent = [0]  # requests sent for this answer, retries included
        reason, detail = "empty", "no attempt was made"
        for _ in range(1 + self.config.invalid_output_retries):
            try:
                raw, latency, cost = await self._request(backend, request, sent)
            except _NoReply as error:
                return self._failure(key, error.reason, error.detail, sent[0], usage)
            usage = Usage(
                prompt_tokens=usage.prompt_tokens + raw.prompt_tokens,
                completion_tokens=usage.completion_tokens + raw.completion_tokens,
            )
            try:
                parsed = parse_output(request.output, raw.text)
            except InvalidOutput as error:
                reason, detail = error.reason, error.detail
                continue
            label_probs = None
            if isinstance(request.output, Labels) and request.output.probabilities and raw.logprobs:
                label_probs = label_distribution(request.output.labels, raw.logprobs)
            if raw.timings is not None and raw.timings.model_s is not None:
                latency = raw.timings.model_s  # the model's own time, without the wait behind other requests
            completion = Completion(
                key=key,
                text=raw.text,
                parsed=parsed.parsed,
                label=parsed.label,
                label_probs=label_probs,
                repaired=parsed.repaired,
                usage=Usage(prompt_tokens=raw.prompt_tokens, completion_tokens=raw.completion_tokens),
                timings=raw.timings,
                cost=cost,
                latency_s=latency,
                model=self.model,
                endpoint=self.endpoint,
                created=time.time(),
                run_id=self.run_id,
            )
            self.store.put(completion, request, self.identity)
            self.answers += 1
            return completion
        return self._failure(key, reason, detail, sent[0], usage)  # type: ignore[arg-type]

    async def _request(
        self, backend: Backend, request: ChatRequest, sent: list[int]
    ) -> tuple[RawCompletion, float, float]:
        """Send ``request`` until a reply comes back: each request booked against the budget first, retryable
        faults sent again up to ``max_retries`` times with backoff. Returns the reply, its latency (from sending
        to the reply, a wait for the model included) and cost."""
        retries = 0
        while True:
            try:
                reservation = self.budget.reserve(request.prompt_chars(), request.decoding.max_tokens)
            except BudgetExceeded as error:
                raise _NoReply("budget", str(error)) from None
            sent[0] += 1
            started = time.perf_counter()
            try:
                raw = await backend.complete(request)
            except Renegotiate:
                self.budget.settle(reservation, 0, 0)
                continue
            except BackendError as error:
                self.budget.settle(reservation, 0, 0)
                if not error.retryable or retries >= self.config.max_retries:
                    raise _NoReply(error.reason, error.detail) from None
                if (refused := self._refused_wait(error.retry_after)) is not None:  # the run moves on
                    raise _NoReply(error.reason, f"{error.detail} ({refused})") from None
                await asyncio.sleep(_backoff(retries, error.retry_after))
                retries += 1
                continue
            latency = time.perf_counter() - started
            return raw, latency, self.budget.settle(reservation, raw.prompt_tokens, raw.completion_tokens)

    def _refused_wait(self, retry_after: float | None) -> str | None:
        """Why a server's ``Retry-After`` is not waited for: it is longer than a request may take."""
        limit = min(self.config.timeout_s, MAX_RETRY_AFTER_S)
        if retry_after is None or retry_after <= limit:
            return None
        return (f"the server asked to wait {retry_after:g} s before a retry; a retry waits at most {limit:g} s "
                f"(--llm-timeout, at most {MAX_RETRY_AFTER_S:g} s)")  # fmt: skip

    def _failure(self, key: str, reason: Any, detail: str, attempts: int, usage: Usage) -> Failure:
        detail = redact(detail, self.config.api_key_env)
        failure = Failure(key=key, reason=reason, detail=detail, attempts=attempts, model=self.model, usage=usage)
        if reason != "budget":
            self.store.record_failure(failure, run_id=self.run_id)
        return failure


class _ClaimWatch:
    """Tells a claim nobody renews: one seen unchanged (same owner, same expiry) for a whole lease of this host's
    clock, whatever the owner's host, pid or stated expiry."""

    def __init__(self) -> None:
        self._seen: Claim | None = None
        self._since = time.monotonic()

    def stale(self, holder: Claim | None) -> Claim | None:
        """``holder`` if it has not changed for a lease (take it over), else ``None``."""
        now = time.monotonic()
        if holder != self._seen:
            self._seen, self._since = holder, now
            return None
        return holder if holder is not None and now - self._since > CLAIM_LEASE_S else None


def estimate_tokens(text: str) -> int:
    """A rough token count where no tokenizer can be asked: 4 characters per token."""
    return len(text) // 4 + 1


def _backoff(retry: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``retry`` (0-based)."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, MAX_RETRY_AFTER_S)
    return min(MAX_BACKOFF_S, BACKOFF_S * 2**retry) * (1 + 0.25 * random.random())
