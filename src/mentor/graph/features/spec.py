"""How a graph's node features were made, recorded so that they can be made again for new or changed texts.

``FeatureSpec.fit_transform(kind, graph)`` makes the features and the spec; ``spec.transform(graph)`` makes the
same columns for another graph: a sentence encoder by name or an embeddings endpoint's model (the embedding cache
encodes only texts it has not seen), the fitted TF-IDF vocabulary, or the graph's given features.
"""

from __future__ import annotations

from importlib import metadata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from mentor.errors import DataError
from mentor.graph.features.bow import TfidfVocabulary
from mentor.graph.features.encoder import PACKAGED_ENCODERS, SentenceEncoder, TextEncoder
from mentor.graph.features.endpoint import EmbeddingsError, EndpointEncoder, is_endpoint_model
from mentor.graph.text_graph import TextGraph


class FeatureSpec(BaseModel):
    """``kind``: ``encoder`` (a sentence-transformers model: ``encoder`` as given, e.g. ``minilm``, and
    ``encoder_identity``, the model it resolved to and its normalisation, which keys the embedding cache; for an
    embeddings endpoint's model, ``openai:MODEL``, and ``endpoint``, its base URL without credentials), ``bow``
    (``vocabulary``) or ``given`` (the graph's own ``data.x``). ``dim``: columns. ``versions``: of the packages
    that made the features."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["encoder", "bow", "given"]
    dim: int = Field(ge=1)
    encoder: str | None = None
    encoder_identity: str | None = None
    normalize: bool | None = None
    endpoint: str | None = None
    vocabulary: TfidfVocabulary | None = None
    versions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> FeatureSpec:
        if self.kind == "encoder" and not (self.encoder and self.encoder_identity and self.normalize is not None):
            raise ValueError("an encoder spec needs encoder, encoder_identity and normalize")
        if self.kind == "encoder" and is_endpoint_model(self.encoder or "") and not self.endpoint:
            raise ValueError("an embeddings endpoint's model needs its endpoint")
        if self.kind == "bow" and (self.vocabulary is None or len(self.vocabulary.terms) != self.dim):
            raise ValueError("a bow spec needs a vocabulary of dim terms")
        return self

    @property
    def name(self) -> str:
        """The ``--features`` value that makes these features (``minilm``, a model name, ``bow``, ``given``)."""
        return self.encoder if self.kind == "encoder" and self.encoder else self.kind

    @classmethod
    def fit_transform(cls, kind: str, graph: TextGraph, *, encoder: TextEncoder | None = None,
                      progress: bool = True) -> tuple[FeatureSpec, Tensor]:  # fmt: skip
        """The features of ``graph`` by ``kind`` (``minilm`` or any sentence-transformers model name, ``openai:MODEL``
        with its ``encoder`` (an :class:`EndpointEncoder`), ``bow``, ``given``) and their spec."""
        if kind == "given":
            if graph.data.x is None:
                raise DataError(f"{graph.name} has no given features; use --features minilm or bow")
            return cls(kind="given", dim=graph.data.x.size(1)), graph.data.x.float()
        if graph.texts is None:
            raise DataError(f"{graph.name} has no node texts; use --features given")
        texts = graph.texts
        if kind == "bow":
            vocabulary, x = TfidfVocabulary.fit_transform(texts)
            return cls(kind="bow", dim=x.size(1), vocabulary=vocabulary, versions=_versions("scikit-learn")), x
        if encoder is None and is_endpoint_model(kind):
            raise EmbeddingsError(f"--features {kind}: give the endpoint that serves it (--embeddings-base-url)")
        encoder = encoder or SentenceEncoder(kind)
        x = encoder.encode(texts, progress=progress)
        if isinstance(encoder, EndpointEncoder):
            spec = cls(
                kind="encoder",
                dim=x.size(1),
                encoder=encoder.model_name,
                encoder_identity=encoder.identity,
                normalize=encoder.normalize,
                endpoint=encoder.endpoint.url,
                versions=_versions("openai"),
            )
            return spec, x  # fmt: skip
        package = PACKAGED_ENCODERS.get(encoder.model_name, ("",))[0].replace("_", "-")
        spec = cls(kind="encoder", dim=x.size(1), encoder=encoder.model_name, encoder_identity=encoder.identity,
                   normalize=encoder.normalize, versions=_versions("sentence-transformers", package))  # fmt: skip
        return spec, x

    def transform(self, graph: TextGraph, *, encoder: TextEncoder | None = None, progress: bool = False) -> Tensor:
        """``graph``'s features made as these were (``[nodes, dim]``); a :class:`DataError` when they cannot be."""
        where = graph.source or graph.name
        if (graph.data.x if self.kind == "given" else graph.texts) is None:
            made = "the graph's given features" if self.kind == "given" else f"node texts ({self.name})"
            raise DataError(f"the graph has no {'given features' if self.kind == 'given' else 'node texts'}, and "
                            f"the model's features are made from {made}", file=where)  # fmt: skip
        texts = graph.texts or []
        if self.kind == "given":
            x = graph.data.x
        elif self.kind == "bow":
            assert self.vocabulary is not None
            x = self.vocabulary.transform(texts)
        else:
            assert self.encoder is not None and self.normalize is not None
            if encoder is None and self.endpoint is not None:
                encoder = EndpointEncoder(self.encoder, self.endpoint, normalize=self.normalize)
            encoder = encoder or SentenceEncoder(self.encoder, normalize=self.normalize)
            if encoder.identity != self.encoder_identity:
                raise DataError(f"features: the encoder {encoder.identity!r} is not the model's "
                                f"{self.encoder_identity!r}")  # fmt: skip
            try:
                x = encoder.encode(texts, progress=progress)
            except (OSError, ValueError, ImportError) as error:
                if isinstance(error, DataError | EmbeddingsError):
                    raise
                detail = " ".join(str(error).split())[:300]
                raise DataError(f"the model's features need the sentence encoder {self.encoder!r}, which cannot be "
                                f"loaded here ({detail})") from None  # fmt: skip
        if x.size(1) != self.dim:
            raise DataError(f"features have {x.size(1)} columns, the model takes {self.dim} ({self.name})", file=where)
        return x.float()


def _versions(*packages: str) -> dict[str, str]:
    out = {}
    for package in filter(None, packages):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


__all__ = ["FeatureSpec"]
