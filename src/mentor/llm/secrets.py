"""Keep API keys out of everything mentor stores, prints or logs.

A server may echo the request's key in an error message; failure details pass through :func:`redact` before
they are stored in the response store's failure log or shown to the user.
"""

from __future__ import annotations

import os
import re

REDACTED = "[redacted]"
#: ``Authorization: Bearer …`` values and key-shaped tokens (OpenAI ``sk-…``, and the like).
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"),
)


def redact(text: str, api_key_env: str | None = "OPENAI_API_KEY") -> str:
    """``text`` with the key in the environment variable ``api_key_env`` (if set) and anything shaped like a
    credential replaced by ``[redacted]``."""
    key = os.environ.get(api_key_env) if api_key_env else None
    if key and len(key) >= 4:
        text = text.replace(key, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


__all__ = ["REDACTED", "redact"]
