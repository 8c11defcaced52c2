"""Reading task files: JSON Lines with line-numbered errors, and JSON arrays of recorded teacher completions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mentor.errors import DataError, DatasetNotFound
from mentor.paths import DATA_ROOT_ENV
from mentor.readers import json_document


def require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetNotFound(
            f"{what} not found (the data root is set by --data-root or {DATA_ROOT_ENV}; see docs/data.md)", file=path
        )
    return path


def field(
    record: dict[str, Any], name: str, kind: type | tuple[type, ...], path: Path, line: int, required: bool = True
) -> Any:
    """``record[name]`` checked against ``kind``; a missing required field or a wrong type is a DataError."""
    if name not in record or record[name] is None:
        if required:
            raise DataError("missing", file=path, line=line, field=name)
        return None
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"expected {names}, got {type(value).__name__}", file=path, line=line, field=name)
    return value


def read_completions(directory: Path, split: str, expected: int) -> list[str]:
    """The recorded completions ``<split>_CoT_<k>.json`` (k = 0, 1, …) concatenated; their total must equal the
    number of task rows, since they are aligned row by row."""
    files = sorted(directory.glob(f"{split}_CoT_*.json"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        raise DatasetNotFound(f"no recorded teacher outputs {split}_CoT_<k>.json", file=directory)
    completions: list[str] = []
    for path in files:
        batch = json_document(path)
        if not isinstance(batch, list) or not all(isinstance(c, str) for c in batch):
            raise DataError("expected a JSON array of completion strings", file=path)
        completions.extend(batch)
    if len(completions) != expected:
        raise DataError(
            f"{len(completions)} recorded completions in {', '.join(p.name for p in files)} for {expected} task rows: "
            "they must align row by row",
            file=directory,
        )
    return completions
