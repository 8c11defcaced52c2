"""The report page: the runs' figures and tables through one jinja2 template (autoescaped: node texts, model
answers and file names are shown as text, never as markup)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from mentor import outputs
from mentor.report import plots
from mentor.report.runs import Run, load_run

#: Rows of the consulted-node and prediction tables (a page stays light; the JSONL files hold everything).
MAX_ROWS = 2000


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _environment() -> Environment:
    # A field a run lacks (an older or partial result.json) shows as "–" or nothing, never stops the page:
    # ChainableUndefined lets ``r.before.test.acc`` be looked up when ``r.before`` is missing.
    env = Environment(loader=PackageLoader("mentor.report", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True, undefined=ChainableUndefined)  # fmt: skip
    env.filters["pct"] = lambda v: f"{100 * v:.1f}" if _number(v) else "–"
    env.filters["num"] = lambda v, digits=0: f"{v:,.{digits}f}" if _number(v) else "–"
    return env


def run_section(run: Run) -> dict[str, Any]:
    """Everything the template shows for one run."""
    section: dict[str, Any] = {"run": run, "name": run.name, "kind": run.kind, "headline": run.headline,
                               "config": run.config, "figures": [], "records": run.records[:MAX_ROWS],
                               "more_records": max(0, len(run.records) - MAX_ROWS)}  # fmt: skip
    figures = section["figures"]
    if run.kind.startswith("consult"):
        r = run.result
        totals = r.get("totals") or {}
        section["totals"] = totals
        section["rounds"] = r.get("rounds") or []
        section["failures"] = totals.get("failures") or {}
        section["gate"] = r.get("gate")
        section["scores"] = [(label, r.get(key)) for label, key in (("GNN alone", "before"),
                             ("GNN after teaching", "after_gnn"), ("final", "after")) if r.get(key)]  # fmt: skip
        section["actions"] = Counter(c.get("action") or "none" for c in run.records)
        for title, uri in (
            ("Test accuracy: all, answered and never-asked test nodes", plots.accuracy_bars(run)),
            ("Accuracy against LLM answers used", plots.accuracy_vs_calls([run])),
            ("The gate's calibration: LLM and GNN accuracy by GNN confidence", plots.calibration(run)),
            ("Where the time went", plots.time_spent(run)),
        ):
            if uri:
                figures.append({"title": title, "uri": uri})
    else:
        data = run.result.get("data") or {}
        section["data"] = data
        section["scorer_check"] = data.get("scorer_check")
        for title, uri in (("Training loss per step", plots.loss_curves([run])),
                           ("Student against teacher", plots.distill_accuracy(run))):  # fmt: skip
            if uri:
                figures.append({"title": title, "uri": uri})
    return section


def config_differences(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The settings whose values differ between the runs (one row per setting)."""
    keys = sorted({k for run in runs for k in run.config})
    rows = []
    for key in keys:
        values = [json.dumps(run.config.get(key), ensure_ascii=False, sort_keys=True) for run in runs]
        if len(set(values)) > 1:
            rows.append({"key": key, "values": values})
    return rows


def render_report(runs: Sequence[Run]) -> str:
    """The HTML page for ``runs`` (one: its report; several: a comparison, then each run's report)."""
    if not runs:
        raise ValueError("no runs to report on")
    comparison = None
    if len(runs) > 1:
        consult = [r for r in runs if r.kind.startswith("consult")]
        distill = [r for r in runs if r.kind == "distill"]
        curves = (("Accuracy against LLM answers used, all consult runs", consult and plots.accuracy_vs_calls(consult)),
                  ("Training loss, all distill runs", distill and plots.loss_curves(distill)))  # fmt: skip
        overlaid = [{"title": title, "uri": uri} for title, uri in curves if uri]
        comparison = {"rows": [(run, run.headline) for run in runs], "differences": config_differences(runs),
                      "figures": overlaid}  # fmt: skip
    template = _environment().get_template("report.html.j2")
    return template.render(sections=[run_section(run) for run in runs], comparison=comparison,
                           created=datetime.now(UTC).isoformat(timespec="seconds"),
                           versions=outputs.versions(("matplotlib", "jinja2")))  # fmt: skip


def write_report(run_dirs: Sequence[str | Path], out: Path) -> Path:
    """Load the runs in ``run_dirs`` and write their report to ``out`` (atomically)."""
    runs = [load_run(d) for d in run_dirs]
    outputs.write_text(out, render_report(runs))
    return out


__all__ = ["MAX_ROWS", "config_differences", "render_report", "run_section", "write_report"]
