"""``mentor data describe`` and ``mentor train``: the graph side on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mentor import outputs
from mentor.cli.errors import stderr, user_errors
from mentor.cli.options import (
    BatchSizeOption,
    DataRootOption,
    DeviceOption,
    EmbeddingsBaseUrlOption,
    EmbeddingsConcurrencyOption,
    EmbeddingsKeyEnvOption,
    EmbeddingsMaxTextsOption,
    FanoutOption,
)
from mentor.cli.terminal import safe_markup
from mentor.graph import TrainConfig, load_dataset, train_node_classifier
from mentor.graph.backbones import BACKBONES
from mentor.graph.features import FeatureSpec, make_encoder
from mentor.graph.predictions import FORMATS, PredictionTable
from mentor.graph.saved import MODEL_DIR, save_model, training_record
from mentor.graph.train import parse_batch_setting, resolve_batch_size

data_app = typer.Typer(help="Inspect data sets.", no_args_is_help=True)
stdout = Console()

DatasetArgument = Annotated[
    str,
    typer.Argument(
        help="cora | cornell | texas | wisconsin | planetoid:<Name> | webkb:<Name> | synthetic[:k=v,...] | DIR"
    ),
]


def _check_format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}")
    return value


PredictionsOption = Annotated[
    str,
    typer.Option(
        "--predictions",
        callback=_check_format,
        help="Format of the table of every node's prediction written in --out: csv | parquet | jsonl.",
    ),
]
#: What ``mentor train --out`` writes.
TRAIN_OUTPUTS = ("result.json", "predictions.csv")


def predictions_file(fmt: str) -> str:
    """The predictions table's file name in a run directory."""
    return f"predictions.{fmt}"


def warn(notes: list[str], about: str = "") -> None:
    """Print each note as a warning on stderr (``about`` prefixes it, e.g. ``split random: ``)."""
    for note in notes:
        stderr.print(f"[yellow]warning:[/] {safe_markup(about + note)}", highlight=False, soft_wrap=True)


