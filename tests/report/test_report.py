"""The HTML report: what it shows for consult and distill runs, comparisons, escaping, and bad run directories."""

import json
import re

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.errors import DataError
from mentor.report import ReportError, load_run, render_report, write_report
from tests.report.conftest import INJECTED, consult_run

runner = CliRunner()


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="(data:image/svg\+xml;base64,[^"]+)"', html)


def test_a_gated_run_shows_headline_figures_rounds_and_every_consulted_node(gated_run):
    run = load_run(gated_run)
    html = render_report([run])
    assert run.kind == "consult-gated"
    assert len(_images(html)) == 4  # accuracy bars, accuracy vs calls, calibration, where the time went
    for text in ("never-asked test nodes", "answered test nodes", "LLM answers", "Rounds", "Gate:"):
        assert text in html
    records = [json.loads(line) for line in (gated_run / "consultations.jsonl").read_text().splitlines()]
    assert html.count("<tr><td>calibration</td>") + html.count("<tr><td>round ") == len(records)
    assert {"calibration", "cascade + pseudo-label"} <= {r["action"] for r in records}
    assert ">explanation</th>" not in html  # the gated default asks for the label alone


def test_explanations_are_shown_where_the_run_asked_for_them(tmp_path):
    run = consult_run(tmp_path / "augmented", tmp_path / "store.sqlite", augment=True)
    html = render_report([load_run(run)])
    records = [json.loads(line) for line in (run / "consultations.jsonl").read_text().splitlines()]
    assert "cascade + pseudo-label + text augmented" in {r["action"] for r in records}
    assert ">explanation</th>" in html and "The words point to" in html


def test_node_texts_and_answers_are_shown_as_text_never_as_markup(gated_run):
    html = render_report([load_run(gated_run)])
    assert INJECTED not in html and "PWNED" in html  # present, escaped
    assert "&lt;script&gt;document.title=&#34;PWNED&#34;&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own table script, nothing else


def test_the_page_needs_no_network(gated_run, distill_run):
    html = render_report([load_run(gated_run), load_run(distill_run)])
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "@import" not in html


def test_a_distill_run_shows_loss_curves_accuracy_and_predictions(distill_run):
    run = load_run(distill_run)
    html = render_report([run])
    assert run.kind == "distill" and len(_images(html)) == 2
    assert "student test accuracy" in html and "40.0" in html and "74.0" in html
    assert "question 3" in html and INJECTED not in html


def test_several_runs_are_compared_with_the_settings_that_differ(tmp_path, gated_run):
    cascade_only = consult_run(tmp_path / "cascade", tmp_path / "store.sqlite", teach=False)
    html = render_report([load_run(gated_run), load_run(cascade_only)])
    comparison = html.split('<h2 id="run-1">')[0]
    assert "Comparison" in comparison and "Settings that differ" in comparison
    assert "<td>teach</td><td>true</td><td>false</td>" in comparison
    assert len(_images(comparison)) == 1  # the overlaid accuracy-vs-calls curves


def test_a_directory_that_is_not_a_run_is_named_in_the_error(tmp_path):
    with pytest.raises(ReportError, match="no result.json"):
        load_run(tmp_path)
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(DataError, match=r"result.json, line 1: not valid JSON"):
        load_run(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps({"what": "else"}))
    with pytest.raises(ReportError, match="neither a consult run"):
        load_run(tmp_path)


def test_cli_writes_the_page_and_fails_cleanly(tmp_path, gated_run):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(gated_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    missing = runner.invoke(app, ["report", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 1 and "not a directory" in missing.output and "Traceback" not in missing.output


def test_write_report_is_atomic_and_readable_by_others(tmp_path, gated_run):
    out = write_report([gated_run], tmp_path / "r.html")
    assert out.stat().st_mode & 0o044  # not the 0600 of a temporary file
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_gated_run_says_where_its_time_went(gated_run):
    from tests.report.conftest import TIMINGS

    result = json.loads((gated_run / "result.json").read_text())
    time = result["totals"]["llm_time"]
    answers = result["totals"]["calls"]
    assert time["timed"] == answers and time["model_s"] == pytest.approx(answers * TIMINGS.model_s)
    assert time["prefill_s"] == pytest.approx(answers * 1.2) and time["decode_s"] == pytest.approx(answers * 0.6)
    assert time["other_s"] == pytest.approx(answers * 0.2) and time["prompt_eval_tokens"] == answers * 60
    assert result["totals"]["train_seconds"] > 0
    page = render_report([load_run(gated_run)])
    assert "Where the time went" in page
