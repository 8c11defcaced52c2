"""The predictions table: one row per node, in the graph's node order, with the user's own node ids.

Columns (:data:`COLUMNS`):

==================  ==========================================================================================
``id``              the node's id from the data files (``TextGraph.node_ids``), else its row index
``label``           the final prediction, a class name (a training node: its given label)
``confidence``      the final probability of ``label`` (a training node: 1.0)
``source``          ``given`` (a training label was used), ``gnn``, ``pooled`` (GNN and LLM combined by the gate)
                    or ``llm`` (the gate's route rule took the LLM's label)
``asked``           whether the LLM was asked about the node
``gnn_label``       the GNN's own prediction (also on training nodes)
``gnn_confidence``  the GNN's probability of ``gnn_label``
``split``           ``train``, ``val``, ``test`` or ``unlabelled`` (in no part of the split: no label, or one the
                    split does not use)
==================  ==========================================================================================

Only training labels are copied into ``label``: validation and test nodes are predicted like any other node.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from mentor import outputs
from mentor.graph.text_graph import Split, TextGraph

COLUMNS = ("id", "label", "confidence", "source", "asked", "gnn_label", "gnn_confidence", "split")
#: Where a node's final prediction came from (``given``: its training label).
SOURCES = ("given", "gnn", "pooled", "llm")
#: File formats :meth:`PredictionTable.write` writes, by suffix.
FORMATS = ("csv", "parquet", "jsonl")
#: Decimals kept of each probability.
DECIMALS = 6


@dataclass(frozen=True)
class PredictionTable:
    """The table as a :class:`pandas.DataFrame` (``frame``) with :data:`COLUMNS`, one row per node in order."""

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_probs(
        cls,
        graph: TextGraph,
        probs: Tensor,
        split: Split | None = None,
        *,
        sources: Sequence[str] | None = None,
        asked: Tensor | Sequence[bool] | None = None,
        gnn_probs: Tensor | None = None,
    ) -> PredictionTable:
        """The table of ``graph`` from ``probs``, the final class distribution of every node (``[nodes,
        classes]``).

        ``split``: its training nodes are ``given`` (label and confidence from ``graph.y``), and it fills the
        ``split`` column (``None``: no node is given, every node is ``unlabelled``). ``sources``: one of ``gnn``,
        ``pooled`` or ``llm`` per node (default ``gnn``; a training node is ``given`` whatever it says).
        ``asked``: one flag per node (default: none asked). ``gnn_probs``: the GNN's own distribution, where
        ``probs`` is not (default ``probs``)."""
        n, names = graph.num_nodes, graph.class_names
        gnn_probs = probs if gnn_probs is None else gnn_probs
        for what, tensor in (("probs", probs), ("gnn_probs", gnn_probs)):
            if tuple(tensor.shape) != (n, len(names)):
                raise ValueError(f"predictions: {what} has shape {list(tensor.shape)}, expected [{n}, {len(names)}] "
                                 f"({n} nodes of {graph.name}, {len(names)} classes)")  # fmt: skip
        source = list(sources) if sources is not None else ["gnn"] * n
        if len(source) != n:
            raise ValueError(f"predictions: {len(source)} sources for {n} nodes")
        unknown = sorted(set(source) - set(SOURCES[1:]))
        if unknown:
            raise ValueError(f"predictions: source {unknown[0]!r}: expected one of {', '.join(SOURCES[1:])}")
        asked_flags = torch.zeros(n, dtype=torch.bool) if asked is None else torch.as_tensor(asked, dtype=torch.bool)
        if asked_flags.shape != (n,):
            raise ValueError(f"predictions: {asked_flags.numel()} asked flags for {n} nodes")
        if any(s in ("pooled", "llm") and not bool(a) for s, a in zip(source, asked_flags.tolist(), strict=True)):
            raise ValueError("predictions: a node whose source is pooled or llm must have been asked")

        confidence, label = probs.detach().float().max(dim=-1)
        gnn_confidence, gnn_label = gnn_probs.detach().float().max(dim=-1)
        given = split.train.clone() if split is not None else torch.zeros(n, dtype=torch.bool)
        if bool((graph.y[given] < 0).any()):
            raise ValueError("predictions: a training node has no label")
        label = torch.where(given, graph.y, label)
        confidence = torch.where(given, torch.ones(n), confidence)
        part = ["unlabelled"] * n
        if split is not None:
            for name in ("test", "val", "train"):
                for node in split.mask(name).nonzero().view(-1).tolist():
                    part[node] = name
        frame = pd.DataFrame({
            "id": list(graph.node_ids) if graph.node_ids else list(range(n)),
            "label": [names[c] for c in label.tolist()],
            "confidence": confidence.double().round(decimals=DECIMALS).tolist(),
            "source": ["given" if g else s for g, s in zip(given.tolist(), source, strict=True)],
            "asked": asked_flags.tolist(),
            "gnn_label": [names[c] for c in gnn_label.tolist()],
            "gnn_confidence": gnn_confidence.double().round(decimals=DECIMALS).tolist(),
            "split": part,
        })  # fmt: skip
        return cls(frame)

    def write(self, path: str | Path, format: str | None = None) -> Path:
        """Write the table to ``path`` atomically, as ``format`` (``csv``, ``parquet`` or ``jsonl``; default:
        from the suffix of ``path``, else csv). Returns ``path``. CSV is UTF-8, quoted where a cell needs it."""
        path = Path(path)
        kind = format or (path.suffix[1:] if path.suffix[1:] in FORMATS else "csv")
        if kind not in FORMATS:
            raise ValueError(f"predictions format {kind!r}: expected one of {', '.join(FORMATS)}")
        frame = self.frame
        if kind == "csv":
            outputs.atomic_write(
                path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
            )
        elif kind == "parquet":
            outputs.atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
        else:
            outputs.write_text(path, "".join(json.dumps(_plain(row), ensure_ascii=False) + "\n"
                                             for row in frame.to_dict("records")))  # fmt: skip
        return path

    @classmethod
    def read(cls, path: str | Path) -> PredictionTable:
        """A table written by :meth:`write` (format from the suffix). Ids of a CSV file are read as text."""
        path = Path(path)
        kind = path.suffix[1:]
        if kind == "csv":
            frame = pd.read_csv(path, dtype={"id": str, "label": str, "gnn_label": str, "source": str, "split": str},
                                keep_default_na=False, encoding="utf-8")  # fmt: skip
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        elif kind == "jsonl":
            frame = pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()],
                                 columns=list(COLUMNS))  # fmt: skip
        else:
            raise ValueError(f"{path}: expected a .csv, .parquet or .jsonl predictions file")
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: column {missing[0]!r} missing; a predictions table has {', '.join(COLUMNS)}")
        return cls(frame)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with NumPy scalars as plain Python values (for JSON)."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}


__all__ = ["COLUMNS", "FORMATS", "SOURCES", "PredictionTable"]