@data_app.command()
def describe(
    dataset: DatasetArgument,
    data_root: DataRootOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the random split.")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Nodes, edges, classes with counts, edge homophily, text lengths, split sizes."""
    with user_errors():
        graph = load_dataset(dataset, data_root, seed)
        info = graph.describe()
    warn(graph.warnings())
    if as_json:
        typer.echo(json.dumps(info, allow_nan=False))
        return
    table = Table(title=f"{info['name']}  ({info['source']})", show_header=False)
    table.add_row("nodes", str(info["nodes"]))
    table.add_row("edges (undirected)", str(info["edges"]))
    table.add_row("classes", ", ".join(f"{safe_markup(k)} {v}" for k, v in info["class_counts"].items()))
    table.add_row("unlabelled", str(info["unlabelled"]))
    homophily = info["edge_homophily"]
    table.add_row("edge homophily", "– (no edge between labelled nodes)" if homophily is None else f"{homophily:.3f}")
    if info["text_chars"]:
        chars = info["text_chars"]
        table.add_row(
            "text chars", f"min {chars['min']}, median {chars['median']}, mean {chars['mean']}, max {chars['max']}"
        )
    if info["features"]:
        table.add_row("given features", str(info["features"]))
    for name, sizes in info["splits"].items():
        table.add_row(f"split {name}", " / ".join(f"{k} {v}" for k, v in sizes.items()))
    stdout.print(table)


def train(
    dataset: DatasetArgument,
    model: Annotated[str, typer.Option(help=f"Backbone: {', '.join(BACKBONES)}.")] = "gcn",
    features: Annotated[
        str, typer.Option(help="minilm | bow | given | any sentence-transformers model name.")
    ] = "minilm",
    split: Annotated[
        str,
        typer.Option(
            help="public | random | file | geom-gcn-<i> (what the data set has) | labelled (train/validation "
            "only, 80/20 of the labelled nodes: no test score) | few:K or few:K:V (K labelled nodes of each "
            "class train, V validate, the rest test)."
        ),
    ] = "random",
    seed: Annotated[int, typer.Option(help="Seed of the random split and of training.")] = 0,
    epochs: Annotated[int, typer.Option(min=1)] = 500,
    patience: Annotated[int, typer.Option(min=1)] = 100,
    batch_size: BatchSizeOption = "auto",
    fanout: FanoutOption = 10,
    device: DeviceOption = "cpu",
    embeddings_base_url: EmbeddingsBaseUrlOption = None,
    embeddings_api_key_env: EmbeddingsKeyEnvOption = None,
    embeddings_concurrency: EmbeddingsConcurrencyOption = 8,
    embeddings_max_texts: EmbeddingsMaxTextsOption = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0)] = None,
    hidden: Annotated[Optional[int], typer.Option(min=1)] = None,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.99)] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(help="Directory for result.json and predictions.csv (every node's prediction). Default: none."),
    ] = None,
    predictions: PredictionsOption = "csv",
    data_root: DataRootOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train a GNN on a data set; model selection on validation, accuracy and macro-F1 per split."""
    if model.lower() not in BACKBONES:
        raise typer.BadParameter(f"expected one of {', '.join(BACKBONES)}", param_hint="--model")
    with user_errors():
        graph = load_dataset(dataset, data_root, seed)
        warn(graph.warnings())
        if not graph.has_split(split):
            raise ValueError(f"--split {split!r}: {graph.name} has splits {', '.join(graph.split_names)}, or "
                             "few:K / few:K:V (K training and V validation labels per class)")  # fmt: skip
        chosen = graph.split(split)
        warn(chosen.warnings(), f"split {split}: ")
        if out is not None:
            for note in outputs.prepare_output_dir(out, (TRAIN_OUTPUTS[0], predictions_file(predictions), MODEL_DIR)):
                stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
        started = time.perf_counter()
        encoder = make_encoder(features, base_url=embeddings_base_url, api_key_env=embeddings_api_key_env,
                               concurrency=embeddings_concurrency, max_texts=embeddings_max_texts)  # fmt: skip
        spec, x = FeatureSpec.fit_transform(features, graph, encoder=encoder, progress=not as_json)
        feature_seconds = time.perf_counter() - started
        config = TrainConfig(model=model.lower(), epochs=epochs, patience=patience, lr=lr, hidden=hidden,
                             dropout=dropout, seed=seed, fanout=fanout, device=device,
                             batch_size=resolve_batch_size(parse_batch_setting(batch_size), graph.num_nodes,
                                                           model))  # fmt: skip
        result = train_node_classifier(x, graph.edge_index, graph.y, chosen, config,
                                       num_classes=graph.num_classes, features=spec)  # fmt: skip
        note = chosen.test_note(split)
        summary = {"dataset": graph.name, "model": config.model, "features": features, "split": split, "seed": seed,
                   **({"test_acc": None, "test_macro_f1": None} if note else {}), **result.summary(),
                   "test_scored": note is None, **({"note": note} if note else {}),
                   "feature_seconds": round(feature_seconds, 3)}  # fmt: skip
        if out is not None:
            PredictionTable.from_probs(graph, result.probs, chosen).write(out / predictions_file(predictions))
            outputs.write_json(out / "result.json", summary)
            save_model(out / MODEL_DIR, result, graph, training=training_record(result, split=split))
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table(title=f"{config.model} on {graph.name} ({features} features, split {split}, seed {seed})")
    for column in ("split", "accuracy", "macro-F1"):
        table.add_column(column)
    for part, values in result.metrics.items():
        table.add_row(part, f"{values['acc']:.4f}", f"{values['macro_f1']:.4f}")
    if note:
        table.add_row("test", "– (none)", "– (none)")
    stdout.print(table)
    stdout.print(f"best epoch {result.best_epoch} of {result.epochs_run}, {result.seconds:.1f} s")
    if note:
        stdout.print(f"no test score: {safe_markup(note)}", highlight=False)
    if out is not None:
        stdout.print(f"wrote {safe_markup(str(out))}/result.json, {predictions_file(predictions)}, {MODEL_DIR}/",
                     highlight=False)  # fmt: skip
