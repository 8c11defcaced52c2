"""WebKB university web graphs (Cornell, Texas, Wisconsin): heterophilic.

``cornell``/``texas``/``wisconsin`` are the CS-TAG versions with page text; ``webkb:<Name>`` is the Geom-GCN
feature-only original with its 10 standard splits. The two are different crawls and do not share node ids.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import WebKB

from mentor.errors import DataError
from mentor.graph.datasets._common import csv_table, masks_from_columns, pyg_dataset, require_file, undirected
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate

WEBKB_NAMES = ("Cornell", "Texas", "Wisconsin")
# Geom-GCN's files carry label ids only, and their order is not the same across the three graphs (by class sizes:
# Texas 1 is "staff", Wisconsin 0 is). Rather than guess, the classes are named by id.
GEOM_GCN_CLASSES = [f"label_{i}" for i in range(5)]
_COLUMNS = ("raw_text", "category", "node_id", "label", "neighbor_ids")


def _canonical(name: str) -> str:
    for known in WEBKB_NAMES:
        if known.lower() == name.lower():
            return known
    raise ValueError(f"unknown WebKB graph {name!r}; expected one of {', '.join(WEBKB_NAMES)}")


def _count(text: str, path: Path, line: int, field: str) -> int:
    """A non-negative integer cell."""
    if not text.strip().isdecimal() or not text.strip().isascii():
        raise DataError(f"expected a non-negative integer, got {text[:60]!r}", file=path, line=line, field=field)
    return int(text)


def _neighbours(text: str, n: int, path: Path, line: int) -> list[int]:
    """A ``neighbor_ids`` cell: a list of node ids such as ``[3, 17]`` (empty: no neighbours)."""
    try:
        value = ast.literal_eval(text) if text.strip() else []
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, list | tuple):
        raise DataError(f"expected a list of node ids such as [3, 17], got {text[:60]!r}", file=path, line=line,
                        field="neighbor_ids")  # fmt: skip
    for neighbour in value:
        if type(neighbour) is not int or not 0 <= neighbour < n:
            raise DataError(f"neighbour {neighbour!r} is not a node id 0..{n - 1}", file=path, line=line,
                            field="neighbor_ids")  # fmt: skip
    return list(value)


def load_webkb_text(root: Path, name: str, seed: int = 0) -> TextGraph:
    """CS-TAG WebKB with page text; class names from the ``category`` column; split ``random`` (60/20/20)."""
    name = _canonical(name)
    path = require_file(root / "webkb" / name.lower() / "cstag_text" / f"{name}.csv", f"WebKB {name} page text")
    header, rows = csv_table(path)
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=path, line=1)
    n = len(rows)
    class_of: dict[int, str] = {}
    labels, sources, targets = [], [], []
    for index, (line, row) in enumerate(rows):
        if _count(row["node_id"], path, line, "node_id") != index:
            raise DataError(f"node_id {row['node_id']} must equal the row index {index}", file=path, line=line,
                            field="node_id")  # fmt: skip
        label, category = _count(row["label"], path, line, "label"), row["category"]
        if class_of.setdefault(label, category) != category:
            raise DataError(f"label {label} is both {class_of[label]!r} and {category!r}", file=path, line=line,
                            field="category")  # fmt: skip
        labels.append(label)
        for neighbour in _neighbours(row["neighbor_ids"], n, path, line):
            sources.append(index)
            targets.append(neighbour)
    if sorted(class_of) != list(range(len(class_of))):
        raise DataError(f"label ids must be 0..{len(class_of) - 1}, got {sorted(class_of)}", file=path, field="label")
    y = torch.tensor(labels, dtype=torch.long)
    edge_index = undirected(torch.tensor([sources, targets], dtype=torch.long), n)
    texts = [" ".join(part.strip() for part in row["raw_text"].split(";") if part.strip()) for _, row in rows]
    graph = TextGraph(
        name=name.lower(),
        data=Data(y=y, edge_index=edge_index, num_nodes=n),
        texts=texts,
        class_names=[class_of[c] for c in range(len(class_of))],
        splits={"random": random_split(y, seed)},
        source=str(path),
        node_ids=[row["url"] for _, row in rows] if "url" in header else None,
    )
    return validate(graph)


def load_webkb_features(root: Path, name: str, seed: int = 0) -> TextGraph:
    """Geom-GCN WebKB (``webkb:<Name>``): BoW features, splits ``geom-gcn-0`` … ``geom-gcn-9`` and ``random``."""
    name = _canonical(name)
    raw_dir = root / "webkb" / name.lower() / "raw"
    pyg = pyg_dataset(lambda r: WebKB(r, name), root, raw_dir, f"WebKB {name}")[0]
    splits = {
        f"geom-gcn-{i}": Split(*(masks_from_columns(m, i) for m in (pyg.train_mask, pyg.val_mask, pyg.test_mask)))
        for i in range(pyg.train_mask.size(1) if pyg.train_mask.dim() == 2 else 1)
    }
    splits["random"] = random_split(pyg.y, seed)
    data = Data(x=pyg.x, y=pyg.y, edge_index=undirected(pyg.edge_index, pyg.num_nodes), num_nodes=pyg.num_nodes)
    graph = TextGraph(name=f"webkb:{name}", data=data, texts=None, class_names=list(GEOM_GCN_CLASSES),
                      splits=splits, source=str(raw_dir.parent))  # fmt: skip
    return validate(graph)
