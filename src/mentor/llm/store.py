"""Persistent response store: SQLite in WAL mode, one row per answered request.

Every answer is committed the moment it arrives, so a run killed at any point and started again repeats no
completed call. Failures are logged in their own table and never served as answers. The store exports to and
imports from JSONL, to share or replay the raw LLM outputs of an experiment.

A store is marked as mentor's (``PRAGMA application_id``) with its schema version (``PRAGMA user_version``): a
SQLite file of another program, or of a newer mentor, is refused untouched. A store that cannot be written is
opened read-only (every reading operation works; a write says "read-only"). A row that cannot be decoded is
skipped with a warning naming it, never served, and replaced when its answer comes again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mentor.llm.output import InvalidOutput, parse_output
from mentor.llm.types import ChatRequest, Completion, Failure, Timings, Usage

log = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of a mentor response store (the bytes "mntr").
APPLICATION_ID = 0x6D6E7472
#: ``PRAGMA user_version`` of the schema below; a store with a higher one was written by a newer mentor.
SCHEMA_VERSION = 1

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
    label_probs TEXT,
    timings TEXT
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
    "prompt_tokens", "completion_tokens", "cost", "latency_s", "created", "run_id", "label_probs", "timings",
)  # fmt: skip
_JSON_FIELDS = ("request", "parsed", "label_probs", "timings")
#: Columns and export fields added after the first release: a store without them gains them when opened for
#: writing and reads them as null when opened read-only; an older export without them still imports.
_OPTIONAL_FIELDS = ("label_probs", "timings")
#: The columns of each table (the optional ones may be missing from an old store: they are added on open).
_COLUMNS = {
    "responses": _EXPORT_FIELDS,
    "failures": ("id", "key", "model", "reason", "detail", "attempts", "prompt_tokens", "completion_tokens",
                 "created", "run_id"),
    "claims": ("key", "owner", "expires"),
    "hits": ("id", "key", "model", "created", "run_id"),
}  # fmt: skip
_RESTORE = (
    "restore it from an earlier `mentor llm export` (`mentor llm import` into a new store) or choose another --store"
)


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
    #: Mean seconds per answer (``latency_s``: the model's own time where its backend measured it).
    mean_latency_s: float | None = None
    #: Answers stored with timings, and their means: prompt evaluation and decoding seconds, prompt tokens
    #: evaluated (those not reused from the cache of the previous prompt). ``None`` where none reports them.
    timed: int = 0
    mean_prefill_s: float | None = None
    mean_decode_s: float | None = None
    mean_prompt_eval_tokens: float | None = None

    @property
    def hit_rate(self) -> float:
        served = self.calls + self.hits
        return self.hits / served if served else 0.0


@dataclass(frozen=True)
class Claim:
    """A process asking for ``key`` right now; it renews ``expires`` while it asks."""

    key: str
    owner: str
    expires: float


@dataclass(frozen=True)
class Unreadable:
    """A stored answer that cannot be decoded: ``row`` is its SQLite rowid, ``key`` its key where readable."""

    row: int
    key: str | None
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}" + (f" (key {self.key})" if self.key else "") + f": {self.reason}"


class ResponseStore:
    """SQLite-backed store of completed LLM responses, safe to share between threads and processes.

    Args:
        path: the store file (created, with its directory, unless ``readonly``).
        readonly: ``True`` opens it for reading only (``mode=ro``; no file is created or changed); ``None`` (the
            default) does so when the file or its directory cannot be written; a write then raises
            :class:`StoreError` saying "read-only".
    """

    def __init__(self, path: str | Path, *, readonly: bool | None = None) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._closed = False
        self._unreadable: set[str] = set()  # keys of undecodable rows: named once, replaced when answered again
        self._refuse_empty()
        self.readonly = _not_writable(self.path) if readonly is None else readonly
        if readonly is False and _not_writable(self.path):
            raise StoreError(self._readonly_message())
        try:
            self._db = self._open(fall_back=readonly is None)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a usable mentor response store ({error}); {_RESTORE}") from None
        except OSError as error:
            raise StoreError(f"{self.path}: cannot open or create the response store ({error.strerror or error})") \
                from None  # fmt: skip

    def _open(self, *, fall_back: bool) -> sqlite3.Connection:
        """Connect as ``self.readonly`` says; with ``fall_back``, a file SQLite finds read-only opens read-only."""
        if self.readonly:
            return self._open_readonly()
        try:
            return self._open_readwrite()
        except sqlite3.OperationalError as error:
            if not (_errorname(error).startswith("SQLITE_READONLY") and self.path.is_file()):
                raise
            if not fall_back:
                raise StoreError(self._readonly_message(error)) from None
        self.readonly = True  # writable by its permissions, yet not (a read-only file system, an immutable file)
        return self._open_readonly()

    def _refuse_empty(self) -> None:
        if _empty_for_long(self.path):
            # mentor writes a store's header the moment it creates it, so an empty file that is not brand new (being
            # created by another process) is a truncated or wrongly chosen one: it would silently become a new store.
            raise StoreError(f"{self.path}: an empty file (0 bytes), not a mentor response store; if it was a store, "
                             "its answers are lost (restore it from a `mentor llm export` copy); otherwise remove "
                             "the file or choose another --store")  # fmt: skip

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=30.0, check_same_thread=False, isolation_level=None, uri=uri)

    def _open_readwrite(self) -> sqlite3.Connection:
        """Open (or create) the store for writing: refuse a foreign or newer file untouched, then create or mark."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect(str(self.path))
        try:
            self._admit(db)  # reads only: a refused file is left exactly as it was
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                kind = self._admit(db)
                if kind != "new":  # a store older than label probabilities or timings gains their columns
                    have = _columns(db, "responses")
                    for column in (c for c in _OPTIONAL_FIELDS if c not in have):
                        db.execute(f"ALTER TABLE responses ADD COLUMN {column} TEXT")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                if kind != "mentor" or db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _open_readonly(self) -> sqlite3.Connection:
        """Open the store with ``mode=ro``; in a directory that cannot be written (no ``-shm`` file can be made),
        as ``immutable`` when no ``-wal`` file holds answers not yet in the main file."""
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no response store here (set --store or MENTOR_STORE)")
        uri = self.path.resolve().as_uri()
        try:
            return self._readable(f"{uri}?mode=ro")
        except sqlite3.OperationalError as error:
            if not _errorname(error).startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            raise StoreError(
                f"{self.path}: read-only, and its write-ahead log {wal.name} holds answers that only a "
                "writer can fold in; copy the store with its -wal file into a writable directory"
            )
        return self._readable(f"{uri}?mode=ro&immutable=1")

    def _readable(self, uri: str) -> sqlite3.Connection:
        """A read-only connection to an admitted store; a store older than ``label_probs`` or ``timings`` reads
        them as null."""
        db = self._connect(uri, uri=True)
        try:
            self._admit(db)
            have = _columns(db, "responses")
            if missing := [column for column in _OPTIONAL_FIELDS if column not in have]:  # temp is searched first
                nulls = "".join(f", NULL AS {column}" for column in missing)
                db.execute(f"CREATE TEMP VIEW responses AS SELECT rowid AS rowid, *{nulls} FROM main.responses")
        except BaseException:
            db.close()
            raise
        return db

    def _admit(self, db: sqlite3.Connection) -> str:
        """What the open file is ("new", "mentor" or "legacy": an unmarked store of an earlier mentor); a file of
        another program, or of a newer mentor, is a :class:`StoreError` (nothing is written before this)."""
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application_id not in (0, APPLICATION_ID):
            raise StoreError(f"{self.path}: not a mentor response store (a SQLite database of another program, "
                             f"application_id 0x{application_id:08x}); choose another --store")  # fmt: skip
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer mentor (store schema version {version}; this mentor "
                             f"reads up to {SCHEMA_VERSION}); upgrade mentor or choose another --store")  # fmt: skip
        if application_id == APPLICATION_ID:
            return "mentor"
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.path}: an empty database, not yet a mentor response store")
            return "new"
        missing = [c for c in _EXPORT_FIELDS if c not in _OPTIONAL_FIELDS and c not in _columns(db, "responses")]
        if missing:
            what = "has no `responses` table" if "responses" not in tables else \
                f"its `responses` table lacks mentor's column(s) {', '.join(missing)}"  # fmt: skip
            raise StoreError(
                f"{self.path}: not a mentor response store (a SQLite database with tables "
                f"{', '.join(sorted(tables))}; {what}); it was left untouched: choose another --store"
            )
        return "legacy"

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._closed = True

    @contextmanager
    def _sql(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; SQLite's errors become a :class:`StoreError` naming the file."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the response store was used after it was closed")
            if write and self.readonly:
                raise StoreError(self._readonly_message())
            try:
                yield self._db
            except sqlite3.DatabaseError as error:
                raise StoreError(self._explain(error)) from None

    def _readonly_message(self, error: object = "the file or its directory cannot be written") -> str:
        return (
            f"{self.path}: the response store is read-only ({error}); reading works (`mentor llm stats`, "
            "`export`, `check`), but this needs to write to it: make it writable, or copy it and use the copy"
        )

    def _explain(self, error: sqlite3.DatabaseError) -> str:
        name = _errorname(error)
        if name.startswith("SQLITE_READONLY"):
            return self._readonly_message(error)
        if name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR"):
            return f"{self.path}: the response store cannot be written ({error}); free space or choose another --store"
        if "no such column" in str(error) or "no such table" in str(error):
            return f"{self.path}: the response store lacks part of mentor's schema ({error}); {_RESTORE}"
        return (f"{self.path}: the response store is damaged ({error}); `mentor llm export --store {self.path} "
                f"FILE` saves the answers that can still be read; {_RESTORE}")  # fmt: skip

    def __enter__(self) -> ResponseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- soundness -----------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Every problem found: SQLite's integrity check, the schema (tables and columns), and each stored answer
        decoded and validated as an import would. ``[]`` when the store is sound."""
        problems = []
        with self._sql() as db:
            try:
                rows = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
                problems += [] if rows == ["ok"] else rows
                for table, wanted in _COLUMNS.items():
                    have = _columns(db, table)
                    if not have:
                        problems.append(f"table {table!r} is missing")
                    elif missing := [column for column in wanted if column not in have]:
                        problems.append(f"table {table!r} lacks column(s) {', '.join(missing)}")
            except sqlite3.DatabaseError as error:
                problems.append(f"SQLite cannot check it: {error}")
        if any(problem.startswith("table 'responses'") for problem in problems):
            return problems
        skipped: list[Unreadable] = []
        try:
            for _ in self.iter_records(skipped):
                pass
        except StoreError as error:
            problems.append(str(error))
        return problems + [str(row) for row in skipped]

    # -- answers -------------------------------------------------------------------------------------------

    def get(self, key: str, *, run_id: str) -> Completion | None:
        """The stored answer for ``key`` (logged as a hit for ``run_id``), or ``None``. A row that cannot be
        decoded counts as no answer; it is named once, as a warning."""
        with self._sql() as db:
            row = db.execute(
                "SELECT text, parsed, label, repaired, prompt_tokens, completion_tokens, cost, latency_s,"
                " model, endpoint, created, run_id, label_probs, timings, rowid FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            try:
                completion = _completion(key, row)
            except (ValueError, TypeError) as error:
                self._skip(Unreadable(row[14], key, _reason(error)))
                return None
            if not self.readonly:  # a read-only store serves answers without logging the hit
                db.execute(
                    "INSERT INTO hits (key, model, created, run_id) VALUES (?, ?, ?, ?)",
                    (key, row[8], time.time(), run_id),
                )
        return completion

    def _skip(self, row: Unreadable) -> None:
        """Name an undecodable answer once (a warning); it then counts as not stored until replaced."""
        if row.key is not None and row.key not in self._unreadable:
            self._unreadable.add(row.key)
            log.warning("warning: %s: the stored answer in row %d (key %s) cannot be read: %s; it counts as not "
                        "stored and is replaced when asked again", self.path, row.row, row.key, row.reason)  # fmt: skip

    def put(self, completion: Completion, request: ChatRequest, model_identity: str) -> None:
        """Commit a fresh answer immediately (autocommit: durable before the caller sees it). An existing answer is
        kept, unless its row could not be read."""
        verb = "INSERT OR REPLACE" if completion.key in self._unreadable else "INSERT OR IGNORE"
        with self._sql(write=True) as db:
            db.execute(
                f"{verb} INTO responses ({', '.join(_EXPORT_FIELDS)}) VALUES ({', '.join('?' * len(_EXPORT_FIELDS))})",
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
                    None if completion.timings is None else completion.timings.to_json(),
                ),
            )
        self._unreadable.discard(completion.key)

    def record_failure(self, failure: Failure, *, run_id: str) -> None:
        with self._sql(write=True) as db:
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

    def claim(self, key: str, owner: str, lease_s: float, *, take_over: Claim | None = None) -> bool:
        """Mark ``key`` as being asked by ``owner`` for ``lease_s`` seconds (renew it with :meth:`renew` while
        asking). ``False`` when the answer is already stored or another live claim holds the key (then wait for its
        answer: :meth:`get`). A claim past its time, of a process that is gone (same host, pid not running), or
        equal to ``take_over`` (one seen unrenewed for a whole lease) is taken over."""
        now = time.time()
        with self._sql(write=True) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if (
                    key not in self._unreadable
                    and db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone()
                ):
                    return False
                row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
                if row is not None and row[0] != owner and row[1] > now and _alive(row[0]) and \
                        Claim(key, *row) != take_over:  # fmt: skip
                    return False
                db.execute("INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                           (key, owner, now + lease_s))  # fmt: skip
                return True
            finally:
                db.execute("COMMIT")

    def renew(self, key: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s claim on ``key`` by ``lease_s`` seconds from now; ``False`` if it no longer holds it."""
        with self._sql(write=True) as db:
            cursor = db.execute("UPDATE claims SET expires = ? WHERE key = ? AND owner = ?",
                                (time.time() + lease_s, key, owner))  # fmt: skip
            return cursor.rowcount > 0

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (answered, or failed: another process may then try)."""
        with self._sql(write=True) as db:
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def holder(self, key: str) -> Claim | None:
        """The claim on ``key``, if any."""
        with self._sql() as db:
            row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
        return None if row is None else Claim(key, *row)

    def claims(self) -> list[Claim]:
        """Every claim in the store, by owner."""
        with self._sql() as db:
            rows = db.execute("SELECT key, owner, expires FROM claims ORDER BY owner, key").fetchall()
        return [Claim(*row) for row in rows]

    def release_claims(self, owner: str | None = None) -> int:
        """Drop every claim (or ``owner``'s); returns how many. A process still asking then just pays again."""
        where, args = ("WHERE owner = ?", (owner,)) if owner else ("", ())
        with self._sql(write=True) as db:
            return db.execute(f"DELETE FROM claims {where}", args).rowcount

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
                "SELECT model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost), AVG(latency_s)"
                f" FROM responses {where} GROUP BY model",
                args,
            ).fetchall()
            timed = _timing_means(db, where, args)
            hits = dict(db.execute(f"SELECT model, COUNT(*) FROM hits {where} GROUP BY model", args))
            fails = dict(db.execute(f"SELECT model, COUNT(*) FROM failures {where} GROUP BY model", args))
        by_model = {row[0]: row for row in calls}
        models = sorted(set(by_model) | set(hits) | set(fails))
        out = []
        for model in models:
            row = by_model.get(model, (model, 0, 0, 0, 0.0, None))
            count, prefill, decode, evaluated = timed.get(model, (0, None, None, None))
            out.append(
                ModelStats(
                    model=model,
                    calls=row[1],
                    prompt_tokens=row[2] or 0,
                    completion_tokens=row[3] or 0,
                    cost=row[4] or 0.0,
                    hits=hits.get(model, 0),
                    failures=fails.get(model, 0),
                    mean_latency_s=row[5],
                    timed=count,
                    mean_prefill_s=prefill,
                    mean_decode_s=decode,
                    mean_prompt_eval_tokens=evaluated,
                )
            )
        return out

    def mean_latency(self, model_identity: str) -> tuple[int, float | None]:
        """(number of stored answers, their mean time in seconds) for one model identity: the answers stored with
        timings where there are any (their ``latency_s`` is the model's own time), else all of them (stored
        before timings were kept, an in-process model's time then included its wait behind other requests)."""
        with self._sql() as db:
            query = "SELECT COUNT(*), AVG(latency_s) FROM responses WHERE model_identity = ?"
            count, mean = db.execute(f"{query} AND timings IS NOT NULL", (model_identity,)).fetchone()
            if not count:
                count, mean = db.execute(query, (model_identity,)).fetchone()
        return count, mean

    def failure_reasons(self, run_id: str | None = None) -> dict[str, int]:
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        with self._sql() as db:
            return dict(db.execute(f"SELECT reason, COUNT(*) FROM failures {where} GROUP BY reason", args))

    # -- JSONL exchange ------------------------------------------------------------------------------------

    def iter_records(self, skipped: list[Unreadable] | None = None) -> Iterator[dict[str, Any]]:
        """Every readable stored answer as an export record, oldest first. A row that cannot be read (a cell that
        is not JSON, a damaged page) is left out and, if ``skipped`` is given, appended to it."""
        skipped = [] if skipped is None else skipped
        records = []
        missing = self.lost_columns()
        for rowid, row in self._rows(skipped, missing):
            try:
                records.append(_record(_filled(row, missing)))
            except (ValueError, TypeError) as error:
                key = row[0] if isinstance(row[0], str) else None
                skipped.append(Unreadable(rowid, key, _reason(error)))
        records.sort(key=lambda record: record["created"] if isinstance(record["created"], int | float) else 0)
        yield from records

    def lost_columns(self) -> list[str]:
        """The answer columns this store's schema has lost (a damaged or hand-edited file) that an export can do
        without (:func:`describe_filled` says what they get); one it cannot do without is a :class:`StoreError`."""
        with self._sql() as db:
            missing = [field for field in _EXPORT_FIELDS if field not in _columns(db, "responses")]
        lost = [field for field in missing if field not in _FILLED]
        if lost:
            raise StoreError(f"{self.path}: the response store lacks column(s) {', '.join(lost)}, without which no "
                             f"answer can be exported; {_RESTORE}")  # fmt: skip
        return missing

    def _rows(self, skipped: list[Unreadable], missing: Sequence[str] = ()) -> list[tuple[int, tuple[Any, ...]]]:
        """(rowid, row) of every answer (a ``missing`` column reads as NULL); when a damaged page stops the scan,
        row by row, skipping those that fail."""
        columns = ", ".join(f"NULL AS {field}" if field in missing else field for field in _EXPORT_FIELDS)
        select = f"SELECT rowid, {columns} FROM responses"
        with self._sql() as db:
            try:
                return [(row[0], row[1:]) for row in db.execute(select).fetchall()]
            except sqlite3.DatabaseError as error:
                if _errorname(error) == "SQLITE_ERROR":  # the schema, not the data: nothing to salvage row by row
                    raise
            rows = []
            for rowid in range(1, (db.execute("SELECT MAX(rowid) FROM responses").fetchone()[0] or 0) + 1):
                try:
                    row = db.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchone()
                except sqlite3.DatabaseError as error:
                    skipped.append(Unreadable(rowid, None, f"cannot be read ({error})"))
                    continue
                if row is None:  # rowids are given in order, so a gap is most likely a row lost with its page
                    skipped.append(Unreadable(rowid, None, "not found: lost with a damaged page (or never used)"))
                else:
                    rows.append((row[0], row[1:]))
        return rows

    def export_jsonl(self, out: TextIO, skipped: list[Unreadable] | None = None) -> int:
        """Write every readable answer as one JSON line; rows that cannot be read go to ``skipped``."""
        count = 0
        for record in self.iter_records(skipped):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count

    def import_jsonl(self, source: Iterable[str], *, name: str = "<input>") -> tuple[int, int]:
        """Add the records of an exported file (its lines); returns (added, already present).

        The whole file is validated first: a bad line raises :class:`StoreError` naming it, and nothing is added.
        """
        rows = [_record_to_row(line, number, name) for number, line in enumerate(source, 1) if line.strip()]
        with self._sql(write=True) as db:
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


def _not_writable(path: Path) -> bool:
    """Whether an existing store cannot be written (the file, or its directory where SQLite keeps its -shm and
    -wal files)."""
    try:
        return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    except OSError:
        return False


def _errorname(error: sqlite3.Error) -> str:
    return getattr(error, "sqlite_errorname", "") or ""


def _timing_means(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """Per model: (answers with timings, mean prefill seconds, mean decode seconds, mean prompt tokens evaluated);
    empty where this SQLite has no JSON functions."""
    condition = f"{where} AND" if where else "WHERE"
    fields = ", ".join(f"AVG(json_extract(timings, '$.{name}'))" for name in
                       ("prefill_s", "decode_s", "prompt_eval_tokens"))  # fmt: skip
    try:
        rows = db.execute(f"SELECT model, COUNT(*), {fields} FROM responses {condition} timings IS NOT NULL"
                          " AND json_valid(timings) GROUP BY model", args).fetchall()  # fmt: skip
    except sqlite3.OperationalError as error:
        if "no such function" not in str(error):
            raise
        return {}
    return {row[0]: row[1:] for row in rows}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _json_cell(value: Any, field: str) -> Any:
    """A JSON column's value decoded; a cell that is not JSON text is a ValueError naming the column."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"column {field!r} holds a {type(value).__name__}, not JSON text")
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"column {field!r} is not valid JSON ({error.msg})") from None


#: Columns an export can do without (a store whose schema lost them): the value each answer gets, and how it
#: is described. ``parsed`` and ``label`` are parsed again from the answer's text and its request's output format.
_FILLED: dict[str, tuple[Any, str]] = {
    "model": (None, "the model identity for model"), "endpoint": ("", "no endpoint"),
    "parsed": (None, "parsed and label read again from the text"), "label": (None, "label read again from the text"),
    "repaired": (0, "repaired false"), "prompt_tokens": (0, "0 prompt tokens"),
    "completion_tokens": (0, "0 completion tokens"), "cost": (0.0, "cost 0"), "latency_s": (0.0, "latency 0"),
    "created": (0.0, "created 0"), "run_id": ("", "no run id"), "label_probs": (None, "no label probabilities"),
    "timings": (None, "no timings"),
}  # fmt: skip


def describe_filled(columns: Sequence[str]) -> str:
    """What an export gives answers for the lost ``columns``, in words."""
    return ", ".join(_FILLED[column][1] for column in columns)


def _filled(row: tuple[Any, ...], missing: Sequence[str]) -> tuple[Any, ...]:
    """``row`` with the ``missing`` columns given what :data:`_FILLED` says (the parsed answer parsed again)."""
    if not missing:
        return row
    record = dict(zip(_EXPORT_FIELDS, row, strict=True))
    for field in missing:
        record[field] = _FILLED[field][0]
    if "model" in missing:
        record["model"] = record["model_identity"]
    if "parsed" in missing or "label" in missing:
        request = ChatRequest.model_validate(_json_cell(record["request"], "request"))
        try:
            parsed = parse_output(request.output, record["text"])
        except InvalidOutput as error:
            raise ValueError(f"the answer's text no longer parses ({error.detail})") from None
        if "parsed" in missing:
            record["parsed"] = None if parsed.parsed is None else json.dumps(parsed.parsed, ensure_ascii=False)
        if "label" in missing:
            record["label"] = parsed.label
    return tuple(record[field] for field in _EXPORT_FIELDS)


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    """An export record from a ``responses`` row (in ``_EXPORT_FIELDS`` order), its JSON columns decoded."""
    record = dict(zip(_EXPORT_FIELDS, row, strict=True))
    for field in _JSON_FIELDS:
        record[field] = _json_cell(record[field], field)
    record["repaired"] = bool(record["repaired"])
    _validate(record)
    return record


def _completion(key: str, row: tuple[Any, ...]) -> Completion:
    """The stored answer in a row of :meth:`ResponseStore.get`'s query; ValueError if a cell cannot be decoded."""
    return Completion(
        key=key,
        text=row[0],
        parsed=_json_cell(row[1], "parsed"),
        label=row[2],
        repaired=bool(row[3]),
        usage=Usage(prompt_tokens=row[4], completion_tokens=row[5]),
        cost=row[6],
        latency_s=row[7],
        model=row[8],
        endpoint=row[9],
        created=row[10],
        run_id=row[11],
        label_probs=_json_cell(row[12], "label_probs"),
        timings=_timings(_json_cell(row[13], "timings"), "column"),
        cached=True,
    )


def claim_owner(run_id: str) -> str:
    """Who holds a claim: this host, this process and the run."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def _alive(owner: str) -> bool:
    """Whether the process named in a claim may still be running (unknown hosts are assumed alive: their claims
    lapse unless renewed)."""
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
    return _row_from_record(record, where)


def _row_from_record(record: dict[str, Any], where: str) -> tuple[Any, ...]:
    """The ``responses`` row of an export record, validated: a bad field is a :class:`StoreError` after ``where``."""
    try:
        _validate(record)
    except ValueError as error:
        raise StoreError(f"{where}: {error}") from None
    values = []
    for field in _EXPORT_FIELDS:
        value = record[field]
        if field in _JSON_FIELDS and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        elif field == "repaired":
            value = int(bool(value))
        values.append(value)
    return tuple(values)


def _validate(record: dict[str, Any]) -> None:
    """Check an export record as an import must (types, the request, its key); ValueError says what is wrong."""
    for optional in _OPTIONAL_FIELDS:
        record.setdefault(optional, None)
    missing = [field for field in _EXPORT_FIELDS if field not in record]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    for field in ("key", "model", "model_identity", "endpoint", "text", "run_id"):
        if not isinstance(record[field], str):
            raise ValueError(f"field {field!r} must be a string")
    if record["label"] is not None and not isinstance(record["label"], str):
        raise ValueError("field 'label' must be null or a string")
    try:
        request = ChatRequest.model_validate(record["request"])
    except ValueError as error:
        raise ValueError(f"field 'request' is not a chat request ({error})") from None
    if request.key(record["model_identity"]) != record["key"]:
        raise ValueError("field 'key' does not match the request and model_identity")
    for field in ("prompt_tokens", "completion_tokens"):
        if not isinstance(record[field], int) or record[field] < 0:
            raise ValueError(f"field {field!r} must be a non-negative integer")
    for field in ("cost", "latency_s", "created"):
        if not isinstance(record[field], int | float):
            raise ValueError(f"field {field!r} must be a number")
    probs = record["label_probs"]
    if probs is not None and not (
        isinstance(probs, dict) and all(isinstance(v, int | float) and 0 <= v <= 1 for v in probs.values())
    ):
        raise ValueError("field 'label_probs' must be null or an object of probabilities")
    _timings(record["timings"], "field")


def _timings(value: Any, where: str) -> Timings | None:
    """Stored or exported timings (``None``, or an object of non-negative numbers); ValueError if not."""
    if value is None:
        return None
    try:
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return Timings.model_validate(value)
    except ValueError:
        raise ValueError(f"{where} 'timings' must be null or an object of non-negative numbers") from None
