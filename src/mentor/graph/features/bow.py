"""Bag-of-words / TF-IDF node features: the encoder-free alternative (scikit-learn's ``TfidfVectorizer``).

The fitted vocabulary (terms in column order, their idf, and how texts are normalised before counting) is a
:class:`TfidfVocabulary`: saved with a model, it turns new texts into the columns the model was trained on.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import Tensor

#: scikit-learn's default token pattern: words of two or more letters or digits.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


class TfidfVocabulary(BaseModel):
    """A fitted TF-IDF: ``terms`` in column order with their ``idf``, and the text normalisation (lower-casing,
    tokens, English stop words dropped, sublinear term frequency, rows scaled to unit length)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    terms: list[str] = Field(min_length=1)
    idf: list[float]
    lowercase: Literal[True] = True
    token_pattern: Literal[r"(?u)\b\w\w+\b"] = TOKEN_PATTERN
    stop_words: Literal["english"] = "english"
    sublinear_tf: Literal[True] = True
    norm: Literal["l2"] = "l2"

    @model_validator(mode="after")
    def _consistent(self) -> TfidfVocabulary:
        if len(self.idf) != len(self.terms):
            raise ValueError(f"{len(self.idf)} idf values for {len(self.terms)} terms")
        if len(set(self.terms)) != len(self.terms):
            raise ValueError("a term appears more than once")
        if not all(math.isfinite(v) and v > 0 for v in self.idf):
            raise ValueError("idf values must be positive numbers")
        return self

    @classmethod
    def fit_transform(
        cls, texts: list[str], max_features: int = 3000, min_df: int = 2
    ) -> tuple[TfidfVocabulary, Tensor]:
        """Fit on ``texts`` (without labels, so no label leakage); the vocabulary and the texts' features."""
        vectorizer = _vectorizer(max_features=max_features, min_df=min(min_df, len(texts)))
        matrix = vectorizer.fit_transform(texts)
        vocabulary = cls(terms=vectorizer.get_feature_names_out().tolist(), idf=vectorizer.idf_.tolist())
        return vocabulary, torch.tensor(matrix.toarray(), dtype=torch.float)

    def transform(self, texts: list[str]) -> Tensor:
        """``[len(texts), len(terms)]`` features of ``texts`` in this vocabulary (words it lacks are ignored)."""
        vectorizer = _vectorizer(vocabulary=self.terms)
        vectorizer.idf_ = np.asarray(self.idf, dtype=np.float32)
        return torch.tensor(vectorizer.transform(texts).toarray(), dtype=torch.float)


def _vectorizer(**options: object) -> TfidfVectorizer:
    return TfidfVectorizer(lowercase=True, token_pattern=TOKEN_PATTERN, stop_words="english", sublinear_tf=True,
                           norm="l2", dtype=np.float32, **options)  # fmt: skip


def tfidf_features(texts: list[str], max_features: int = 3000, min_df: int = 2) -> Tensor:
    """TF-IDF over all node texts (fitted without labels, so no label leakage), as a dense float tensor."""
    return TfidfVocabulary.fit_transform(texts, max_features, min_df)[1]
