"""Helpers shared by the loaders: edge clean-up and PyG data sets over a read-only data root."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from torch import Tensor
from torch_geometric.data import InMemoryDataset
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from mentor.errors import DatasetNotFound
from mentor.paths import DATA_ROOT_ENV, cache_dir

D = TypeVar("D", bound=InMemoryDataset)


def undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Both directions of every edge, without self-loops or duplicates."""
    edge_index, _ = remove_self_loops(edge_index.long())
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def pyg_dataset(factory: Callable[[str], D], root: Path, raw_dir: Path, what: str) -> D:
    """Build a PyG data set whose raw files are under ``raw_dir`` (``<root>/.../raw``).

    PyG writes ``processed/`` beside ``raw/``; when the data root is read-only (a shared copy) the raw files are
    mirrored into the mentor cache first. When they are missing, PyG downloads them (online) into the cache;
    offline, a :class:`DatasetNotFound` names the missing directory and the data-root setting.
    """
    relative = raw_dir.parent.relative_to(root)
    if raw_dir.is_dir() and any(raw_dir.iterdir()):
        if os.access(raw_dir.parent, os.W_OK):
            return factory(str(raw_dir.parent.parent))
        tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
        mirror = cache_dir() / "pyg" / tag / relative
        (mirror / "raw").mkdir(parents=True, exist_ok=True)
        for file in raw_dir.iterdir():
            target = mirror / "raw" / file.name
            if file.is_file() and (not target.exists() or target.stat().st_size != file.stat().st_size):
                shutil.copyfile(file, target)
        return factory(str(mirror.parent))
    download_root = root if os.access(root, os.W_OK) else cache_dir() / "pyg" / "downloads"
    try:
        return factory(str(download_root / relative.parent))
    except OSError as error:  # URLError is an OSError: offline, or the source is gone
        raise DatasetNotFound(
            f"{what}: the raw files are missing and could not be downloaded ({error}). Put them in {raw_dir} "
            f"(the data root is set by --data-root or {DATA_ROOT_ENV})",
            file=raw_dir,
        ) from None


def require_file(path: Path, what: str) -> Path:
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
