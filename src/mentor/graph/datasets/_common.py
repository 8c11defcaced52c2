"""Helpers shared by the loaders: edge clean-up, and PyG data sets processed in mentor's cache (never the data root)."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from torch import Tensor
from torch_geometric.data import InMemoryDataset
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from mentor.errors import DataError, DatasetNotFound
from mentor.paths import DATA_ROOT_ENV, cache_dir
from mentor.readers import check_utf8

D = TypeVar("D", bound=InMemoryDataset)


def undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Both directions of every edge, without self-loops or duplicates."""
    edge_index, _ = remove_self_loops(edge_index.long())
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def pyg_dataset(factory: Callable[[str], D], root: Path, raw_dir: Path, what: str) -> D:
    """Build a PyG data set whose raw files are under ``raw_dir`` (``<root>/.../raw``).

    PyG writes ``processed/`` beside ``raw/`` and later unpickles what it finds there, so it never works in the
    user's data root: the raw files are mirrored into mentor's cache (a directory per data root and raw-file set,
    so changed raw files get freshly processed ones) and PyG processes them there. A ``processed/`` directory in
    the data root is never read. When the raw files are missing, PyG downloads them (online) into the cache;
    offline, a :class:`DatasetNotFound` names the missing directory and the data-root setting. A
    :class:`DataError` about a mirrored file names the file in the data root.
    """
    relative = raw_dir.parent.relative_to(root)
    if raw_dir.is_dir() and any(raw_dir.iterdir()):
        files = sorted(f for f in raw_dir.iterdir() if f.is_file())
        fingerprint = hashlib.sha256(str(root.resolve()).encode())
        for file in files:
            info = file.stat()
            fingerprint.update(f"{file.name}:{info.st_size}:{info.st_mtime_ns}".encode())
        mirror = cache_dir() / "pyg" / fingerprint.hexdigest()[:16] / relative
        (mirror / "raw").mkdir(parents=True, exist_ok=True)
        for file in files:
            target = mirror / "raw" / file.name
            if not target.exists() or target.stat().st_size != file.stat().st_size:
                shutil.copyfile(file, target)
        try:
            return factory(str(mirror.parent))
        except DataError as error:  # about a mirrored file: name the user's own
            if error.file is None or Path(error.file).parent != mirror / "raw":
                raise
            raise error.moved(raw_dir / Path(error.file).name) from None
    download_root = cache_dir() / "pyg" / "downloads"
    try:
        return factory(str(download_root / relative.parent))
    except OSError as error:  # URLError is an OSError: offline, or the source is gone
        raise DatasetNotFound(
            f"{what}: the raw files are missing and could not be downloaded ({error}). Put them in {raw_dir} "
            f"(the data root is set by --data-root or {DATA_ROOT_ENV})",
            file=raw_dir,
        ) from None


def not_a_file(path: Path) -> str | None:
    """Why something at ``path`` cannot be read as a file (a directory, a broken link, a symlink loop…), or
    ``None`` when it is a file or there is nothing there."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"is a broken symbolic link (to {os.readlink(path)})" if path.is_symlink() else None
    except OSError as error:
        return f"cannot be opened: {error.strerror or error}"
    if stat.S_ISDIR(mode):
        return "is a directory, expected a file"
    return None if stat.S_ISREG(mode) else "is not a regular file (a pipe, socket or device)"


def not_a_directory(path: Path) -> str:
    """What is at ``path`` instead of a directory, said for an error message."""
    if path.is_file():
        return "is a file"
    return not_a_file(path) or ("does not exist" if not path.is_symlink() else "is not a directory")


def require_file(path: Path, what: str) -> Path:
    problem = not_a_file(path)
    if problem:
        raise DataError(f"{what} {problem}", file=path)
    if not path.is_file():
        raise DatasetNotFound(
            f"{what} not found. Expected this file under the data root (set by --data-root or {DATA_ROOT_ENV}); "
            "it has no public download in this form: see docs/data.md",
            file=path,
        )
    return path


def masks_from_columns(mask: Tensor, column: int) -> Tensor:
    """One column of a PyG multi-split mask (``[N, S]``), or the mask itself if it is 1-D."""
    return mask[:, column].clone() if mask.dim() == 2 else mask.clone()


def csv_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and ``(line, row)`` pairs of a UTF-8 CSV file, every cell as text. ``line`` is where the row
    starts in the file (a quoted cell may span lines); blank lines are skipped. A column named twice, or a row with
    more or fewer cells than the header, is a :class:`DataError`."""
    check_utf8(path)
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))  # long texts are fine
    rows: list[tuple[int, dict[str, str]]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            for column in dict.fromkeys(c for c in header if header.count(c) > 1):
                places = " and ".join(str(i + 1) for i, c in enumerate(header) if c == column)
                raise DataError(f"column {column!r} appears more than once (columns {places})", file=path, line=1,
                                field=column)  # fmt: skip
            start = reader.line_num + 1
            for cells in reader:
                if cells:
                    if len(cells) != len(header):
                        raise DataError(f"{len(cells)} cells, but the header has {len(header)} columns", file=path,
                                        line=start)  # fmt: skip
                    rows.append((start, dict(zip(header, cells, strict=True))))
                start = reader.line_num + 1
        except csv.Error as error:
            raise DataError(f"not valid CSV ({error})", file=path, line=reader.line_num) from None
    return header, rows
