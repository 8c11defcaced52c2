"""A generated text-attributed graph with controllable homophily, number of classes and label noise.

Each class is a topic with its own words; a node's text mixes words of its topic with filler and words of other
topics. An edge joins two nodes of the same class with probability ``homophily``. ``label_noise`` flips that
fraction of the observed labels to another class (the texts keep the true topic; ``data.true_y`` keeps the truth).
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from mentor.graph.datasets._common import undirected
from mentor.graph.splits import random_split
from mentor.graph.text_graph import TextGraph
from mentor.graph.validate import validate

TOPICS: dict[str, list[str]] = {
    "sports": "match goal team coach league score player stadium season referee tournament striker".split(),
    "music": "melody chord guitar concert album rhythm singer orchestra tempo lyrics piano band".split(),
    "cooking": "recipe oven flour sauce simmer spice dough kitchen roast garlic butter bake".split(),
    "space": "orbit planet rocket galaxy telescope astronaut comet lunar satellite nebula launch star".split(),
    "medicine": "patient clinic dose symptom therapy surgeon vaccine diagnosis nurse fever cardiac drug".split(),
    "finance": "market stock bond interest investor dividend loan inflation equity broker budget asset".split(),
    "travel": "flight hotel passport luggage itinerary beach museum tourist airport journey map visa".split(),
    "computing": "compiler kernel database network algorithm server memory python cache thread graph code".split(),
}
FILLER = "the a of and to in is that it for on with as this was by at from which about also some more".split()


def make_synthetic(
    num_nodes: int = 300,
    num_classes: int = 3,
    homophily: float = 0.8,
    avg_degree: float = 4.0,
    label_noise: float = 0.0,
    signal: float = 0.4,
    words: int = 20,
    seed: int = 0,
) -> TextGraph:
    """Generate a graph; the same arguments always give the same graph."""
    if not 2 <= num_classes <= len(TOPICS):
        raise ValueError(f"num_classes must be 2..{len(TOPICS)}, got {num_classes}")
    for name, value in (("homophily", homophily), ("label_noise", label_noise), ("signal", signal)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if num_nodes < 2 * num_classes:
        raise ValueError(f"num_nodes must be at least {2 * num_classes}, got {num_nodes}")
    generator = torch.Generator().manual_seed(seed)
    names = list(TOPICS)[:num_classes]
    true_y = torch.arange(num_nodes) % num_classes
    true_y = true_y[torch.randperm(num_nodes, generator=generator)]

    all_topic_words = [w for name in names for w in TOPICS[name]]
    texts = []
    for node in range(num_nodes):
        own = TOPICS[names[int(true_y[node])]]
        tokens = []
        for draw in torch.rand(words, generator=generator).tolist():
            pool = own if draw < signal else (FILLER if draw < signal + (1 - signal) / 2 else all_topic_words)
            tokens.append(pool[int(torch.randint(len(pool), (1,), generator=generator))])
        texts.append(" ".join(tokens).capitalize() + ".")

    members = [(true_y == c).nonzero().view(-1) for c in range(num_classes)]
    others = [(true_y != c).nonzero().view(-1) for c in range(num_classes)]
    num_edges = max(1, round(num_nodes * avg_degree / 2))
    sources = torch.randint(num_nodes, (num_edges,), generator=generator)
    same = torch.rand(num_edges, generator=generator) < homophily
    targets = torch.empty(num_edges, dtype=torch.long)
    for i, (u, s) in enumerate(zip(sources.tolist(), same.tolist(), strict=True)):
        pool = members[int(true_y[u])] if s else others[int(true_y[u])]
        targets[i] = pool[int(torch.randint(pool.numel(), (1,), generator=generator))]

    y = true_y.clone()
    flip = torch.rand(num_nodes, generator=generator) < label_noise
    shift = torch.randint(1, num_classes, (num_nodes,), generator=generator)
    y[flip] = (y[flip] + shift[flip]) % num_classes

    data = Data(y=y, true_y=true_y, edge_index=undirected(torch.stack([sources, targets]), num_nodes),
                num_nodes=num_nodes)  # fmt: skip
    graph = TextGraph(
        name="synthetic",
        data=data,
        texts=texts,
        class_names=names,
        splits={"random": random_split(y, seed)},
        seed=seed,
        source=(
            f"synthetic(num_nodes={num_nodes}, num_classes={num_classes}, homophily={homophily}, "
            f"avg_degree={avg_degree}, label_noise={label_noise}, signal={signal}, words={words}, seed={seed})"
        ),
    )
    return validate(graph)
