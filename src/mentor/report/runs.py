"""Reading a run directory: ``result.json`` and its records, whatever wrote them (consult or distill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mentor.errors import DataError
from mentor.readers import json_document, jsonl_objects

Kind = Literal["consult-gated", "consult-login", "distill"]
#: The records file of each kind of run.
RECORDS = {"consult-gated": "consultations.jsonl", "consult-login": "consultations.jsonl",
           "distill": "predictions.jsonl"}  # fmt: skip


class ReportError(DataError):
    """A directory that is not a run mentor can report on."""


@dataclass
class Run:
    """One run directory: its ``result.json`` and the lines of its records file."""

    path: Path
    kind: Kind
    result: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        return self.result.get("config") or {}

    @property
    def headline(self) -> dict[str, Any]:
        """What a comparison table shows of this run."""
        r = self.result
        if self.kind == "distill":
            teacher = r.get("teacher_test_accuracy") or {}
            return {
                "what": f"{r.get('task')} · {r.get('mode')}",
                "before": None,
                "after": r.get("test_accuracy"),
                "teacher": teacher.get("accuracy"),
                "calls": None,
                "seconds": r.get("seconds"),
                "cost": None,
            }
        totals = r.get("totals") or {}
        after = (r.get("after") or {}).get("test") or {}
        before = (r.get("before") or {}).get("test") or {}
        return {"what": f"{r.get('dataset')} · {r.get('model')} · {r.get('strategy')}", "before": before.get("acc"),
                "after": after.get("acc"), "teacher": None, "calls": totals.get("calls"),
                "seconds": r.get("seconds"), "cost": totals.get("spent_cost", totals.get("cost"))}  # fmt: skip


def load_run(path: str | Path) -> Run:
    """The run in ``path`` (a directory written by ``mentor consult`` or ``mentor distill``)."""
    path = Path(path)
    result_path = path / "result.json"
    if not path.is_dir():
        raise ReportError("not a directory (expected a run's --out directory)", file=path)
    if not result_path.is_file():
        raise ReportError("no result.json: not a finished mentor run", file=path)
    result = json_document(result_path)
    if not isinstance(result, dict):
        raise ReportError("expected a JSON object", file=result_path)
    kind = _kind(result, result_path)
    records_path = path / RECORDS[kind]
    records = [record for _, record in jsonl_objects(records_path)] if records_path.is_file() else []
    return Run(path=path, kind=kind, result=result, records=records)


def _kind(result: dict[str, Any], path: Path) -> Kind:
    strategy = result.get("strategy")
    if strategy in ("gated", "login"):
        return "consult-gated" if strategy == "gated" else "consult-login"
    if "mode" in result and "test_accuracy" in result:
        return "distill"
    raise ReportError("neither a consult run (no 'strategy') nor a distill run (no 'mode')", file=path)


__all__ = ["RECORDS", "Kind", "ReportError", "Run", "load_run"]
