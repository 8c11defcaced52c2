"""mentor: large-small model collaborative training.

A small model (a GNN, a small language model) does the work; a large language model is consulted on the
hard cases and asked to explain. ``mentor.llm`` is the one way the rest of the toolkit talks to a large model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mentor.graph.saved import SavedModel

__version__ = "0.1.0"


def load(run_dir: str | Path) -> SavedModel:
    """The small model a run saved (``RUN_DIR/model``, or a model directory), to apply to a graph:
    ``mentor.load(RUN_DIR).predict(graph)`` (see :class:`mentor.graph.saved.SavedModel`). Reads JSON and
    safetensors only: loading runs no code from the directory."""
    from mentor.graph.saved import SavedModel

    return SavedModel.load(run_dir)
