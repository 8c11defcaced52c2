"""Reading users' text files: UTF-8 line by line, and JSON Lines, with errors that name the file and line.

Line-by-line readers take a gzip-compressed file as well, recognised by its first bytes (not its name).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mentor.errors import DataError

#: The first two bytes of every gzip file.
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether ``path`` starts like a gzip file."""
    with Path(path).open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file, gzip-compressed or not; a line that is not UTF-8 is a
    :class:`DataError` naming the line and the column of the first bad byte (Python's own error counts bytes from
    the start of the file), and so is a compressed stream that breaks off or is corrupt."""
    compressed = is_gzip(path)
    with Path(path).open("rb") as raw:
        handle: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        lines = enumerate(handle, 1)
        number = 0
        while True:
            try:
                number, line = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as error:
                if not compressed:
                    raise
                raise DataError(f"the gzip data is damaged or cut off ({error})", file=path, line=number + 1) from None
            try:
                yield number, line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"not UTF-8: byte 0x{line[error.start]:02x} at column {error.start + 1} (save the file as UTF-8)",
                    file=path, line=number,
                ) from None  # fmt: skip


def check_utf8(path: Path) -> None:
    """Raise :class:`DataError` at the first line of ``path`` that is not UTF-8 (a gzip file is refused: the
    readers that call this read plain text)."""
    if is_gzip(path):
        raise DataError("gzip-compressed; decompress it first (e.g. gunzip)", file=path)
    for _ in utf8_lines(path):
        pass


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object is a DataError."""
    for number, line in utf8_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"not valid JSON ({error.msg} at column {error.colno})", file=path, line=number) from None
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type(record).__name__}", file=path, line=number)
        yield number, record


def json_document(path: Path) -> Any:
    """The JSON value in a UTF-8 file; a file that is not is a DataError naming it (and the line)."""
    check_utf8(path)
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error.msg})", file=path, line=error.lineno) from None


__all__ = ["check_utf8", "json_document", "jsonl_objects", "utf8_lines"]
