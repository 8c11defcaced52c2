"""Errors about input data (graphs, tasks, recorded teacher outputs), naming the file, line and field at fault."""

from __future__ import annotations

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
        self.message, self.file, self.line, self.field = message, file, line, field

    def moved(self, file: str | Path) -> DataError:
        """The same error about ``file`` (the original of a copy that was read)."""
        return type(self)(self.message, file=file, line=self.line, field=self.field)


class DatasetNotFound(DataError):
    """The files of a data set are missing and could not be downloaded."""
