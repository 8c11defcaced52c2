"""HTTP endpoints: the base URL shown and stored, the credentials only sent, and the identity of the served model.

A base URL may carry credentials (``http://user:secret@host/v1``, ``…/v1?api-key=…``). They are taken out of it
once, here: requests carry them (user-info as basic auth, the query as query parameters of every request), while
everything mentor shows or stores — the endpoint of an answer, ``llm ask --json``, ``result.json`` — uses the
clean ``scheme://host[:port]/path``.

An HTTP model's identity (part of every response-store key) is the served model's name, plus a fingerprint of
what the server reports about the weights behind that name when it reports any (``GET /models``: vLLM's ``root``
and ``parent``, llama.cpp server's ``meta``); it does not depend on where the server listens. The identity last
seen at an endpoint is remembered in the mentor cache, so that a run whose server is down still replays its
stored answers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from mentor.paths import cache_dir

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_HOST = "api.openai.com"
#: The variable the OpenAI key is read from when the user names none (and then only for api.openai.com).
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
#: The API key sent where none is (the ``openai`` client needs one).
NO_KEY = "not-needed"
#: Names of the loopback interface, all remembered as one.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
#: What identifies the weights in a llama.cpp server's ``meta`` (its runtime settings are left out).
_META_FIELDS = ("n_params", "size", "n_vocab", "n_embd", "n_ctx_train", "vocab_type")
#: Where the identity last seen at each endpoint is remembered (in the mentor cache directory).
MEMO_FILE = "http-model-identities.json"


@dataclass(frozen=True)
class Endpoint:
    """A base URL taken apart: ``url`` (no user-info, query or fragment) is what is shown and stored; the
    ``Authorization`` header for its user-info and its query parameters are only sent."""

    url: str
    host: str
    authorization: str | None = field(default=None, repr=False)
    query: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, raw: str) -> Endpoint:
        """Take ``raw`` apart; a value that is not an ``http(s)://HOST…`` URL raises ``ValueError`` (without
        repeating it: it may hold a secret)."""
        try:
            parts = urlsplit(raw.strip())
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            host, parts = "", None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
            raise ValueError("expected http(s)://HOST[:PORT]/PATH, e.g. http://127.0.0.1:8000/v1")
        netloc = f"[{host}]" if ":" in host else host
        netloc += f":{port}" if port is not None else ""
        url = urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
        return cls(url=url, host=host, authorization=_basic_auth(parts.username, parts.password),
                   query=dict(parse_qsl(parts.query, keep_blank_values=True)))  # fmt: skip

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own API (the one host the default ``OPENAI_API_KEY`` is sent to)."""
        return self.host == OPENAI_HOST and self.url.startswith("https://")

    def key_variable(self, api_key_env: str | None) -> str | None:
        """The environment variable whose key is sent here: the one the user named, else ``OPENAI_API_KEY`` for
        OpenAI's API alone (a key goes to another host only when the user names its variable); ``None``: no key."""
        return api_key_env or (DEFAULT_KEY_ENV if self.is_openai else None)

    @property
    def place(self) -> str:
        """The endpoint with the loopback interface under one name (``localhost``), for remembering."""
        if self.host not in _LOOPBACK:
            return self.url
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port is not None else ""
        return urlunsplit((parts.scheme, f"localhost{port}", parts.path, "", ""))


def resolve(base_url: str | None) -> Endpoint:
    """The endpoint an ``openai:`` spec talks to: ``base_url``, else ``OPENAI_BASE_URL``, else OpenAI's API."""
    if base_url:
        return Endpoint.parse(base_url)
    try:
        return Endpoint.parse(os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
    except ValueError as error:
        raise ValueError(f"OPENAI_BASE_URL: {error}") from None


def _basic_auth(username: str | None, password: str | None) -> str | None:
    if not username and not password:
        return None
    pair = f"{unquote(username or '')}:{unquote(password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


# -- the identity of a served model ------------------------------------------------------------------------


def http_identity(model: str, fingerprint: str | None = None) -> str:
    """``openai:MODEL``, or ``openai:MODEL#FINGERPRINT`` when the server reports what it serves."""
    return f"openai:{model}#{fingerprint}" if fingerprint else f"openai:{model}"


def fingerprint(entries: Iterable[Mapping[str, Any]], model: str) -> str | None:
    """A short hash of what a ``GET /models`` listing says about the weights served as ``model`` (``None`` when
    it says nothing identifying, as OpenAI, Ollama and llama-cpp-python's server do)."""
    entry = next((e for e in entries if e.get("id") == model), None)
    if entry is None:
        return None
    facts: dict[str, Any] = {name: entry[name] for name in ("root", "parent") if isinstance(entry.get(name), str)}
    meta = entry.get("meta")
    if isinstance(meta, Mapping):
        facts.update({f"meta.{name}": meta[name] for name in _META_FIELDS if name in meta})
    if not facts:
        return None
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _memo_path() -> Path:
    return cache_dir() / MEMO_FILE


def _read_memo() -> dict[str, str]:
    try:
        memo = json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in memo.items() if isinstance(v, str)} if isinstance(memo, dict) else {}


def remembered_identity(model: str, endpoint: Endpoint) -> str | None:
    """The identity last seen for ``model`` at ``endpoint``, if any."""
    return _read_memo().get(f"{model} {endpoint.place}")


def remember_identity(model: str, endpoint: Endpoint, identity: str) -> None:
    """Remember ``identity`` for ``model`` at ``endpoint`` (best effort: a cache that cannot be written is
    skipped)."""
    memo = _read_memo()
    key = f"{model} {endpoint.place}"
    if memo.get(key) == identity:
        return
    memo[key] = identity
    path = _memo_path()
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(memo, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
