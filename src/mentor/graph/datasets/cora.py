"""Cora with node texts (title and abstract): Planetoid's graph and split joined with the texts by node id."""

from __future__ import annotations

import json
from pathlib import Path

from torch_geometric.data import Data

from mentor.errors import DataError
from mentor.graph.datasets._common import require_file, undirected
from mentor.graph.datasets.planetoid import PLANETOID_CLASSES, planetoid_data
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.validate import validate
from mentor.readers import utf8_lines

TEXT_FILE = Path("cora_text") / "cora_text_planetoid_order.jsonl"


def load_cora(root: Path, seed: int = 0) -> TextGraph:
    """Splits: ``public`` (Planetoid's 140/500/1000) and ``random`` (60/20/20 with ``seed``)."""
    text_path = require_file(root / TEXT_FILE, "Cora's node texts")
    pyg = planetoid_data(root, "Cora")
    texts: list[str | None] = [None] * pyg.num_nodes
    for number, line in utf8_lines(text_path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            node, text, label = int(row["planetoid_id"]), row["text"], int(row["label"])
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"expected planetoid_id, text and label ({error})", file=text_path, line=number) from None
        if not 0 <= node < pyg.num_nodes or texts[node] is not None:
            raise DataError(f"planetoid_id {node} is out of range or repeated", file=text_path, line=number)
        if label != int(pyg.y[node]):
            raise DataError(f"label {label} disagrees with Planetoid's {int(pyg.y[node])} for node {node}",
                            file=text_path, line=number, field="label")  # fmt: skip
        texts[node] = text
    missing = [i for i, t in enumerate(texts) if t is None]
    if missing:
        raise DataError(f"{len(missing)} Planetoid nodes have no text, first {missing[0]}", file=text_path)
    data = Data(y=pyg.y, edge_index=undirected(pyg.edge_index, pyg.num_nodes), num_nodes=pyg.num_nodes)
    graph = TextGraph(
        name="cora",
        data=data,
        texts=[t for t in texts if t is not None],
        class_names=list(PLANETOID_CLASSES["Cora"]),
        splits={"public": Split(pyg.train_mask, pyg.val_mask, pyg.test_mask), "random": random_split(pyg.y, seed)},
        source=f"{root / 'planetoid' / 'Cora'} + {text_path}",
    )
    return validate(graph)
