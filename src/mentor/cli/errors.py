"""Turning expected errors into one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from mentor.cli.terminal import safe_markup
from mentor.llm import LLMError, ModelNotAvailable, StoreError

stderr = Console(stderr=True)

EXPECTED = (LLMError, ModelNotAvailable, StoreError, FileNotFoundError, KeyError, ValueError)

#: Operating-system errors about a path the user gave (a name too long, a directory where a file belongs, no
#: permission, a full or read-only disk): the user's to fix, so one line. Any other OSError is a bug: traceback.
USER_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError)
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENAMETOOLONG", "ELOOP", "EROFS", "ENOSPC", "EDQUOT", "EACCES", "EPERM", "EFBIG", "EMLINK")
    if hasattr(errno, name)
)


def user_os_error(error: BaseException) -> bool:
    """Whether ``error`` is an OSError about a path the user gave (see :data:`USER_OS_ERRORS`)."""
    return isinstance(error, OSError) and (isinstance(error, USER_OS_ERRORS) or error.errno in USER_ERRNOS)


def message(error: BaseException) -> str:
    """``error`` in one line: an operating-system error as ``PATH: what went wrong`` (with both paths of a
    rename or link), anything else as its own message."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        where = str(error.filename)
        if error.filename2 is not None:
            where += f" -> {error.filename2}"
        return f"{where}: {error.strerror}"
    return str(error)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report expected failures (bad input, missing model, failed call, a path that cannot be used) without a
    traceback; exit 1."""
    try:
        yield
    except EXPECTED as error:
        _fail(error)
    except OSError as error:
        if not user_os_error(error):
            raise
        _fail(error)


def _fail(error: BaseException) -> None:
    stderr.print(f"[bold red]error:[/] {safe_markup(message(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None
