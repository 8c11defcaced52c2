"""``mentor report``: one self-contained HTML page for one run, or a comparison of several."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mentor.cli.errors import user_errors
from mentor.outputs import prepare_output_dir
from mentor.report import write_report

stderr = Console(stderr=True)


def report(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (the --out of mentor consult or distill).")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one HTML page (figures inlined, no network needed) for the runs: headline, figures, rounds, the
    consulted nodes or test predictions; with several runs, a comparison and the settings that differ."""
    with user_errors():
        if out.is_dir():
            raise ValueError(f"--out {out}: a directory; give the HTML file to write")
        prepare_output_dir(out.parent if str(out.parent) else Path("."))
        written = write_report(runs, out)
    stderr.print(f"wrote {written} ({len(runs)} run{'s' if len(runs) > 1 else ''})", highlight=False)
