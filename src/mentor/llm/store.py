"""Persistent response store: SQLite in WAL mode, one row per answered request.

Every answer is committed the moment it arrives, so a run killed at any point and started again repeats no
completed call. Failures are logged in their own table and never served as answers. The store exports to and
imports from JSONL, to share or replay the raw LLM outputs of an experiment.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mentor.llm.types import ChatRequest, Completion, Failure, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    model_identity TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    parsed TEXT,
    label TEXT,
    repaired INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    latency_s REAL NOT NULL,
    created REAL NOT NULL,
    run_id TEXT NOT NULL,
    label_probs TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL,
    run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    run_id TEXT NOT NULL
);
"""

_EXPORT_FIELDS = (
    "key", "model", "model_identity", "endpoint", "request", "text", "parsed", "label", "repaired",
    "prompt_tokens", "completion_tokens", "cost", "latency_s", "created", "run_id", "label_probs",
)  # fmt: skip
_JSON_FIELDS = ("request", "parsed", "label_probs")
#: Export fields added after the first release: an older export without them still imports.
_OPTIONAL_FIELDS = ("label_probs",)


class StoreError(RuntimeError):
    """The store file or an import file cannot be used."""


@dataclass(frozen=True)
class ModelStats:
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    hits: int
    failures: int

    @property
    def hit_rate(self) -> float:
        served = self.calls + self.hits
        return self.hits / served if served else 0.0


