"""Node features from node texts: a sentence encoder or an embeddings endpoint (both cached per text) or TF-IDF
bag of words; the :class:`FeatureSpec` that makes them again for new texts."""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from mentor.graph.features.bow import TfidfVocabulary, tfidf_features
from mentor.graph.features.encoder import PACKAGED_ENCODERS, SentenceEncoder, TextEncoder
from mentor.graph.features.endpoint import EmbeddingsError, EndpointEncoder, is_endpoint_model
from mentor.graph.features.spec import FeatureSpec
from mentor.graph.text_graph import TextGraph

FeatureKind = Literal["minilm", "bow", "given"]


def make_encoder(kind: str, *, base_url: str | None = None, **endpoint: Any) -> TextEncoder | None:
    """The encoder ``--features kind`` needs: none for ``bow`` and ``given``, an :class:`EndpointEncoder` for
    ``openai:MODEL`` (at ``base_url``, with the ``endpoint`` options it takes), else a :class:`SentenceEncoder`."""
    if kind in ("bow", "given"):
        return None
    if is_endpoint_model(kind):
        if base_url is None:
            raise EmbeddingsError(f"--features {kind}: give the endpoint that serves it (--embeddings-base-url)")
        return EndpointEncoder(kind, base_url, **endpoint)
    return SentenceEncoder(kind)


def node_features(graph: TextGraph, kind: str = "minilm", *, encoder: TextEncoder | None = None,
                  progress: bool = True) -> Tensor:  # fmt: skip
    """Features for every node: ``minilm`` (or any sentence-transformers model name), ``openai:MODEL`` (with its
    ``encoder``, see :func:`make_encoder`), ``bow`` (TF-IDF), or ``given`` (the graph's own ``data.x``, e.g.
    Planetoid's BoW). :meth:`FeatureSpec.fit_transform` gives their spec too."""
    return FeatureSpec.fit_transform(kind, graph, encoder=encoder, progress=progress)[1]


__all__ = ["PACKAGED_ENCODERS", "EmbeddingsError", "EndpointEncoder", "FeatureKind", "FeatureSpec", "SentenceEncoder",
           "TextEncoder", "TfidfVocabulary", "make_encoder", "node_features", "tfidf_features"]  # fmt: skip
