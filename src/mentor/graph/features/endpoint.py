"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint: ``--features openai:MODEL`` with
``--embeddings-base-url`` (vLLM, text-embeddings-inference, Ollama, LM Studio, OpenAI itself).

This is how ten million texts get encoded: on the GPUs behind the endpoint, ``concurrency`` requests of
``batch_size`` texts at once through the ``openai`` client, retried on rate limits, timeouts and server errors. The
cache is the one every encoder shares (:mod:`mentor.graph.features.cache`): a text already encoded by this model at
this endpoint is never sent again, and each finished batch is cached at once, so a stopped encoding resumes where
it stopped. ``max_texts`` is a hard budget: an encoding that would send more new texts than that is refused
before anything is sent. Replies are checked (one finite vector per text, every vector of one length) before
anything is cached.

An API key is sent as the LLM client sends one: from the variable ``api_key_env`` names, or, when none is named,
``OPENAI_API_KEY`` to api.openai.com alone.
"""

from __future__ import annotations

import asyncio
import math
import os

import numpy as np
import openai

from mentor.graph.features.encoder import Done, TextEncoder
from mentor.llm.backends.endpoint import NO_KEY, Endpoint
from mentor.llm.secrets import redact

#: The ``--features`` prefix of an endpoint's embedding model.
PREFIX = "openai:"


class EmbeddingsError(ValueError):
    """The endpoint could not be used, or replied with something that is not one embedding per text."""


def is_endpoint_model(kind: str) -> bool:
    """Whether a ``--features`` value names an endpoint's embedding model (``openai:MODEL``)."""
    return kind.startswith(PREFIX)


class EndpointEncoder(TextEncoder):
    """Encode texts with ``model`` at the OpenAI-compatible ``base_url``; see the module docstring."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 8,
        batch_size: int = 64,
        retries: int = 3,
        timeout_s: float = 120.0,
        max_texts: int | None = None,
        normalize: bool = True,
        cache_path: str | None = None,
    ) -> None:
        super().__init__(cache_path)
        name = model.removeprefix(PREFIX)
        if not name:
            raise EmbeddingsError("--features openai:MODEL: name the embedding model after 'openai:'")
        if concurrency < 1 or batch_size < 1 or retries < 0 or max_texts is not None and max_texts < 0:
            raise EmbeddingsError("embeddings: concurrency and batch size must be at least 1, retries and the "
                                  "budget at least 0")  # fmt: skip
        try:
            self.endpoint = Endpoint.parse(base_url)
        except ValueError as error:
            raise EmbeddingsError(f"--embeddings-base-url: {error}") from None
        self.model = name
        self.model_name = PREFIX + name
        self.identity = f"{self.model_name}@{self.endpoint.url}|norm={normalize}"
        self.normalize = normalize
        self.api_key_env = api_key_env
        self.concurrency, self.batch_size, self.retries = concurrency, batch_size, retries
        self.timeout_s, self.max_texts = timeout_s, max_texts

    def _api_key(self) -> str:
        name = self.endpoint.key_variable(self.api_key_env)
        if name is None:
            return NO_KEY
        key = os.environ.get(name)
        if not key:
            raise EmbeddingsError(f"embeddings at {self.endpoint.url}: the environment variable {name} holding the "
                                  "API key is not set (--embeddings-api-key-env names another)")  # fmt: skip
        return key

    def _encode_missing(self, texts: list[str], done: Done, progress: bool) -> None:
        if self.max_texts is not None and len(texts) > self.max_texts:
            raise EmbeddingsError(f"embeddings: {len(texts)} texts are not in the cache and the budget allows "
                                  f"{self.max_texts} (--embeddings-max-texts); nothing was sent")  # fmt: skip
        asyncio.run(self._encode_all(texts, done))

    async def _encode_all(self, texts: list[str], done: Done) -> None:
        authorization = self.endpoint.authorization
        client = openai.AsyncOpenAI(
            api_key=self._api_key(), base_url=self.endpoint.url, timeout=self.timeout_s, max_retries=self.retries,
            default_headers={"Authorization": authorization} if authorization else None,
            default_query=dict(self.endpoint.query) or None,
        )  # fmt: skip
        semaphore = asyncio.Semaphore(self.concurrency)
        dims: set[int] = set()

        async def one(start: int) -> None:
            batch = texts[start : start + self.batch_size]
            async with semaphore:
                try:
                    reply = await client.embeddings.create(model=self.model, input=batch, encoding_format="float")
                except openai.OpenAIError as error:
                    detail = redact(" ".join(str(error).split())[:300], self.api_key_env)
                    raise EmbeddingsError(f"embeddings at {self.endpoint.url} ({self.model}): {detail}") from None
            vectors = self._check(reply, len(batch), dims)
            done(list(range(start, start + len(batch))), vectors)

        tasks = [asyncio.create_task(one(start)) for start in range(0, len(texts), self.batch_size)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    def _check(self, reply: object, count: int, dims: set[int]) -> np.ndarray:
        """The reply's vectors in input order, L2-normalised if asked; an :class:`EmbeddingsError` unless it holds
        one finite vector of the same length as every other per text."""
        where = f"embeddings at {self.endpoint.url} ({self.model})"
        data = getattr(reply, "data", None)
        if not isinstance(data, list) or len(data) != count:
            got = len(data) if isinstance(data, list) else "no list of"
            raise EmbeddingsError(f"{where}: {got} embeddings came back for {count} texts")
        indexes = [getattr(item, "index", i) for i, item in enumerate(data)]
        if sorted(indexes) != list(range(count)):
            raise EmbeddingsError(f"{where}: the embeddings' indexes are not 0..{count - 1}")
        order = sorted(range(count), key=indexes.__getitem__)
        rows = []
        for i in order:
            vector = getattr(data[i], "embedding", None)
            if (
                not isinstance(vector, list)
                or not vector
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in vector)
            ):
                raise EmbeddingsError(f"{where}: embedding {i} is not a list of finite numbers")
            rows.append(vector)
        dims.update(len(row) for row in rows)
        if len(dims) > 1:
            raise EmbeddingsError(f"{where}: embeddings of different lengths came back ({sorted(dims)})")
        vectors = np.asarray(rows, dtype=np.float32)
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return vectors


__all__ = ["PREFIX", "EmbeddingsError", "EndpointEncoder", "is_endpoint_model"]
