"""Bag-of-words / TF-IDF node features: the encoder-free alternative (scikit-learn's ``TfidfVectorizer``)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import Tensor


def tfidf_features(texts: list[str], max_features: int = 3000, min_df: int = 2) -> Tensor:
    """TF-IDF over all node texts (fitted without labels, so no label leakage), as a dense float tensor."""
    vectorizer = TfidfVectorizer(
        max_features=max_features,
        min_df=min(min_df, len(texts)),
        stop_words="english",
        sublinear_tf=True,
        dtype=np.float32,
    )
    matrix = vectorizer.fit_transform(texts)
    return torch.tensor(matrix.toarray(), dtype=torch.float)
