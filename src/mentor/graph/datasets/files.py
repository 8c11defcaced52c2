"""A user's own text-attributed graph from plain files.

A directory holding:

- ``nodes.jsonl`` | ``nodes.csv`` | ``nodes.parquet`` — one node per row: ``id`` (unique), ``text`` (non-empty),
  ``label`` (a class name; empty or missing for unlabelled nodes), optional ``split`` (``train``/``val``/``test``
  or empty). Cells are text or integers, labels one line each (see :mod:`mentor.graph.datasets.labels`);
- ``edges.csv`` | ``edges.jsonl`` | ``edges.parquet`` (columns ``source``, ``target``) or ``edges.txt`` (two ids
  per line, ``#`` comments) — undirected; ids refer to ``nodes``' ``id``;
- optional ``classes.txt`` — the class names, one per line, in class-id order; a tab and a short description may
  follow a name (prompts show it beside a terse code). Without it the classes are the sorted distinct labels.

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
from mentor.graph.datasets._common import csv_table, not_a_directory, not_a_file, undirected
from mentor.graph.datasets.labels import LabelReader, cell, class_entries
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate
from mentor.readers import jsonl_objects, utf8_lines

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
    """(line number, row) pairs; line numbers count the CSV header, rows of a Parquet file count from 1. A column
    that appears twice is an error."""
    if path.suffix == ".jsonl":
        yield from jsonl_objects(path)
        return
    if path.suffix == ".csv":
        yield from csv_table(path)[1]
        return
    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise DataError(f"cannot be read ({error})", file=path) from None
    repeated = [str(c) for c in frame.columns[frame.columns.duplicated()]]
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears more than once", file=path, field=repeated[0])
    for index, row in enumerate(frame.to_dict("records")):
        yield index + 1, row


def load_files(directory: Path, seed: int = 0) -> TextGraph:
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{not_a_directory(directory)}; expected a directory with nodes and edges files",
                        file=directory)  # fmt: skip
    nodes_path = _find(directory, "nodes", _SUFFIXES)
    edges_path = _find(directory, "edges", (*_SUFFIXES, ".txt"))
    classes_path = directory / "classes.txt"
    problem = not_a_file(classes_path)
    if problem:
        raise DataError(problem, file=classes_path)
    entries = class_entries(classes_path) if classes_path.is_file() else None
    class_names = list(entries) if entries is not None else None
    label_reader = LabelReader(nodes_path, class_names, classes_path)

    ids: dict[str, int] = {}
    texts: list[str] = []
    labels: list[str] = []
    parts: list[str] = []
    has_split = False
    for number, row in _rows(nodes_path):
        for column in ("id", "text"):
            if column not in row:
                raise DataError("missing", file=nodes_path, line=number, field=column)
        node_id = cell(row["id"], nodes_path, number, "id")
        if not node_id:
            raise DataError("empty node id", file=nodes_path, line=number, field="id")
        if node_id in ids:
            raise DataError(f"duplicate node id {node_id!r} (first on an earlier row)", file=nodes_path, line=number,
                            field="id")  # fmt: skip
        text = cell(row["text"], nodes_path, number, "text")
        if not text:
            raise DataError(f"node {node_id!r} has an empty text", file=nodes_path, line=number, field="text")
        label = label_reader.read(row.get("label"), number)
        part = cell(row.get("split"), nodes_path, number, "split").lower()
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
        class_descriptions=[entries[name] for name in class_names] if entries and any(entries.values()) else None,
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
        yield number, cell(row["source"], path, number, "source"), cell(row["target"], path, number, "target")
