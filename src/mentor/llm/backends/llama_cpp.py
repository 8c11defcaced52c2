"""In-process GGUF models through llama-cpp-python, with JSON-schema constrained decoding.

With an output schema the sampler is restricted by a grammar built from it, so a :class:`~mentor.llm.Labels`
answer is always one of the allowed labels. One model instance decodes one request at a time; concurrent
requests queue on a lock. An answer's time (:class:`~mentor.llm.types.Timings`) is measured while it holds the
lock, so it leaves out the wait behind other requests; llama.cpp's own counters split it into the prompt's
evaluation and decoding.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from mentor.llm.backends.base import TOP_LOGPROBS, Backend, BackendError, RawCompletion, wants_logprobs
from mentor.llm.config import LLMConfig
from mentor.llm.logprobs import TokenLogprob
from mentor.llm.models import builtin_model_path
from mentor.llm.types import ChatRequest, Timings


class LlamaCppBackend(Backend):
    endpoint = "local"

    def __init__(self, config: LLMConfig) -> None:
        from mentor.llm.backends import describe

        spec = config.spec
        self._config = config
        self.model, _, self._identity = describe(config)
        self._path = Path(spec.target).expanduser() if spec.is_path else builtin_model_path(spec.target)
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self._path),
                n_ctx=self._config.n_ctx,
                n_threads=self._config.n_threads or os.cpu_count() or 1,
                verbose=False,
            )
        return self._llama

    def _complete_sync(self, request: ChatRequest) -> RawCompletion:
        kwargs: dict[str, Any] = {
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.decoding.temperature,
            "top_p": request.decoding.top_p,
            "max_tokens": request.decoding.max_tokens,
            "stop": list(request.decoding.stop) or None,
        }
        if request.decoding.seed is not None:
            kwargs["seed"] = request.decoding.seed
        if request.output is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.output.json_schema()}
        recorder = None
        if wants_logprobs(request):
            # llama-cpp-python's own ``logprobs`` needs ``logits_all=True``, which computes the output layer for
            # every prompt token (about 3x slower here); a logits processor sees each generated position's raw
            # logits for free.
            from llama_cpp import LogitsProcessorList

            recorder = _TopLogprobs(TOP_LOGPROBS)
            kwargs["logits_processor"] = LogitsProcessorList([recorder])
        with self._lock:
            llama = self._load()  # not counted as the answer's time: once per model
            counting = _reset_counters(llama)
            started = time.perf_counter()
            try:
                response = llama.create_chat_completion(**kwargs)
            except ValueError as error:
                if "context window" in str(error) or "exceed" in str(error):
                    raise BackendError("context_overflow", str(error)) from None
                raise
            model_s = time.perf_counter() - started
            timings = _read_counters(llama, model_s) if counting else Timings(model_s=model_s)
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return RawCompletion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            logprobs=recorder.tokens(llama) if recorder is not None else None,
            timings=timings,
        )

    async def complete(self, request: ChatRequest) -> RawCompletion:
        return await asyncio.to_thread(self._complete_sync, request)

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` under the model's own tokenizer (no BOS, special-token text read as plain text).
        Loads the model if it is not loaded yet; tokenizing reads only the vocabulary, so it does not wait for a
        request being decoded."""
        llama = self._llama
        if llama is None:
            with self._lock:
                llama = self._load()
        try:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        except (RuntimeError, ValueError, TypeError, AttributeError):  # a llama_cpp without the call, or closed
            return None

    async def aclose(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


def _reset_counters(llama: Any) -> bool:
    """Zero llama.cpp's performance counters of ``llama``'s context; ``False`` where this llama_cpp has none."""
    try:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
    except Exception:  # noqa: BLE001 - an older or newer llama_cpp: the answer's time alone is kept
        return False
    return True


def _read_counters(llama: Any, model_s: float) -> Timings:
    """``model_s`` with llama.cpp's counters since :func:`_reset_counters`: the prompt tokens evaluated (those not
    reused from the previous prompt's cache) and their time, the tokens decoded one by one and theirs."""
    try:
        import llama_cpp

        data = llama_cpp.llama_perf_context(llama._ctx.ctx)
        evaluated, decoded = int(data.n_p_eval), int(data.n_eval)
        prefill_s, decode_s = float(data.t_p_eval_ms) / 1000, float(data.t_eval_ms) / 1000
    except Exception:  # noqa: BLE001
        return Timings(model_s=model_s)
    if evaluated == 0 and decoded == 0:  # counters switched off (``no_perf``): no split to report
        return Timings(model_s=model_s)
    return Timings.lenient(model_s=model_s, prefill_s=prefill_s, decode_s=decode_s,
                           prompt_eval_tokens=evaluated, generated_tokens=decoded)  # fmt: skip


class _TopLogprobs:
    """A logits processor that records, at each generated position, the log-probabilities of the ``k`` most
    likely tokens and of the token then generated, under the model's raw distribution (before the grammar)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.steps: list[tuple[Any, Any]] = []  # (top ids, their logprobs) per position
        self.chosen: list[float] = []  # logprob of the token generated at each position but the last
        self.ids: Any = None
        self._previous: Any = None

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        top_logit = logits.max()
        logprobs = logits - (top_logit + np.log(np.exp(logits - top_logit).sum()))
        if self._previous is not None:
            self.chosen.append(float(self._previous[int(input_ids[-1])]))
        top = np.argpartition(logprobs, -self.k)[-self.k :]
        self.steps.append((top, logprobs[top]))
        self._previous, self.ids = logprobs, np.array(input_ids)
        return logits

    def tokens(self, llama: Any) -> tuple[TokenLogprob, ...] | None:
        if not self.steps or self.ids is None:
            return None
        start = len(self.ids) - (len(self.steps) - 1)
        context = [int(i) for i in self.ids]

        def piece(token: int, position: int) -> str:
            return llama.detokenize([token], prev_tokens=context[:position]).decode("utf-8", errors="ignore")

        out = []
        for step, chosen in enumerate(self.chosen):
            position = start + step
            top_ids, top_logprobs = self.steps[step]
            top = {piece(int(t), position): float(lp) for t, lp in zip(top_ids, top_logprobs, strict=True)}
            out.append(TokenLogprob(token=piece(context[position], position), logprob=chosen, top=top))
        return tuple(out)
