"""The embedding cache: every vector an encoder made, by (encoder identity, sha256 of the text), in one SQLite file.

Re-encoding after a few texts changed costs only those texts, and an encoding that was stopped resumes where it
stopped: each finished batch is committed at once. Lookups go by the primary key, a few hundred keys a query.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mentor.paths import cache_dir

#: Keys per lookup query (SQLite's limit on bound parameters is far above it).
LOOKUP_CHUNK = 500


def text_key(text: str) -> str:
    """The cache key of a text: the sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Float32 vectors by ``(identity, key)`` (default file ``<cache>/embeddings.sqlite``); safe across threads."""

    def __init__(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else cache_dir() / "embeddings.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (encoder TEXT, text_hash TEXT, vector BLOB,"
            " PRIMARY KEY (encoder, text_hash))"
        )
        self._lock = threading.Lock()

    def get(self, identity: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors cached under ``identity`` for those of ``keys`` that have one."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                rows = self._db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE encoder = ? AND text_hash IN"
                    f" ({','.join('?' * len(chunk))})",
                    (identity, *chunk),
                ).fetchall()
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put(self, identity: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store ``(key, vector)`` pairs under ``identity`` in one transaction."""
        rows = [(identity, key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


__all__ = ["EmbeddingCache", "text_key"]
