"""``mentor consult``: LLM-consulted GNN training on a text-attributed graph."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mentor.cli.errors import stderr, user_errors
from mentor.cli.graph import DatasetArgument, PredictionsOption, predictions_file, warn
from mentor.cli.options import (
    BatchSizeOption,
    DataRootOption,
    DeviceOption,
    EmbeddingsBaseUrlOption,
    EmbeddingsConcurrencyOption,
    EmbeddingsKeyEnvOption,
    EmbeddingsMaxTextsOption,
    FanoutOption,
    StoreOption,
    with_llm_options,
)
from mentor.consult import (
    STRATEGIES,
    Consultation,
    ConsultConfig,
    GatedConsultation,
    RoundReport,
    gated_summary,
    make_consultation,
    summary,
    write_gated_outputs,
    write_outputs,
)
from mentor.consult.baselines import llm_as_enhancer, llm_as_predictor
from mentor.consult.prompt import CONTEXTS, load_templates
from mentor.consult.saving import save_run_model
from mentor.graph.backbones import BACKBONES
from mentor.graph.features import make_encoder
from mentor.graph.saved import MODEL_DIR
from mentor.graph.train import parse_batch_setting
from mentor.llm import LLMClient, LLMConfig
from mentor.outputs import prepare_output_dir
from mentor.progress import stage

stdout = Console()
#: What a run writes in --out (either strategy; the predictions table in the format of --predictions).
RUN_OUTPUTS = ("result.json", "consultations.jsonl", "accuracy_vs_calls.png", "predictions.csv", MODEL_DIR)


@with_llm_options(exclude=("max_calls", "max_input_tokens", "max_output_tokens"))
def consult(
    dataset: DatasetArgument,
    strategy: Annotated[
        str,
        typer.Option(
            help="gated: ask about unlabelled nodes where validation says the LLM "
            "beats the GNN | login: LOGIN's loop over training nodes."
        ),
    ] = "gated",
    model: Annotated[str, typer.Option(help=f"GNN backbone: {', '.join(BACKBONES)}.")] = "gcn",
    rounds: Annotated[int, typer.Option(min=1, help="Consultation rounds.")] = 2,
    max_calls: Annotated[
        Optional[int], typer.Option("--max-calls", min=1, help="LLM answers over all rounds (also a hard budget).")
    ] = None,
    budget: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="gated: LLM calls as a share of the graph's nodes, calibration included."),
    ] = 0.1,
    calibration: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="gated: share of the budget spent on validation nodes to calibrate the gate."
        ),
    ] = 0.4,
    min_gain: Annotated[
        int,
        typer.Option(min=1, help="gated: validation nodes the gate must gain over the GNN (out of sample) to open."),
    ] = 2,
    combine: Annotated[
        str,
        typer.Option(
            help="gated: pool (GNN and LLM class distributions pooled, weights fitted on validation) | "
            "route (the LLM's label where the GNN is unsure and the LLM sure, thresholds fitted on validation)."
        ),
    ] = "pool",
    cascade: Annotated[
        bool, typer.Option(help="gated: an accepted node's final prediction is the combined one.")
    ] = True,
    teach: Annotated[
        bool, typer.Option(help="gated: accepted answers become pseudo-labels; the GNN is retrained.")
    ] = True,
    teaching: Annotated[
        Optional[float],
        typer.Option(
            min=0.0,
            max=1.0,
            help="gated: share of each round's calls spent on representative nodes "
            "(whose answers teach the GNN); default 0.5 with at most 10 training labels per class, else 0.",
        ),
    ] = None,
    teach_min_confidence: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="gated: an accepted answer teaches only where the combined probability "
            "of its label is at least this (default: every accepted answer, weighted by it).",
        ),
    ] = 0.0,
    selection: Annotated[
        str,
        typer.Option(
            help="gated: not-worse (keep a retrained GNN unless validation falls by more than the margin) | "
            "improve (keep it only if validation rises by more)."
        ),
    ] = "not-worse",
    selection_margin: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="gated: validation-accuracy margin of --selection.")
    ] = 0.02,
    fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="login: training nodes consulted per round.")] = 0.1,
    select: Annotated[str, typer.Option(help="login: uncertainty | random (same number of calls).")] = "uncertainty",
    features: Annotated[str, typer.Option(help="minilm | bow | a sentence-transformers model name.")] = "minilm",
    split: Annotated[
        Optional[str],
        typer.Option(
            help="Default: public if the data set has it, else random. labelled: train/validation only (80/20 of "
            "the labelled nodes), every other node predicted, no test score. few:K (few:K:V): K labelled nodes "
            "of each class train (V validate), the rest only score."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, training and random selection.")] = 0,
    augment: Annotated[
        Optional[bool],
        typer.Option(
            help="Add the explanation of an accepted (gated) or right (login) answer to the node's text "
            "(default: gated no, login yes)."
        ),  # fmt: skip
    ] = None,
    prune: Annotated[bool, typer.Option(help="login: wrong answer: prune the node's dissimilar edges.")] = True,
    prune_threshold: Annotated[float, typer.Option(min=-1.0, max=1.0, help="Cosine below which an edge goes.")] = 0.1,
    show_gnn_prediction: Annotated[
        Optional[bool], typer.Option(help="Show the GNN's predictions in prompts (default: gated no, login yes).")
    ] = None,
    show_neighbour_labels: Annotated[
        Optional[bool], typer.Option(help="Show neighbours' training labels (default: gated no, login yes).")
    ] = None,
    max_prompt_tokens: Annotated[
        Optional[int],
        typer.Option(min=100, help="Prompt size limit in tokens (see --token-count; default: gated 384, login 600)."),
    ] = None,
    token_count: Annotated[
        str,
        typer.Option(
            help="How --max-prompt-tokens counts: exact (the teacher's tokenizer; the estimate where an "
            "endpoint has none, and the run says so) | estimate (4 characters a token)."
        ),  # fmt: skip
    ] = "exact",
    context: Annotated[
        Optional[str],
        typer.Option(
            help="What a prompt shows beside the node's text: text (the node's text alone) | neighbourhood | "
            "similar (the --similar-k most similar nodes within two hops). Default: gated text, login neighbourhood."
        ),  # fmt: skip
    ] = None,
    similar_k: Annotated[int, typer.Option(min=1, help="--context similar: neighbours shown.")] = 3,
    explain: Annotated[
        Optional[bool],
        typer.Option(
            help="Ask for an explanation beside the label (default: only with --augment, which uses it)."
        ),  # fmt: skip
    ] = None,
    templates: Annotated[Optional[Path], typer.Option(help="Directory with system.txt and user.txt.")] = None,
    class_descriptions: Annotated[
        Optional[Path],
        typer.Option(
            help="A file with a class name, a tab and a short description per line; prompts show the "
            "descriptions beside the names (a graph's classes.txt may hold them too)."
        ),  # fmt: skip
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 500,
    patience: Annotated[int, typer.Option(min=1)] = 100,
    batch_size: BatchSizeOption = "auto",
    fanout: FanoutOption = 10,
    device: DeviceOption = "cpu",
    embeddings_base_url: EmbeddingsBaseUrlOption = None,
    embeddings_api_key_env: EmbeddingsKeyEnvOption = None,
    embeddings_concurrency: EmbeddingsConcurrencyOption = 8,
    embeddings_max_texts: EmbeddingsMaxTextsOption = None,
    out: Annotated[Optional[Path], typer.Option(help="Output directory. Default: runs/<data>-<model>-seed<S>.")] = None,
    predictions: PredictionsOption = "csv",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and spend nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print result.json to standard output.")] = False,
    data_root: DataRootOption = None,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """Train a GNN, consult the LLM on the nodes it is unsure of, feed the answers back, retrain."""
    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"expected one of {', '.join(STRATEGIES)}", param_hint="--strategy")
    if model.lower() not in BACKBONES:
        raise typer.BadParameter(f"expected one of {', '.join(BACKBONES)}", param_hint="--model")
    if combine not in ("pool", "route"):
        raise typer.BadParameter("expected pool or route", param_hint="--combine")
    if select not in ("uncertainty", "random"):
        raise typer.BadParameter("expected uncertainty or random", param_hint="--select")
    if context is not None and context not in CONTEXTS:
        raise typer.BadParameter(f"expected one of {', '.join(CONTEXTS)}", param_hint="--context")
    if token_count not in ("estimate", "exact"):
        raise typer.BadParameter("expected estimate or exact", param_hint="--token-count")
    assert llm_config is not None
    # --max-calls is the plan (answers over all rounds) and also the hard budget on new calls.
    llm_config = llm_config.model_copy(update={"limits": llm_config.limits.model_copy(update={"max_calls": max_calls})})
    with user_errors():
        config = ConsultConfig(
            dataset=dataset, data_root=data_root, strategy=strategy, model=model.lower(), features=features,
            split=split, seed=seed, rounds=rounds, max_calls=max_calls, budget=budget, calibration=calibration,
            min_gain=min_gain, combine=combine, cascade=cascade, teach=teach, teaching=teaching,
            teach_min_confidence=teach_min_confidence, selection=selection,
            selection_margin=selection_margin, fraction=fraction, select=select, augment=augment, prune=prune,
            prune_threshold=prune_threshold, show_gnn_prediction=show_gnn_prediction,
            show_neighbour_labels=show_neighbour_labels, max_prompt_tokens=max_prompt_tokens, templates=templates,
            token_count=token_count, context=context, similar_k=similar_k, explain=explain,
            class_descriptions=class_descriptions,
            epochs=epochs, patience=patience, batch_size=parse_batch_setting(batch_size), fanout=fanout,
            device=device,
        )  # fmt: skip
        load_templates(templates, config.context)  # a bad template fails now, not after training
        name = f"{Path(dataset).name.replace(':', '-')}-{config.model}-{strategy}-seed{seed}"
        out = out or Path("runs") / name
        if not dry_run:
            run_outputs = tuple(predictions_file(predictions) if name == "predictions.csv" else name
                                for name in RUN_OUTPUTS)  # fmt: skip
            for note in prepare_output_dir(out, run_outputs):
                stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
        with LLMClient(llm_config, store=store) as client:
            encoder = make_encoder(config.features, base_url=embeddings_base_url, api_key_env=embeddings_api_key_env,
                                   concurrency=embeddings_concurrency, max_texts=embeddings_max_texts)  # fmt: skip
            consultation = make_consultation(config, client, encoder=encoder, progress=not as_json)
            warn(consultation.graph.warnings())
            for note in consultation.split.warnings():
                stderr.print(f"[yellow]warning:[/] split {consultation.split_name}: {note}", highlight=False,
                             soft_wrap=True)  # fmt: skip
            if dry_run:
                _plan(consultation, client, as_json)
                return
            started = time.perf_counter()
            if isinstance(consultation, GatedConsultation):
                gated = consultation.run(
                    on_event=None if as_json else lambda message: stderr.print(message, soft_wrap=True)
                )
                payload = gated_summary(gated, client, time.perf_counter() - started)
                _fail_if_nothing_answered(payload)
                stage(f"writing: {out}", enabled=not as_json)
                write_gated_outputs(out, gated, payload, predictions)
                save_run_model(out / MODEL_DIR, consultation, gated)
            else:
                result = consultation.run(on_round=None if as_json else _show_round)
                payload = summary(result, client, time.perf_counter() - started)
                _fail_if_nothing_answered(payload)
                stage(f"writing: {out}", enabled=not as_json)
                write_outputs(out, result, payload, predictions)
                save_run_model(out / MODEL_DIR, consultation, result)
    if as_json:
        typer.echo(json.dumps(payload))
        return
    if payload["strategy"] == "gated":
        _show_gated(payload, out, predictions_file(predictions))
    else:
        _show_result(payload, out, predictions_file(predictions))


def _fail_if_nothing_answered(payload: dict) -> None:
    """A run that asked and got no answer at all is an error (with the reasons), not a result."""
    totals = payload["totals"]
    failures = totals.get("failures") or {}
    if totals["calls"] == 0 and failures:
        reasons = ", ".join(f"{reason} ×{count}" for reason, count in sorted(failures.items()))
        stderr.print(f"[red]error:[/] every LLM call failed ({reasons}); no result was written. "
                     "`mentor llm stats` and the store's failure log have the details.")  # fmt: skip
        raise typer.Exit(1)


def _show_gated(payload: dict, out: Path, table_file: str) -> None:
    table = Table(title=f"{payload['model']} on {payload['dataset']} consulting {payload['llm']['model']} (gated)")
    consulted, never = payload["after"]["test_consulted"], payload["after"]["test_not_consulted"]
    for column in ("", "val acc", "test acc", "test F1", f"answered ({consulted['nodes'] if consulted else 0})",
                   f"never asked ({never['nodes'] if never else 0})"):  # fmt: skip
        table.add_column(column)

    def cell(block: dict | None, key: str = "acc") -> str:
        return "–" if block is None else f"{block[key]:.4f}"

    for name, label in (("before", "GNN alone"), ("after_gnn", "GNN after teaching"), ("after", "final (cascade)")):
        scores = payload[name]
        table.add_row(label, cell(scores["val"]), cell(scores["test"]), cell(scores["test"], "macro_f1"),
                      cell(scores["test_consulted"]), cell(scores["test_not_consulted"]))  # fmt: skip
    stdout.print(table)
    gate, totals = payload["gate"]["calibration"], payload["totals"]
    if payload.get("label_free"):
        stdout.print(f"no training label: round 0's GNN learned from the LLM's answers; {gate['reason']}")
    else:
        stdout.print(
            f"gate {'open' if gate['open'] else 'closed'}: {gate['reason']} (LLM {gate['llm_accuracy']}, GNN "
            f"{gate['gnn_accuracy']} on {gate['calibration_nodes']} calibration nodes)"
        )
    stdout.print(
        f"{totals['calls']} answers of a budget of {totals['budget']} ({totals['new_calls']} new calls, "
        f"{totals['calibration_calls']} for calibration, {totals['representative']} chosen to teach, "
        f"{totals['accepted']} accepted), kept round {payload['selected_round']}, LLM "
        f"{totals['spent_llm_seconds']:.0f} s"
    )
    _show_note(payload)
    stdout.print(f"wrote {out}/result.json, consultations.jsonl, {table_file}, {MODEL_DIR}/")


def _show_note(payload: dict) -> None:
    """Say plainly when there is no test score (split labelled) and when exact token counts were estimates."""
    if payload.get("note"):
        stdout.print(f"no test score: {payload['note']}", highlight=False)
    if payload["config"]["token_count"] == "exact" and payload["llm"].get("token_counts") == "estimate":
        stdout.print("prompt budgets counted with the estimate (4 characters a token): the teacher has no "
                     "tokenizer this client can reach", highlight=False)  # fmt: skip


def _score(metrics: dict, part: str, key: str = "acc") -> str:
    """A score of ``metrics`` as printed; ``–`` where the part has no nodes (no test part: no score)."""
    block = metrics.get(part)
    return "–" if block is None else f"{block[key]:.4f}"


def _show_round(event: str, report: RoundReport) -> None:
    test = _score(report.metrics, "test")
    if report.round == 0:
        stderr.print(f"round 0 (no consultation): val {report.metrics['val']['acc']:.4f}, test {test}")
        return
    stderr.print(
        f"round {report.round}: consulted {report.consulted} ({report.new_calls} new calls), LLM right on "
        f"{report.llm_correct}/{report.answered}, {report.texts_augmented} texts augmented, "
        f"{report.edges_pruned} edges pruned → val {report.metrics['val']['acc']:.4f}, test {test}"
    )


def _show_result(payload: dict, out: Path, table_file: str) -> None:
    table = Table(title=f"{payload['model']} on {payload['dataset']} consulting {payload['llm']['model']}")
    for column in ("", "val acc", "test acc", "test macro-F1"):
        table.add_column(column)
    for name in ("before", "after"):
        metrics = payload[name]
        table.add_row(name, _score(metrics, "val"), _score(metrics, "test"), _score(metrics, "test", "macro_f1"))
    stdout.print(table)
    totals = payload["totals"]
    stdout.print(
        f"{totals['calls']} answers ({totals['new_calls']} new calls), LLM accuracy {totals['llm_accuracy']}, "
        f"best round {payload['best_round']}" + (f", stopped: {payload['stopped']}" if payload["stopped"] else "")
    )
    _show_note(payload)
    stdout.print(f"wrote {out}/result.json, consultations.jsonl, accuracy_vs_calls.png, {table_file}, {MODEL_DIR}/")


def _plan(consultation: Consultation, client: LLMClient, as_json: bool) -> None:
    """Round 1 exactly (nodes and prompts), later rounds estimated alike; no LLM call is made."""
    config = consultation.config
    x = consultation.features()
    if isinstance(consultation, GatedConsultation):
        # Calibration (or, with no label, the first labels) is planned exactly; what follows depends on the gate,
        # so the budget is its upper bound.
        label_free = not bool(consultation.split.train.any())
        result = None if label_free else consultation.train(x)
        nodes, _ = consultation.first_nodes(x, result)
        requests = consultation.requests(nodes, consultation.prompt_view(result))
        budget = config.budget_calls(consultation.graph.num_nodes)
        plan = [len(nodes), budget - len(nodes)]
    else:
        result = consultation.train(x)
        plan = config.calls_per_round(int(consultation.split.train.sum()))
        nodes = consultation.select(result, x, plan[0], 1, {})
        requests = consultation.requests(nodes, consultation.view(result))
    prompt_tokens = [sum(consultation.count_tokens(m.content) for m in r.messages) for r in requests]
    stored = sum(r.key(client.identity) in client.store for r in requests)
    calls = sum(plan)
    mean_prompt = statistics.mean(prompt_tokens) if prompt_tokens else 0
    max_answer = requests[0].decoding.max_tokens if requests else 0
    stored_calls, per_call = client.store.mean_latency(client.identity)
    plan_info = {
        "dataset": consultation.graph.name,
        "split": consultation.split_name,
        "training_nodes": int(consultation.split.train.sum()),
        "strategy": config.strategy,
        "calls_per_round" if config.strategy == "login" else "calibration_then_at_most": plan,
        "round1_nodes" if config.strategy == "login" else "calibration_nodes": nodes,
        # nodes above are row indices (0-based, in file order); a graph from files also has its own ids
        **({"node_ids": [consultation.graph.node_ids[n] for n in nodes]} if consultation.graph.node_ids else {}),
        "round1_already_in_store" if config.strategy == "login" else "calibration_already_in_store": stored,
        "estimated_prompt_tokens": round(mean_prompt * calls),
        "max_completion_tokens": max_answer * calls,
        "estimated_cost": round(client.budget.price.cost(round(mean_prompt * calls), max_answer * calls), 4),
        "estimated_seconds": round(per_call * calls, 1) if per_call else None,
        "seconds_basis": f"mean latency of {stored_calls} stored calls to this model" if per_call else
        "no earlier calls to this model in the store",
    }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(plan_info))
        return
    for key, value in plan_info.items():
        stdout.print(f"[bold]{key}[/]: {value}")
    stdout.print("dry run: no LLM call was made")


baseline_app = typer.Typer(help="Baselines with the same data, client and budget accounting.", no_args_is_help=True)


BaselineFeatures = Annotated[str, typer.Option(help="Features of the GNN the baseline is compared with.")]
BaselineModel = Annotated[str, typer.Option(help="GNN the baseline is compared with.")]
BaselineSplit = Annotated[Optional[str], typer.Option(help="Default: public if the data set has it, else random.")]
BaselineSeed = Annotated[int, typer.Option(help="Seed of the split, training and node sample.")]


def _run_baseline(run, llm_config: Optional[LLMConfig], store: Optional[Path], **config: object) -> None:
    """Build the client and config shared by the baselines, run one, print its report as JSON."""
    assert llm_config is not None
    with user_errors(), LLMClient(llm_config, store=store) as client:
        typer.echo(json.dumps(run(ConsultConfig(**config), client)))


@baseline_app.command("predictor")
@with_llm_options()
def predictor(
    dataset: DatasetArgument,
    sample: Annotated[int, typer.Option(min=1, help="Test nodes to label.")] = 50,
    features: BaselineFeatures = "minilm",
    model: BaselineModel = "gcn",
    split: BaselineSplit = None,
    seed: BaselineSeed = 0,
    data_root: DataRootOption = None,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """LLM as predictor: the LLM labels a sample of test nodes directly (text and neighbours' texts only)."""
    _run_baseline(lambda config, client: llm_as_predictor(config, client, sample=sample, progress=False),
                  llm_config, store, dataset=dataset, data_root=data_root, model=model, features=features,
                  split=split, seed=seed)  # fmt: skip


@baseline_app.command("enhancer")
@with_llm_options(exclude=("max_calls",))
def enhancer(
    dataset: DatasetArgument,
    calls: Annotated[int, typer.Option(min=1, help="Random nodes whose texts get an LLM explanation.")] = 20,
    features: BaselineFeatures = "minilm",
    model: BaselineModel = "gcn",
    split: BaselineSplit = None,
    seed: BaselineSeed = 0,
    data_root: DataRootOption = None,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """LLM as enhancer (TAPE-style): explanations added to random nodes' texts, no pruning, then retrain."""
    _run_baseline(lambda config, client: llm_as_enhancer(config, client, calls=calls, progress=False),
                  llm_config, store, dataset=dataset, data_root=data_root, model=model, features=features,
                  split=split, seed=seed)  # fmt: skip
