"""``mentor.report``: one self-contained HTML page for one run or a comparison of several."""

from mentor.report.page import render_report, write_report
from mentor.report.runs import ReportError, Run, load_run

__all__ = ["ReportError", "Run", "load_run", "render_report", "write_report"]
