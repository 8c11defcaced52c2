"""Keep API keys out of everything mentor stores, prints or logs.

A server may echo the request's key in an error message; failure details pass through :func:`redact` before
they are stored in the response store's failure log or shown to the user.
"""

from __future__ import annotations

import os
import re

REDACTED = "[redacted]"
#: Credential-shaped text and its replacement: ``Authorization: Bearer …`` values, key-shaped tokens (OpenAI
#: ``sk-…``, and the like), ``api_key=…``, and the user-info and query of URLs (``https://user:pass@host/?key=…``).
_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), REDACTED),
    (re.compile(r"(?i)((?:api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s\"'@]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s\"'?#]*\?)[^\s\"'#]+"), rf"\1{REDACTED}"),
)


def redact(text: str, api_key_env: str | None = None) -> str:
    """``text`` with the keys in ``OPENAI_API_KEY`` and in the environment variable ``api_key_env`` (if set) and
    anything shaped like a credential replaced by ``[redacted]``."""
    for name in dict.fromkeys(("OPENAI_API_KEY", api_key_env)):
        key = os.environ.get(name) if name else None
        if key and len(key) >= 4:
            text = text.replace(key, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


__all__ = ["REDACTED", "redact"]
