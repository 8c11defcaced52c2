"""Errors about input data (graphs, tasks, recorded teacher outputs), naming the file, line and field at fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


class DataError(ValueError):
    """Bad or missing input data. The message names the file (and line and field, where there is one)."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:  # fmt: skip
        where = []
        if file is not None:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.file, self.line, self.field = file, line, field


class DatasetNotFound(DataError):
    """The files of a data set are missing and could not be downloaded."""


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file; a line that is not UTF-8 is a :class:`DataError` naming the line
    and the column of the first bad byte (Python's own error counts bytes from the start of the file)."""
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"not UTF-8: byte 0x{raw[error.start]:02x} at column {error.start + 1} (save the file as UTF-8)",
                    file=path, line=number,
                ) from None  # fmt: skip


def check_utf8(path: Path) -> None:
    """Raise :class:`DataError` at the first line of ``path`` that is not UTF-8."""
    for _ in utf8_lines(path):
        pass