class ResponseStore:
    """SQLite-backed store of completed LLM responses, safe to share between threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if _empty_for_long(self.path):
            # mentor writes a store's header the moment it creates it, so an empty file that is not brand new (being
            # created by another process) is a truncated or wrongly chosen one: it would silently become a new store.
            raise StoreError(f"{self.path}: an empty file (0 bytes), not a mentor response store; if it was a store, "
                             "its answers are lost (restore it from a `mentor llm export` copy); otherwise remove "
                             "the file or choose another --store")  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
            if "label_probs" not in columns:  # a store written before label probabilities existed
                self._db.execute("ALTER TABLE responses ADD COLUMN label_probs TEXT")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a usable mentor response store ({error})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._closed = True

    @contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a damaged database file becomes a :class:`StoreError` naming it."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the response store was used after it was closed")
            try:
                yield self._db
            except sqlite3.DatabaseError as error:
                raise StoreError(
                    f"{self.path}: the response store is damaged ({error}); `mentor llm check --store "
                    f"{self.path}` lists what is wrong; restore it from an earlier `mentor llm export`, or choose "
                    "another --store"
                ) from None

    def check(self) -> list[str]:
        """SQLite's integrity check of the store: ``[]`` when it is sound, else the problems it found."""
        with self._sql() as db:
            rows = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def __enter__(self) -> ResponseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answers -------------------------------------------------------------------------------------------

    def get(self, key: str, *, run_id: str) -> Completion | None:
        """The stored answer for ``key`` (logged as a hit for ``run_id``), or ``None``."""
        with self._sql() as db:
            row = db.execute(
                "SELECT text, parsed, label, repaired, prompt_tokens, completion_tokens, cost, latency_s,"
                " model, endpoint, created, run_id, label_probs FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "INSERT INTO hits (key, model, created, run_id) VALUES (?, ?, ?, ?)",
                (key, row[8], time.time(), run_id),
            )
        return Completion(
            key=key,
            text=row[0],
            parsed=None if row[1] is None else json.loads(row[1]),
            label=row[2],
            repaired=bool(row[3]),
            usage=Usage(prompt_tokens=row[4], completion_tokens=row[5]),
            cost=row[6],
            latency_s=row[7],
            model=row[8],
            endpoint=row[9],
            created=row[10],
            run_id=row[11],
            label_probs=None if row[12] is None else json.loads(row[12]),
            cached=True,
        )

    def put(self, completion: Completion, request: ChatRequest, model_identity: str) -> None:
        """Commit a fresh answer immediately (autocommit: durable before the caller sees it)."""
        with self._sql() as db:
            db.execute(
                f"INSERT OR IGNORE INTO responses ({', '.join(_EXPORT_FIELDS)})"
                f" VALUES ({', '.join('?' * len(_EXPORT_FIELDS))})",
                (
                    completion.key,
                    completion.model,
                    model_identity,
                    completion.endpoint,
                    request.model_dump_json(),
                    completion.text,
                    None if completion.parsed is None else json.dumps(completion.parsed, ensure_ascii=False),
                    completion.label,
                    int(completion.repaired),
                    completion.usage.prompt_tokens,
                    completion.usage.completion_tokens,
                    completion.cost,
                    completion.latency_s,
                    completion.created,
                    completion.run_id,
                    None if completion.label_probs is None else json.dumps(completion.label_probs),
                ),
            )

    def record_failure(self, failure: Failure, *, run_id: str) -> None:
        with self._sql() as db:
            db.execute(
                "INSERT INTO failures (key, model, reason, detail, attempts, prompt_tokens,"
                " completion_tokens, created, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    failure.key,
                    failure.model,
                    failure.reason,
                    failure.detail[:2000],
                    failure.attempts,
                    failure.usage.prompt_tokens,
                    failure.usage.completion_tokens,
                    time.time(),
                    run_id,
                ),
            )

    # -- claims: one process at a time asks for a key ------------------------------------------------------

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        """Mark ``key`` as being asked by ``owner`` for at most ``ttl_s`` seconds. ``False`` when the answer is
        already stored or another live claim holds the key (then wait for its answer: :meth:`get`). A claim of a
        process that is gone (same host, pid not running) or past its time is taken over."""
        now = time.time()
        with self._sql() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone():
                    return False
                row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
                if row is not None and row[0] != owner and row[1] > now and _alive(row[0]):
                    return False
                db.execute("INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                           (key, owner, now + ttl_s))  # fmt: skip
                return True
            finally:
                db.execute("COMMIT")

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (answered, or failed: another process may then try)."""
        with self._sql() as db:
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def __contains__(self, key: str) -> bool:
        with self._sql() as db:
            return db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        with self._sql() as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    # -- reporting -----------------------------------------------------------------------------------------

    def stats(self, run_id: str | None = None) -> list[ModelStats]:
        """Calls, tokens, cost, store hits and failures per model (optionally for one run)."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        with self._sql() as db:
            calls = db.execute(
                "SELECT model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost)"
                f" FROM responses {where} GROUP BY model",
                args,
            ).fetchall()
            hits = dict(db.execute(f"SELECT model, COUNT(*) FROM hits {where} GROUP BY model", args))
            fails = dict(db.execute(f"SELECT model, COUNT(*) FROM failures {where} GROUP BY model", args))
        by_model = {row[0]: row for row in calls}
        models = sorted(set(by_model) | set(hits) | set(fails))
        out = []
        for model in models:
            row = by_model.get(model, (model, 0, 0, 0, 0.0))
            out.append(
                ModelStats(
                    model=model,
                    calls=row[1],
                    prompt_tokens=row[2] or 0,
                    completion_tokens=row[3] or 0,
                    cost=row[4] or 0.0,
                    hits=hits.get(model, 0),
                    failures=fails.get(model, 0),
                )
            )
        return out

    def mean_latency(self, model_identity: str) -> tuple[int, float | None]:
        """(number of stored answers, their mean latency in seconds) for one model identity."""
        with self._sql() as db:
            count, mean = db.execute(
                "SELECT COUNT(*), AVG(latency_s) FROM responses WHERE model_identity = ?", (model_identity,)
            ).fetchone()
        return count, mean

    def failure_reasons(self, run_id: str | None = None) -> dict[str, int]:
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        with self._sql() as db:
            return dict(db.execute(f"SELECT reason, COUNT(*) FROM failures {where} GROUP BY reason", args))

    # -- JSONL exchange ------------------------------------------------------------------------------------

    def iter_records(self) -> Iterator[dict[str, Any]]:
        with self._sql() as db:
            rows = db.execute(f"SELECT {', '.join(_EXPORT_FIELDS)} FROM responses ORDER BY created").fetchall()
        for row in rows:
            record = dict(zip(_EXPORT_FIELDS, row, strict=True))
            for field in _JSON_FIELDS:
                if record[field] is not None:
                    record[field] = json.loads(record[field])
            record["repaired"] = bool(record["repaired"])
            yield record

    def export_jsonl(self, out: TextIO) -> int:
        count = 0
        for record in self.iter_records():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count

    def import_jsonl(self, source: TextIO, *, name: str = "<input>") -> tuple[int, int]:
        """Add the records of an exported file; returns (added, already present).

        The whole file is validated first: a bad line raises :class:`StoreError` naming it, and nothing is added.
        """
        rows = [_record_to_row(line, number, name) for number, line in enumerate(source, 1) if line.strip()]
        with self._sql() as db:
            before = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            db.execute("BEGIN")
            try:
                db.executemany(
                    f"INSERT OR IGNORE INTO responses ({', '.join(_EXPORT_FIELDS)})"
                    f" VALUES ({', '.join('?' * len(_EXPORT_FIELDS))})",
                    rows,
                )
            except sqlite3.DatabaseError:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            after = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        return after - before, len(rows) - (after - before)


#: An empty store file younger than this may be one another process is creating right now.
NEW_FILE_S = 5.0


def _empty_for_long(path: Path) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    return path.is_file() and stat.st_size == 0 and time.time() - stat.st_mtime > NEW_FILE_S


def claim_owner(run_id: str) -> str:
    """Who holds a claim: this host, this process and the run."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def _alive(owner: str) -> bool:
    """Whether the process named in a claim may still be running (unknown hosts are assumed alive)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _record_to_row(line: str, number: int, name: str) -> tuple[Any, ...]:
    where = f"{name}, line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise StoreError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise StoreError(f"{where}: expected a JSON object")
    for optional in _OPTIONAL_FIELDS:
        record.setdefault(optional, None)
    missing = [field for field in _EXPORT_FIELDS if field not in record]
    if missing:
        raise StoreError(f"{where}: missing field(s) {', '.join(missing)}")
    for field in ("key", "model", "model_identity", "endpoint", "text", "run_id"):
        if not isinstance(record[field], str):
            raise StoreError(f"{where}: field {field!r} must be a string")
    try:
        request = ChatRequest.model_validate(record["request"])
    except ValueError as error:
        raise StoreError(f"{where}: field 'request' is not a chat request ({error})") from None
    if request.key(record["model_identity"]) != record["key"]:
        raise StoreError(f"{where}: field 'key' does not match the request and model_identity")
    for field in ("prompt_tokens", "completion_tokens"):
        if not isinstance(record[field], int) or record[field] < 0:
            raise StoreError(f"{where}: field {field!r} must be a non-negative integer")
    for field in ("cost", "latency_s", "created"):
        if not isinstance(record[field], int | float):
            raise StoreError(f"{where}: field {field!r} must be a number")
    probs = record["label_probs"]
    if probs is not None and not (
        isinstance(probs, dict) and all(isinstance(v, int | float) and 0 <= v <= 1 for v in probs.values())
    ):
        raise StoreError(f"{where}: field 'label_probs' must be null or an object of probabilities")
    values = []
    for field in _EXPORT_FIELDS:
        value = record[field]
        if field in _JSON_FIELDS and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        elif field == "repaired":
            value = int(bool(value))
        values.append(value)
    return tuple(values)
