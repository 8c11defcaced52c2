"""``mentor predict``: a saved model's prediction for every node of a graph (new nodes included); no LLM call
unless ``--max-calls`` or ``--budget`` lets the run's saved gate ask about the least confident new nodes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from mentor.cli.errors import stderr, user_errors
from mentor.cli.graph import DatasetArgument
from mentor.cli.options import LLM_PANEL, DataRootOption, StoreOption, with_llm_options
from mentor.cli.terminal import safe_markup
from mentor.consult.new_nodes import SavedGate, consult_new_nodes
from mentor.graph import load_dataset
from mentor.graph.predictions import FORMATS
from mentor.graph.saved import SavedModel
from mentor.llm import LLMClient, LLMConfig

stdout = Console()


@with_llm_options()
def predict(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (`mentor train/consult --out`) or the model directory in it.")
    ],
    dataset: DatasetArgument,
    out: Annotated[Path, typer.Option(help="The predictions table to write: a .csv, .parquet or .jsonl file.")],
    budget: Annotated[
        Optional[float],
        typer.Option(
            min=0.0,
            max=1.0,
            rich_help_panel=LLM_PANEL,
            help="Ask the LLM about this share of the new nodes (the least confident the run's gate would "
            "ask about; a gated run's model only). Default: no LLM call.",
        ),  # fmt: skip
    ] = None,
    data_root: DataRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """Predict every node of a graph with a run's saved GNN. The graph may be the training graph with nodes, edges
    or texts added or changed: only texts not seen before are encoded. No LLM call unless --max-calls or --budget
    lets the run's saved gate ask about the least confident new nodes (no recalibration, no labels needed)."""
    assert llm_config is not None
    max_calls = llm_config.limits.max_calls
    consulting = bool(max_calls) or bool(budget)
    asked = None
    with user_errors():
        _check_out(out)
        saved = SavedModel.load(run_dir)
        if consulting:
            SavedGate.of(saved)  # a model without a usable gate fails before the graph is read
        graph = load_dataset(dataset, data_root)
        saved.check(graph)  # classes, ids, LINKX: before any text is encoded
        if consulting:
            with LLMClient(llm_config, store=store) as client:
                asked = consult_new_nodes(saved, graph, client, max_calls=max_calls or None, budget=budget or None,
                                          progress=not as_json)  # fmt: skip
                usage = client.usage()
            table = asked.table
        else:
            table = saved.predict(graph, progress=not as_json)
        table.write(out)
    notes = saved.notes(graph) + (asked.notes if asked else [])
    config = saved.config
    summary = {"run": str(run_dir), "graph": graph.name, "nodes": len(table), "model": config.backbone.name,
               "features": config.features.name, "labels": table.frame["label"].value_counts().to_dict(),
               "out": str(out), "notes": notes}  # fmt: skip
    if asked is not None:
        summary["llm"] = {**asked.as_dict(), "new_calls": usage["new_calls"], "store_hits": usage["store_hits"]}
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    for note in notes:
        stderr.print(f"note: {safe_markup(note)}", highlight=False, soft_wrap=True)
    counts = ", ".join(f"{safe_markup(str(name))} {count}" for name, count in summary["labels"].items())
    stdout.print(f"{config.backbone.name} ({config.features.name} features) predicted {len(table)} nodes of "
                 f"{safe_markup(graph.name)}: {counts}", highlight=False, soft_wrap=True)  # fmt: skip
    if asked is not None:
        stdout.print(f"LLM asked about {len(asked.asked)} of {asked.new_nodes} new nodes ({usage['new_calls']} new "
                     f"calls, {usage['store_hits']} from the store, {asked.llm_seconds:.0f} s): {asked.answered} "
                     f"answered, {asked.accepted} used, {asked.changed} labels changed", highlight=False,
                     soft_wrap=True)  # fmt: skip
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
