"""Writing a graph in the plain-file format (docs/data.md) for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def write_graph(directory: Path, nodes: list[dict[str, Any]], edges: str, fmt: str = "jsonl",
                classes: list[str] | None = None) -> Path:  # fmt: skip
    """``directory`` holding ``nodes`` as ``nodes.<fmt>`` (jsonl, csv or parquet), ``edges`` as ``edges.txt`` and,
    if given, ``classes.txt``."""
    directory.mkdir(exist_ok=True)
    if fmt == "jsonl":
        (directory / "nodes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in nodes))
    elif fmt == "csv":
        pd.DataFrame(nodes).to_csv(directory / "nodes.csv", index=False)
    else:
        pd.DataFrame(nodes).to_parquet(directory / "nodes.parquet")
    (directory / "edges.txt").write_text(edges)
    if classes is not None:
        (directory / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return directory
