"""The in-memory text-attributed graph: a PyG ``Data`` plus node texts, class names, splits and provenance."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import homophily

#: A validation or test part smaller than this gets a warning (one node would be over 3 accuracy points).
SMALL_SPLIT = 30
#: The split made from ``random`` for labelling: train and validation only (see :meth:`Split.for_labelling`).
LABELLED = "labelled"


@dataclass
class Split:
    """Boolean node masks of one train/validation/test split (disjoint)."""

    train: Tensor
    val: Tensor
    test: Tensor

    def sizes(self) -> dict[str, int]:
        return {"train": int(self.train.sum()), "val": int(self.val.sum()), "test": int(self.test.sum())}

    def mask(self, name: str) -> Tensor:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split part {name!r}; expected train, val or test")
        return getattr(self, name)

    def for_labelling(self) -> Split:
        """This split without a test part: its training and test nodes train, its validation nodes validate (from
        ``random``'s 60/20/20: 80/20 of the labelled nodes). For a run that wants labels, not a score."""
        return Split(self.train | self.test, self.val.clone(), torch.zeros_like(self.test))

    def test_note(self, name: str) -> str | None:
        """What a result says in place of a test score when this split (called ``name``) has no test part;
        ``None`` when it has one."""
        if bool(self.test.any()):
            return None
        return (f"split {name} has no test part (every labelled node trains or validates), so there is no test "
                "score: test scores are null")  # fmt: skip

    def warnings(self, minimum: int = SMALL_SPLIT) -> list[str]:
        """What makes scores on this split mean little: a validation or test part under ``minimum`` nodes, with
        how many accuracy points one node is worth there."""
        notes = []
        for part, name in (("val", "validation"), ("test", "test")):
            n = int(self.mask(part).sum())
            if n == 0:
                notes.append(f"the {name} part is empty: its scores are not measured")
            elif n < minimum:
                notes.append(f"the {name} part has {n} nodes: one node is {100 / n:.1f} accuracy points, so its "
                             "scores mean little (use a larger split or average over many seeds)")  # fmt: skip
        return notes


@dataclass
class TextGraph:
    """A text-attributed graph.

    ``data`` holds ``edge_index`` (undirected, no self-loops, coalesced), ``y`` (class ids, ``-1`` where the label
    is unknown), ``num_nodes`` and, for the feature-only originals, ``x``; ``texts[i]`` is node ``i``'s text
    (``None`` for a graph without texts); ``splits`` maps a split name (``public``, ``random``, ``file``…) to its
    masks; ``source`` says where the graph came from.
    """

    name: str
    data: Data
    texts: list[str] | None
    class_names: list[str]
    splits: dict[str, Split] = field(default_factory=dict)
    source: str = ""
    node_ids: list[str] | None = None
    #: A short description of each class (``None`` where it has none), shown in prompts beside the name.
    class_descriptions: list[str | None] | None = None
    #: The seed its random splits are drawn with (``random`` at loading, ``few:K`` when asked for).
    seed: int = 0

    @property
    def num_nodes(self) -> int:
        return int(self.data.num_nodes)

    @property
    def num_edges(self) -> int:
        """Undirected edges (each stored in both directions in ``edge_index``)."""
        return int(self.data.edge_index.size(1)) // 2

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def y(self) -> Tensor:
        return self.data.y

    @property
    def edge_index(self) -> Tensor:
        return self.data.edge_index

    @property
    def split_names(self) -> list[str]:
        """The splits :meth:`split` gives: those in ``splits``, and ``labelled`` where there is a ``random`` one."""
        derived = [LABELLED] if "random" in self.splits and LABELLED not in self.splits else []
        return [*self.splits, *derived]

    def has_split(self, name: str) -> bool:
        """Whether :meth:`split` gives ``name``: one of :attr:`split_names`, or a few-label split ``few:K[:V]``."""
        from mentor.graph.splits import parse_few

        return name in self.split_names or parse_few(name) is not None

    def split(self, name: str) -> Split:
        """The split ``name``; ``labelled`` is made from ``random`` (:meth:`Split.for_labelling`), ``few:K`` /
        ``few:K:V`` drawn with :attr:`seed` (:func:`~mentor.graph.splits.few_label_split`)."""
        from mentor.graph.splits import few_label_split, parse_few

        if name == LABELLED and name not in self.splits and "random" in self.splits:
            return self.splits["random"].for_labelling()
        if name not in self.splits and (few := parse_few(name)) is not None:
            return few_label_split(self.y, self.seed, *few)
        try:
            return self.splits[name]
        except KeyError:
            known = ", ".join([*self.split_names, "few:K", "few:K:V"])
            raise KeyError(f"{self.name} has no split {name!r}; it has: {known}") from None

    def edge_homophily(self) -> float | None:
        """Fraction of edges joining two nodes of the same class, over edges whose both ends are labelled
        (``None`` when there is no such edge)."""
        labelled = (self.y[self.edge_index[0]] >= 0) & (self.y[self.edge_index[1]] >= 0)
        if not bool(labelled.any()):
            return None
        return float(homophily(self.edge_index[:, labelled], self.y, method="edge"))

    def warnings(self) -> list[str]:
        """What makes the labels a poor basis for training or scores: a single class, classes with one labelled
        node (no split can both train on it and score it) and classes with none (never learned)."""
        counts = Counter(int(c) for c in self.y.tolist() if c >= 0)
        notes = []
        if len(counts) == 1:
            only = self.class_names[next(iter(counts))]
            notes.append(f"every labelled node is in one class ({only!r}): there is nothing to tell apart, and "
                         "accuracy says nothing")  # fmt: skip
        for count, effect in (
            (1, "no split can both train on such a class and score it"),
            (0, "such a class is never learned"),
        ):
            names = [repr(name) for c, name in enumerate(self.class_names) if counts.get(c, 0) == count]
            if names:
                listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                what = "one labelled node" if count else "no labelled node"
                notes.append(f"{len(names)} class{'es' if len(names) > 1 else ''} with {what} ({listed}): {effect}")
        return notes

    def describe(self) -> dict[str, Any]:
        counts = Counter(int(c) for c in self.y.tolist() if c >= 0)
        homophily_value = self.edge_homophily()
        text_chars = None
        if self.texts is not None:
            lengths = torch.tensor([len(t) for t in self.texts], dtype=torch.float)
            text_chars = {
                "min": int(lengths.min()),
                "mean": round(float(lengths.mean()), 1),
                "median": int(lengths.median()),
                "max": int(lengths.max()),
            }
        return {
            "name": self.name,
            "source": self.source,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "classes": self.num_classes,
            "class_counts": {self.class_names[c]: counts.get(c, 0) for c in range(self.num_classes)},
            "unlabelled": int((self.y < 0).sum()),
            "edge_homophily": None if homophily_value is None else round(homophily_value, 4),
            "text_chars": text_chars,
            "features": None if self.data.x is None else int(self.data.x.size(1)),
            "splits": {name: self.split(name).sizes() for name in self.split_names},
        }

    def copy(self) -> TextGraph:
        """A deep copy (texts and edges can then be changed without touching the original)."""
        return copy.deepcopy(self)
