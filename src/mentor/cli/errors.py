"""Turning expected errors into one clear line on stderr and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from mentor.cli.terminal import safe_markup
from mentor.llm import LLMError, ModelNotAvailable, StoreError

stderr = Console(stderr=True)

EXPECTED = (LLMError, ModelNotAvailable, StoreError, FileNotFoundError, KeyError, ValueError)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report expected failures (bad input, missing model, failed call) without a traceback; exit 1."""
    try:
        yield
    except EXPECTED as error:
        stderr.print(f"[bold red]error:[/] {safe_markup(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
