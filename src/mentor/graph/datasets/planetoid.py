"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with their bag-of-words features and public split."""

from __future__ import annotations

from pathlib import Path

from torch_geometric.data import Data

from mentor.graph.datasets._common import pyg_dataset, undirected
from mentor.graph.datasets.planetoid_raw import SafePlanetoid
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate

PLANETOID_CLASSES = {
    "Cora": ["Theory", "Reinforcement_Learning", "Genetic_Algorithms", "Neural_Networks",
             "Probabilistic_Methods", "Case_Based", "Rule_Learning"],
    "CiteSeer": ["Agents", "AI", "DB", "IR", "ML", "HCI"],
    "PubMed": ["Diabetes_Experimental", "Diabetes_Type_1", "Diabetes_Type_2"],
}  # fmt: skip


def planetoid_data(root: Path, name: str) -> Data:
    """PyG's ``Planetoid(<root>/planetoid, name)`` as one ``Data`` (read-only roots are mirrored; the raw pickles
    are read without running code from them: see :mod:`mentor.graph.datasets.planetoid_raw`)."""
    if name not in PLANETOID_CLASSES:
        raise ValueError(f"unknown Planetoid graph {name!r}; expected one of {', '.join(PLANETOID_CLASSES)}")
    raw_dir = root / "planetoid" / name / "raw"
    dataset = pyg_dataset(lambda r: SafePlanetoid(r, name), root, raw_dir, f"Planetoid {name}")
    return dataset[0]


def load_planetoid(root: Path, name: str, seed: int = 0) -> TextGraph:
    """The feature-only original (``planetoid:<Name>``): BoW features in ``data.x``, no texts."""
    pyg = planetoid_data(root, name)
    data = Data(x=pyg.x, y=pyg.y, edge_index=undirected(pyg.edge_index, pyg.num_nodes), num_nodes=pyg.num_nodes)
    graph = TextGraph(
        name=f"planetoid:{name}",
        data=data,
        texts=None,
        class_names=list(PLANETOID_CLASSES[name]),
        splits={"public": Split(pyg.train_mask, pyg.val_mask, pyg.test_mask), "random": random_split(pyg.y, seed)},
        source=str(root / "planetoid" / name),
    )
    return validate(graph)
