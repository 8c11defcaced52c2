"""Loaders of text-attributed graphs, found by name under a data root.

=====================  ===========================================================================
name                   what
=====================  ===========================================================================
``cora``               Planetoid Cora joined with title + abstract texts; splits ``public``, ``random``
``cornell`` …          CS-TAG WebKB ``cornell``, ``texas``, ``wisconsin`` with page text; split ``random``
``planetoid:<Name>``   feature-only Planetoid original (Cora, CiteSeer, PubMed)
``webkb:<Name>``       feature-only Geom-GCN WebKB original with its 10 splits
``synthetic[:k=v,…]``  generated graph, e.g. ``synthetic:num_nodes=500,homophily=0.2``
a directory            a user's graph in the plain-file format (see :mod:`mentor.graph.datasets.files`)
=====================  ===========================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from mentor.errors import DataError
from mentor.graph.datasets._common import not_a_directory
from mentor.graph.datasets.cora import load_cora
from mentor.graph.datasets.files import load_files
from mentor.graph.datasets.planetoid import load_planetoid
from mentor.graph.datasets.synthetic import make_synthetic
from mentor.graph.datasets.webkb import WEBKB_NAMES, load_webkb_features, load_webkb_text
from mentor.graph.text_graph import TextGraph
from mentor.paths import data_root

DATASET_NAMES = ("cora", "cornell", "texas", "wisconsin", "planetoid:<Name>", "webkb:<Name>", "synthetic", "DIR")


def _synthetic_options(spec: str) -> dict[str, float | int]:
    options: dict[str, float | int] = {}
    for item in filter(None, spec.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"synthetic option {item!r}: expected key=value")
        number = float(value)
        options[key.strip()] = int(number) if key.strip() in ("num_nodes", "num_classes", "words", "seed") else number
    return options


def load_dataset(name: str, root: str | Path | None = None, seed: int = 0) -> TextGraph:
    """Load a data set by name (see the table above); ``seed`` fixes the ``random`` split (and ``few:K`` ones)."""
    graph = _load(name, Path(root) if root is not None else data_root(), seed)
    graph.seed = seed
    return graph


def _load(name: str, root: Path, seed: int) -> TextGraph:
    kind, _, arg = name.partition(":")
    key = name.lower()
    if key == "cora":
        return load_cora(root, seed)
    if key in (n.lower() for n in WEBKB_NAMES):
        return load_webkb_text(root, name, seed)
    if kind == "planetoid" and arg:
        return load_planetoid(root, arg, seed)
    if kind == "webkb" and arg:
        return load_webkb_features(root, arg, seed)
    if kind == "synthetic":
        try:
            options = _synthetic_options(arg)
            options.setdefault("seed", seed)
            return make_synthetic(**options)  # type: ignore[arg-type]
        except TypeError as error:
            raise ValueError(f"synthetic: {error}") from None
    path = Path(name).expanduser()
    if path.is_dir():
        return load_files(path, seed)
    if os.path.lexists(path):  # a path, but not to a graph directory: say what is there
        raise DataError(f"{not_a_directory(path)}; a graph of your own is the directory holding its nodes and edges "
                        "files (see docs/data.md)", file=path)  # fmt: skip
    raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(DATASET_NAMES)}")


__all__ = ["DATASET_NAMES", "load_dataset", "load_files", "make_synthetic"]
