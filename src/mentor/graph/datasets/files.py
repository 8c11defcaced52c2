"""A user's own text-attributed graph from plain files.

A directory holding:

- ``nodes.jsonl`` | ``nodes.csv`` | ``nodes.parquet`` — one node per row: ``id`` (unique), ``text`` (non-empty),
  ``label`` (a class name; empty or missing for unlabelled nodes), optional ``split`` (``train``/``val``/``test``
  or empty);
- ``edges.csv`` | ``edges.jsonl`` | ``edges.parquet`` (columns ``source``, ``target``) or ``edges.txt`` (two ids
  per line, ``#`` comments) — undirected; ids refer to ``nodes``' ``id``;
- optional ``classes.txt`` — the class names, one per line, in class-id order. Without it the classes are the
  sorted distinct labels.

Splits: ``file`` (from the ``split`` column, when present) and ``random`` (60/20/20 of the labelled nodes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch_geometric.data import Data

from mentor.errors import DataError
from mentor.graph.datasets._common import not_a_directory, not_a_file, undirected
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate
from mentor.readers import check_utf8, jsonl_objects, utf8_lines

_SUFFIXES = (".jsonl", ".csv", ".parquet")
_SPLIT_VALUES = ("train", "val", "test", "")


def _find(directory: Path, stem: str, suffixes: tuple[str, ...]) -> Path:
    candidates = [directory / f"{stem}{s}" for s in suffixes]
    for path in candidates:
        problem = not_a_file(path)
        if problem:
            raise DataError(problem, file=path)
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        expected = " or ".join(f"{stem}{s}" for s in suffixes)
        problem = "none found" if not found else f"found several: {', '.join(p.name for p in found)}"
        raise DataError(f"expected exactly one of {expected} ({problem})", file=directory)
    return found[0]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs; line numbers count the CSV header, rows of a Parquet file count from 1."""
    if path.suffix == ".jsonl":
        yield from jsonl_objects(path)
        return
    if path.suffix == ".csv":
        check_utf8(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False) if path.suffix == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise DataError(f"cannot be read ({error})", file=path) from None
    offset = 2 if path.suffix == ".csv" else 1
    for index, row in enumerate(frame.to_dict("records")):
        yield index + offset, row


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    return str(value).strip()


def load_files(directory: Path, seed: int = 0) -> TextGraph:
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{not_a_directory(directory)}; expected a directory with nodes and edges files",
                        file=directory)  # fmt: skip
    nodes_path = _find(directory, "nodes", _SUFFIXES)
    edges_path = _find(directory, "edges", (*_SUFFIXES, ".txt"))
    classes_path = directory / "classes.txt"
    class_names = None
    problem = not_a_file(classes_path)
    if problem:
        raise DataError(problem, file=classes_path)
    if classes_path.is_file():
        class_names = [line.strip() for _, line in utf8_lines(classes_path) if line.strip()]
        if len(set(class_names)) != len(class_names) or not class_names:
            raise DataError("class names must be distinct and at least one", file=classes_path)

    ids: dict[str, int] = {}
    texts: list[str] = []
    labels: list[str] = []
    parts: list[str] = []
    has_split = False
    for number, row in _rows(nodes_path):
        for column in ("id", "text"):
            if column not in row:
                raise DataError("missing", file=nodes_path, line=number, field=column)
        node_id = _text(row["id"])
        if not node_id:
            raise DataError("empty node id", file=nodes_path, line=number, field="id")
        if node_id in ids:
            raise DataError(f"duplicate node id {node_id!r} (first on an earlier row)", file=nodes_path, line=number,
                            field="id")  # fmt: skip
        text = _text(row["text"])
        if not text:
            raise DataError(f"node {node_id!r} has an empty text", file=nodes_path, line=number, field="text")
        label = _text(row.get("label"))
        if class_names is not None and label and label not in class_names:
            raise DataError(f"label {label!r} is not one of the classes in {classes_path.name}: {class_names}",
                            file=nodes_path, line=number, field="label")  # fmt: skip
        part = _text(row.get("split")).lower()
        if part not in _SPLIT_VALUES:
            raise DataError(f"split {part!r}: expected train, val, test or empty", file=nodes_path, line=number,
                            field="split")  # fmt: skip
        if part and not label:
            raise DataError(f"node {node_id!r} is in split {part!r} but has no label", file=nodes_path, line=number,
                            field="split")  # fmt: skip
        has_split = has_split or "split" in row
        ids[node_id] = len(texts)
        texts.append(text)
        labels.append(label)
        parts.append(part)
    if not texts:
        raise DataError("the graph has no nodes", file=nodes_path)
    class_names = class_names or sorted({label for label in labels if label})
    class_index = {name: i for i, name in enumerate(class_names)}
    y = torch.tensor([class_index[label] if label else -1 for label in labels], dtype=torch.long)
    if not bool((y >= 0).any()):
        raise DataError("no node has a label", file=nodes_path, field="label")

    edges = list(_edge_rows(edges_path))
    pairs = []
    for number, source, target in edges:
        for field, node in (("source", source), ("target", target)):
            if node not in ids:
                raise DataError(f"unknown node id {node!r} (dangling edge)", file=edges_path, line=number, field=field)
        pairs.append((ids[source], ids[target]))
    n = len(texts)
    edge_index = torch.tensor(pairs, dtype=torch.long).t() if pairs else torch.empty(2, 0, dtype=torch.long)
    splits = {"random": random_split(y, seed)}
    if has_split and any(parts):
        splits["file"] = Split(*(torch.tensor([p == name for p in parts]) for name in ("train", "val", "test")))
    graph = TextGraph(
        name=directory.name,
        data=Data(y=y, edge_index=undirected(edge_index, n), num_nodes=n),
        texts=texts,
        class_names=class_names,
        splits=splits,
        source=str(directory),
        node_ids=list(ids),
    )
    return validate(graph)


def _edge_rows(path: Path) -> Iterator[tuple[int, str, str]]:
    if path.suffix == ".txt":
        for number, line in utf8_lines(path):
            content = line.split("#", 1)[0].split()
            if not content:
                continue
            if len(content) != 2:
                raise DataError(f"expected two node ids, got {len(content)} values", file=path, line=number)
            yield number, content[0], content[1]
        return
    for number, row in _rows(path):
        for field in ("source", "target"):
            if field not in row:
                raise DataError("missing", file=path, line=number, field=field)
        yield number, _text(row["source"]), _text(row["target"])
