"""What an answer does to the graph: augment the node's text (right answer) or prune dissimilar edges (wrong)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

EXPLANATION_PREFIX = "\nExpert explanation: "


def augment_text(text: str, explanation: str) -> str:
    """The node's text with the consultant's explanation appended (once)."""
    explanation = explanation.strip()
    if not explanation or text.endswith(EXPLANATION_PREFIX + explanation):
        return text
    return text + EXPLANATION_PREFIX + explanation


def dissimilar_edges(node: int, x: Tensor, edge_index: Tensor, threshold: float) -> list[int]:
    """Neighbours of ``node`` whose features have cosine similarity below ``threshold`` with the node's."""
    neighbours = edge_index[1, edge_index[0] == node].unique()
    if neighbours.numel() == 0:
        return []
    similarity = F.cosine_similarity(x[node].unsqueeze(0), x[neighbours], dim=-1)
    return neighbours[similarity < threshold].tolist()


def remove_edges(edge_index: Tensor, pairs: list[tuple[int, int]]) -> Tensor:
    """``edge_index`` without the given undirected pairs (both directions)."""
    if not pairs:
        return edge_index
    drop = {(u, v) for u, v in pairs} | {(v, u) for u, v in pairs}
    keep = torch.tensor([(u, v) not in drop for u, v in edge_index.t().tolist()], dtype=torch.bool)
    return edge_index[:, keep]
