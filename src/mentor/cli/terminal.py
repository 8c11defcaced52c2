"""Text from a model or a data set, made safe to show on a terminal.

Model output and node texts are untrusted: an escape sequence in them (``\\x1b[2J`` clears the screen) must show
as nothing, not act. Line breaks and tabs are kept.
"""

from __future__ import annotations

import re

from rich.markup import escape

#: C0 controls but tab and line feed, DEL, and C1 controls (``\\x9b`` starts a sequence on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Whole ANSI/VT escape sequences (CSI, OSC, and two-character ones), removed before stray controls.
_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def plain(text: str) -> str:
    """``text`` without escape sequences or control characters (tab and line feed kept)."""
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def safe_markup(text: str) -> str:
    """``text`` ready to embed in Rich markup: no controls, and no ``[...]`` taken for markup."""
    return escape(plain(text))


__all__ = ["plain", "safe_markup"]
