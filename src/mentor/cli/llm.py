"""``mentor llm``: ask a model, inspect and exchange the response store."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import time
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
from mentor.llm.store import Unreadable, describe_filled
from mentor.outputs import atomic_write
from mentor.paths import default_store_path
from mentor.readers import utf8_lines

app = typer.Typer(help="Ask a large model; inspect, export and import the response store.", no_args_is_help=True)
stdout = Console()


#: Characters a terminal may act on that JSON leaves raw: DEL and the C1 controls (U+009B starts a sequence).
_RAW_CONTROLS = re.compile("[\x7f-\x9f]")


def _split_labels(value: str) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in value.split(","))
    if not all(labels):
        raise typer.BadParameter(f"expected comma-separated non-empty labels, got {value!r}", param_hint="--labels")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        twice = ", ".join(map(repr, repeated))
        raise typer.BadParameter(f"labels must be distinct: {twice} given more than once", param_hint="--labels")
    return labels


def terminal_json(payload: object) -> str:
    """``payload`` as one line of JSON that is safe on a terminal: every control character escaped as ``\\uXXXX``
    (JSON escapes C0 itself), other non-ASCII text kept readable. Decoding it gives back the exact values."""
    return _RAW_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", json.dumps(payload, ensure_ascii=False))


def _existing(store: Optional[Path]) -> Path:
    """The store a reading command opens; a missing one is an error (it is not created)."""
    path = store or default_store_path()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no response store here (set --store or MENTOR_STORE)")
    return path


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
        typer.echo(terminal_json(payload))
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
    with user_errors():
        path = _existing(store)
        with ResponseStore(path, readonly=True) as db:
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
                    "mean_seconds": _rounded(r.mean_latency_s),
                    "timed_answers": r.timed,
                    "mean_prefill_seconds": _rounded(r.mean_prefill_s),
                    "mean_decode_seconds": _rounded(r.mean_decode_s),
                    "mean_prompt_tokens_evaluated": _rounded(r.mean_prompt_eval_tokens, 1),
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
        "s/answer",
        "prefill s",
        "decode s",
        "prompt tok eval",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(
            r.model, str(r.calls), str(r.prompt_tokens), str(r.completion_tokens), f"{r.cost:.4f}",
            str(r.hits), f"{r.hit_rate:.1%}", str(r.failures), _figure(r.mean_latency_s, 2),
            _figure(r.mean_prefill_s, 2), _figure(r.mean_decode_s, 2), _figure(r.mean_prompt_eval_tokens, 0),
        )  # fmt: skip
    stdout.print(table)
    if any(r.timed < r.calls for r in rows):
        stdout.print("[dim]prefill s, decode s, prompt tok eval (tokens not reused from the previous prompt's "
                     "cache): means over the answers stored with timings; the s/answer of older answers includes "
                     "waiting behind other requests[/]")  # fmt: skip
    if reasons:
        stdout.print("failures by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _figure(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@app.command()
def check(store: StoreOption = None) -> None:
    """Whether the response store is sound: SQLite's integrity check, mentor's schema, and every stored answer
    decoded and validated; exit 1 with the problems if not."""
    with user_errors():
        path = _existing(store)
        with ResponseStore(path, readonly=True) as db:
            problems = db.check()
            answers = len(db) if not problems else None
    if problems:
        stderr.print(f"[bold red]error:[/] {safe_markup(str(path))}: the store is damaged ({len(problems)} "
                     "problem(s)):", highlight=False, soft_wrap=True)  # fmt: skip
        for problem in problems[:20]:
            stderr.print(f"  {safe_markup(problem)}", highlight=False, soft_wrap=True)
        if len(problems) > 20:
            stderr.print(f"  … and {len(problems) - 20} more", highlight=False)
        stderr.print(f"`mentor llm export --store {safe_markup(str(path))} answers.jsonl` saves every answer that "
                     "can still be read (and names the others); `mentor llm import answers.jsonl --store NEW` then "
                     "makes a sound store. Or restore an earlier export.", highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    stdout.print(f"{safe_markup(str(path))}: sound, {answers} answers", highlight=False, soft_wrap=True)


@app.command("export")
def export_(
    out: Annotated[
        Optional[Path],
        typer.Argument(help="JSONL file to write, gzip-compressed if it ends with .gz (default: standard output)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write every stored answer, with its request, as JSONL. A damaged store gives every answer that can still
    be read, and names the rows it could not (exit 1)."""
    skipped: list[Unreadable] = []
    with user_errors():
        path = _existing(store)
        with ResponseStore(path, readonly=True) as db:
            lost = db.lost_columns()
            if lost:
                stderr.print(f"[bold yellow]warning:[/] {safe_markup(str(path))}: the store lacks column(s) "
                             f"{', '.join(lost)}; its answers are exported with {describe_filled(lost)}",
                             highlight=False, soft_wrap=True)  # fmt: skip
            if out is None:
                count = db.export_jsonl(sys.stdout, skipped)
            else:
                count = _export_to(db, out, skipped)
    where = "standard output" if out is None else out
    if skipped:
        stderr.print(f"[bold red]error:[/] {safe_markup(str(path))}: {len(skipped)} stored answer(s) cannot be read "
                     f"and were left out; exported the {count} readable ones to {safe_markup(str(where))}:",
                     highlight=False, soft_wrap=True)  # fmt: skip
        for row in skipped[:20]:
            stderr.print(f"  {safe_markup(str(row))}", highlight=False, soft_wrap=True)
        if len(skipped) > 20:
            stderr.print(f"  … and {len(skipped) - 20} more", highlight=False)
        raise typer.Exit(1)
    if out is not None:
        stderr.print(f"exported {count} answers to {safe_markup(str(out))}", highlight=False, soft_wrap=True)


