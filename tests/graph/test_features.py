import pytest
import torch

from mentor.errors import DataError
from mentor.graph import SentenceEncoder, node_features

pytestmark = pytest.mark.slow


def test_minilm_cache_reencodes_only_changed_texts(small_graph, tmp_path):
    encoder = SentenceEncoder("minilm", cache_path=tmp_path / "emb.sqlite")
    first = encoder.encode(small_graph.texts, progress=False)
    assert first.shape == (small_graph.num_nodes, 384) and encoder.encoded_last == small_graph.num_nodes
    assert torch.allclose(first.norm(dim=1), torch.ones(small_graph.num_nodes), atol=1e-4)

    changed = list(small_graph.texts)
    for i in (3, 50, 99):
        changed[i] = changed[i] + " Explanation: the topic words point to this class."
    second = SentenceEncoder("minilm", cache_path=tmp_path / "emb.sqlite").encode(changed, progress=False)
    encoder2 = SentenceEncoder("minilm", cache_path=tmp_path / "emb.sqlite")
    encoder2.encode(changed, progress=False)
    assert encoder2.encoded_last == 0  # everything cached now
    moved = (second - first).abs().sum(dim=1) > 1e-6
    assert moved.nonzero().view(-1).tolist() == [3, 50, 99]


def test_bow_and_given_features(small_graph):
    bow = node_features(small_graph, "bow")
    assert bow.shape[0] == small_graph.num_nodes and bow.dtype == torch.float32
    with pytest.raises(DataError, match="no given features"):
        node_features(small_graph, "given")
