"""Checks that a text-attributed graph is usable, with errors that say exactly what is wrong."""

from __future__ import annotations

import torch

from mentor.errors import DataError
from mentor.graph.text_graph import TextGraph


def validate(graph: TextGraph) -> TextGraph:
    """Raise :class:`DataError` for an empty graph, out-of-range edges or labels, empty texts, or a split whose
    parts overlap; return the graph unchanged otherwise."""
    n = graph.num_nodes
    where = graph.source or graph.name
    if n == 0:
        raise DataError("the graph has no nodes", file=where)
    if graph.texts is not None:
        if len(graph.texts) != n:
            raise DataError(f"{len(graph.texts)} texts for {n} nodes", file=where)
        empty = [i for i, text in enumerate(graph.texts) if not text or not text.strip()]
        if empty:
            first = _node(graph, empty[0])
            raise DataError(f"{len(empty)} node(s) have an empty text, first node {first}", file=where)
    elif graph.data.x is None:
        raise DataError("the graph has neither texts nor features", file=where)
    edge_index = graph.edge_index
    if edge_index.numel():
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise DataError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}", file=where)
        bad = ((edge_index < 0) | (edge_index >= n)).any(0).nonzero().view(-1)
        if bad.numel():
            i = int(bad[0])
            raise DataError(f"edge {i} ({edge_index[0, i]}, {edge_index[1, i]}) points outside 0..{n - 1}", file=where)
    y = graph.y
    if y.numel() != n:
        raise DataError(f"{y.numel()} labels for {n} nodes", file=where)
    bad_labels = ((y < -1) | (y >= graph.num_classes)).nonzero().view(-1)
    if bad_labels.numel():
        node = int(bad_labels[0])
        raise DataError(
            f"node {_node(graph, node)} has label id {int(y[node])}, outside the {graph.num_classes} classes",
            file=where,
        )
    for name, split in graph.splits.items():
        parts = torch.stack([split.train, split.val, split.test])
        if parts.size(1) != n:
            raise DataError(f"split {name!r} has masks of length {parts.size(1)}, expected {n}", file=where)
        overlap = (parts.sum(0) > 1).nonzero().view(-1)
        if overlap.numel():
            raise DataError(
                f"split {name!r} overlaps itself: node {_node(graph, int(overlap[0]))} is in more than one part",
                file=where,
            )
        unlabelled = (parts.any(0) & (y < 0)).nonzero().view(-1)
        if unlabelled.numel():
            raise DataError(f"split {name!r} contains unlabelled node {_node(graph, int(unlabelled[0]))}", file=where)
        if not bool(split.train.any()):
            raise DataError(f"split {name!r} has no training nodes", file=where)
    return graph


def _node(graph: TextGraph, index: int) -> str:
    return repr(graph.node_ids[index]) if graph.node_ids else str(index)