def _export_to(db: ResponseStore, out: Path, skipped: list[Unreadable]) -> int:
    """Write the export to ``out`` atomically (a temporary file renamed into place), gzip if it ends with .gz."""
    count = 0

    def write(tmp: str) -> None:
        nonlocal count
        with open(tmp, "wb") as raw:
            binary = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if out.name.endswith(".gz") else raw
            with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as handle:
                count = db.export_jsonl(handle, skipped)

    atomic_write(out, write)
    return count


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="JSONL file written by `mentor llm export` (or its gzip).")],
    store: StoreOption = None,
) -> None:
    """Add the answers of an exported file to the store (all or nothing; existing keys are kept)."""
    with user_errors():
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such file")
        with ResponseStore(store or default_store_path()) as db:
            added, present = db.import_jsonl((line for _, line in utf8_lines(source)), name=str(source))
    stderr.print(f"imported {added} answers from {safe_markup(str(source))} ({present} already in the store)",
                 highlight=False, soft_wrap=True)  # fmt: skip


@app.command()
def claims(
    store: StoreOption = None,
    release: Annotated[
        bool, typer.Option("--release", help="Drop the claims (all, or --owner's); a process still asking pays again.")
    ] = False,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Only this owner's claims (host:pid:run).")] = None,
) -> None:
    """The requests other processes are asking right now (claims), and who holds them; --release frees them.

    A claim lapses by itself when its owner stops renewing it (30 s), so releasing is only needed to stop waiting
    at once."""
    with user_errors():
        path = _existing(store)
        with ResponseStore(path, readonly=not release) as db:
            held = [claim for claim in db.claims() if owner is None or claim.owner == owner]
            released = db.release_claims(owner) if release else 0
    if release:
        stdout.print(f"released {released} claim(s) in {safe_markup(str(path))}", highlight=False, soft_wrap=True)
        return
    if not held:
        stdout.print(f"no claims in {safe_markup(str(path))}", highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Claims in {path}")
    for column in ("owner (host:pid:run)", "requests", "renewed until"):
        table.add_column(column)
    for name in sorted({claim.owner for claim in held}):
        mine = [claim for claim in held if claim.owner == name]
        until = max(claim.expires for claim in mine)
        state = "lapsed" if until < time.time() else "live"
        table.add_row(escape(name), str(len(mine)), f"{time.strftime('%H:%M:%S', time.localtime(until))} ({state})")
    stdout.print(table)


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
