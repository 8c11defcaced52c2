"""Node features from node texts: a sentence encoder (cached per text) or TF-IDF bag of words; the
:class:`FeatureSpec` that makes them again for new texts."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from mentor.graph.features.bow import TfidfVocabulary, tfidf_features
from mentor.graph.features.encoder import PACKAGED_ENCODERS, SentenceEncoder
from mentor.graph.features.spec import FeatureSpec
from mentor.graph.text_graph import TextGraph

FeatureKind = Literal["minilm", "bow", "given"]


def node_features(graph: TextGraph, kind: str = "minilm", *, encoder: SentenceEncoder | None = None,
                  progress: bool = True) -> Tensor:  # fmt: skip
    """Features for every node: ``minilm`` (or any sentence-transformers model name), ``bow`` (TF-IDF), or
    ``given`` (the graph's own ``data.x``, e.g. Planetoid's BoW). :meth:`FeatureSpec.fit_transform` gives their
    spec too."""
    return FeatureSpec.fit_transform(kind, graph, encoder=encoder, progress=progress)[1]


__all__ = ["PACKAGED_ENCODERS", "FeatureKind", "FeatureSpec", "SentenceEncoder", "TfidfVocabulary", "node_features",
           "tfidf_features"]  # fmt: skip
