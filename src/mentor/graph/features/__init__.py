"""Node features from node texts: a sentence encoder (cached per text) or TF-IDF bag of words."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from mentor.errors import DataError
from mentor.graph.features.bow import tfidf_features
from mentor.graph.features.encoder import PACKAGED_ENCODERS, SentenceEncoder
from mentor.graph.text_graph import TextGraph

FeatureKind = Literal["minilm", "bow", "given"]


def node_features(graph: TextGraph, kind: str = "minilm", *, encoder: SentenceEncoder | None = None,
                  progress: bool = True) -> Tensor:  # fmt: skip
    """Features for every node: ``minilm`` (or any sentence-transformers model name), ``bow`` (TF-IDF), or
    ``given`` (the graph's own ``data.x``, e.g. Planetoid's BoW)."""
    if kind == "given":
        if graph.data.x is None:
            raise DataError(f"{graph.name} has no given features; use --features minilm or bow")
        return graph.data.x.float()
    if graph.texts is None:
        raise DataError(f"{graph.name} has no node texts; use --features given")
    if kind == "bow":
        return tfidf_features(graph.texts)
    encoder = encoder or SentenceEncoder(kind)
    return encoder.encode(graph.texts, progress=progress)


__all__ = ["PACKAGED_ENCODERS", "FeatureKind", "SentenceEncoder", "node_features", "tfidf_features"]
