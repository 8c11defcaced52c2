"""WebKB university web graphs (Cornell, Texas, Wisconsin): heterophilic.

``cornell``/``texas``/``wisconsin`` are the CS-TAG versions with page text; ``webkb:<Name>`` is the Geom-GCN
feature-only original with its 10 standard splits. The two are different crawls and do not share node ids.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import WebKB

from mentor.errors import DataError
from mentor.graph.datasets._common import masks_from_columns, pyg_dataset, require_file, undirected
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate
from mentor.readers import check_utf8

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


def load_webkb_text(root: Path, name: str, seed: int = 0) -> TextGraph:
    """CS-TAG WebKB with page text; class names from the ``category`` column; split ``random`` (60/20/20)."""
    name = _canonical(name)
    path = require_file(root / "webkb" / name.lower() / "cstag_text" / f"{name}.csv", f"WebKB {name} page text")
    check_utf8(path)
    frame = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=path)
    n = len(frame)
    if list(frame["node_id"]) != list(range(n)):
        raise DataError("node_id must equal the row index", file=path, field="node_id")
    class_of: dict[int, str] = {}
    for row, (label, category) in enumerate(zip(frame["label"], frame["category"], strict=True)):
        if class_of.setdefault(int(label), str(category)) != str(category):
            raise DataError(f"label {label} is both {class_of[int(label)]!r} and {category!r}",
                            file=path, line=row + 2, field="category")  # fmt: skip
    if sorted(class_of) != list(range(len(class_of))):
        raise DataError(f"label ids must be 0..{len(class_of) - 1}, got {sorted(class_of)}", file=path, field="label")
    sources, targets = [], []
    for row, cell in enumerate(frame["neighbor_ids"]):
        try:
            neighbours = ast.literal_eval(cell) if cell else []
        except (ValueError, SyntaxError):
            raise DataError(f"not a list of node ids: {cell[:60]!r}", file=path, line=row + 2,
                            field="neighbor_ids") from None  # fmt: skip
        for neighbour in neighbours:
            if not isinstance(neighbour, int) or not 0 <= neighbour < n:
                raise DataError(f"neighbour {neighbour!r} is not a node id 0..{n - 1}", file=path, line=row + 2,
                                field="neighbor_ids")  # fmt: skip
            sources.append(row)
            targets.append(neighbour)
    y = torch.tensor(frame["label"].to_numpy(), dtype=torch.long)
    edge_index = undirected(torch.tensor([sources, targets], dtype=torch.long), n)
    texts = [" ".join(part.strip() for part in str(t).split(";") if part.strip()) for t in frame["raw_text"]]
    graph = TextGraph(
        name=name.lower(),
        data=Data(y=y, edge_index=edge_index, num_nodes=n),
        texts=texts,
        class_names=[class_of[c] for c in range(len(class_of))],
        splits={"random": random_split(y, seed)},
        source=str(path),
        node_ids=[str(u) for u in frame["url"]] if "url" in frame.columns else None,
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
