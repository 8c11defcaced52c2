"""``mentor predict``: a saved model's prediction for every node of a graph (new nodes included), without an LLM."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mentor.cli.errors import stderr, user_errors
from mentor.cli.graph import DatasetArgument
from mentor.cli.options import DataRootOption
from mentor.cli.terminal import safe_markup
from mentor.graph import load_dataset
from mentor.graph.predictions import FORMATS
from mentor.graph.saved import SavedModel

stdout = Console()


def predict(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (`mentor train/consult --out`) or the model directory in it.")
    ],
    dataset: DatasetArgument,
    out: Annotated[Path, typer.Option(help="The predictions table to write: a .csv, .parquet or .jsonl file.")],
    data_root: DataRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Predict every node of a graph with a run's saved GNN (no LLM call). The graph may be the training graph
    with nodes, edges or texts added or changed: only texts not seen before are encoded."""
    with user_errors():
        _check_out(out)
        saved = SavedModel.load(run_dir)
        graph = load_dataset(dataset, data_root)
        saved.check(graph)  # classes, ids, LINKX: before any text is encoded
        table = saved.predict(graph, progress=not as_json)
        table.write(out)
    notes = saved.notes(graph)
    config = saved.config
    summary = {"run": str(run_dir), "graph": graph.name, "nodes": len(table), "model": config.backbone.name,
               "features": config.features.name, "labels": table.frame["label"].value_counts().to_dict(),
               "out": str(out), "notes": notes}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    for note in notes:
        stderr.print(f"note: {safe_markup(note)}", highlight=False, soft_wrap=True)
    counts = ", ".join(f"{safe_markup(str(name))} {count}" for name, count in summary["labels"].items())
    stdout.print(f"{config.backbone.name} ({config.features.name} features) predicted {len(table)} nodes of "
                 f"{safe_markup(graph.name)}: {counts}", highlight=False, soft_wrap=True)  # fmt: skip
    stdout.print(f"wrote {safe_markup(str(out))}", highlight=False, soft_wrap=True)


def _check_out(out: Path) -> None:
    """Before any work: ``out`` names a table format and a file that can be written."""
    if out.suffix[1:] not in FORMATS:
        raise ValueError(f"--out {out}: expected a file name ending .{', .'.join(FORMATS)}")
    if out.is_dir():
        raise ValueError(f"--out {out}: is a directory (expected a file name)")
    existing = out.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write there ({existing} is not a writable directory)")
