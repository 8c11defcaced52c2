"""The ``mentor`` command line."""

from __future__ import annotations

import typer

from mentor import __version__
from mentor.cli.consult import baseline_app, consult
from mentor.cli.distill import app as distill_app
from mentor.cli.graph import data_app, train
from mentor.cli.llm import app as llm_app
from mentor.cli.predict import predict
from mentor.cli.report import report

app = typer.Typer(
    name="mentor",
    help="Large-small model collaborative training: a small model does the work, a large model is consulted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(llm_app, name="llm")
app.add_typer(data_app, name="data")
app.command()(train)
app.command()(consult)
app.command()(predict)
app.add_typer(baseline_app, name="baseline")
app.add_typer(distill_app, name="distill")
app.command()(report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mentor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """mentor: large-small model collaborative training."""


def main() -> None:
    app()
