"""Reading a run directory: ``result.json`` and its records, whatever wrote them (consult or distill).

A run directory may come from anyone, so its files are checked once, here, against the shape the report reads
(:class:`GatedResult`, :class:`LoginResult`, :class:`DistillResult` and their records): a file that does not fit
is a :class:`ReportError` naming the file, the field and what was expected, and the page is never half-drawn."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from mentor.errors import DataError
from mentor.readers import json_document, jsonl_objects

Kind = Literal["consult-gated", "consult-login", "distill"]
#: The records file of each kind of run.
RECORDS = {"consult-gated": "consultations.jsonl", "consult-login": "consultations.jsonl",
           "distill": "predictions.jsonl"}  # fmt: skip


class ReportError(DataError):
    """A directory that is not a run mentor can report on."""


# -- the shape of what the report reads ------------------------------------------------------------------------
# Strict: a number is a finite JSON number (never a string, true/false, NaN or Infinity), an object a JSON object.
# Fields the report only prints may be any scalar; fields it computes with are typed. Other fields are left alone.


def _scalar(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise PydanticCustomError("scalar_type", "expected a string, number, true/false or null")
    return value


#: A value the page shows as text.
Scalar = Annotated[Any, AfterValidator(_scalar)]
#: A number the page computes with or formats (null where there is none).
Number = float | None


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)


class Metrics(_Shape):
    acc: Number = None
    nodes: Number = None


#: Scores by part (``val``, ``test``, ``test_consulted`` …); a part with no nodes is null.
Scores = dict[str, Metrics | None]


class LLMInfo(_Shape):
    model: Scalar = None


class GateDecision(_Shape):
    reason: Scalar = None


class Gate(_Shape):
    open: Scalar = None
    calibration: GateDecision | None = None


class Totals(_Shape):
    calls: Number = None
    new_calls: Number = None
    requests: Number = None
    calibration_calls: Number = None
    prompt_tokens: Number = None
    completion_tokens: Number = None
    cost: Number = None
    spent_cost: Number = None
    spent_llm_seconds: Number = None
    failures: dict[str, Scalar] | None = None


class GatedRound(_Shape):
    round: Scalar = None
    asked: Scalar = None
    answered: Number = None
    accepted: Scalar = None
    pseudo_labels: Scalar = None
    texts_augmented: Scalar = None
    val_acc: Number = None
    kept: Scalar = None
    gate: GateDecision | None = None


class LoginRound(_Shape):
    round: Scalar = None
    consulted: Scalar = None
    answered: Scalar = None
    llm_correct: Scalar = None
    texts_augmented: Scalar = None
    edges_pruned: Scalar = None
    calls: Number = None
    metrics: Scores | None = None


class _ConsultResult(_Shape):
    dataset: Scalar
    model: Scalar
    split: Scalar = None
    llm: LLMInfo | None = None
    before: Scores
    after: Scores
    totals: Totals
    seconds: Number = None
    config: dict[str, Any] | None = None


class GatedResult(_ConsultResult):
    """``result.json`` of a gated consult run, as far as the report reads it."""

    strategy: Literal["gated"]
    after_gnn: Scores | None = None
    gate: Gate | None = None
    rounds: list[GatedRound]


class LoginResult(_ConsultResult):
    """``result.json`` of a login consult run, as far as the report reads it."""

    strategy: Literal["login"]
    rounds: list[LoginRound]


class TeacherAccuracy(_Shape):
    accuracy: Number = None


class DistillData(_Shape):
    train_used: Scalar = None
    with_rationale: Scalar = None
    filtered_by_scorer: Scalar = None
    scorer_check: dict[str, Any] | None = None


class LossPoint(_Shape):
    step: float


class Training(_Shape):
    steps: Scalar = None
    train_loss: Scalar = None
    loss_history: list[LossPoint] | None = None


class DistillResult(_Shape):
    """``result.json`` of a distill run, as far as the report reads it."""

    task: Scalar
    mode: Scalar
    teacher: Scalar = None
    student: Scalar = None
    test_accuracy: Number  # required; null when no test item was scored
    validation_accuracy: Number = None
    teacher_test_accuracy: TeacherAccuracy | None = None
    data: DistillData | None = None
    training: Training | None = None
    seconds: Number = None
    config: dict[str, Any] | None = None


class Consultation(_Shape):
    """One line of ``consultations.jsonl``."""

    phase: Scalar = None
    round: Scalar = None
    node_id: Scalar = None
    text: Scalar = None
    answer: Scalar = None
    explanation: Scalar = None
    correct: Scalar = None
    gnn_prediction: Scalar = None
    gnn_confidence: Number = None
    gnn_correct: Scalar = None
    llm_confidence: Number = None
    action: str | None = None
    combined: Scalar = None
    failure: Scalar = None
    pruned_neighbours: list[Any] | None = None


class Prediction(_Shape):
    """One line of ``predictions.jsonl``."""

    id: Scalar = None
    input: Scalar = None
    answer: Scalar = None
    gold: Scalar = None
    correct: Scalar = None


SHAPES: dict[Kind, type[_Shape]] = {"consult-gated": GatedResult, "consult-login": LoginResult,
                                     "distill": DistillResult}  # fmt: skip
RECORD_SHAPES: dict[Kind, type[_Shape]] = {"consult-gated": Consultation, "consult-login": Consultation,
                                           "distill": Prediction}  # fmt: skip

#: What each kind of pydantic error expected, in the words of JSON.
_EXPECTED = {"float_type": "a number", "string_type": "a string", "dict_type": "a JSON object",
             "model_type": "a JSON object", "list_type": "a list", "bool_type": "true or false",
             "finite_number": "a finite number"}  # fmt: skip


def _describe(value: Any) -> str:
    """A JSON value in a few words, on one line (printable ASCII only)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a list"
    kind = "a string" if isinstance(value, str) else "a number"
    try:
        text = json.dumps(value)  # ASCII, control characters escaped
    except ValueError:  # an integer longer than Python prints
        return kind
    return f"{kind} ({text[:40]}…)" if len(text) > 40 else f"{kind} ({text})"


def _field(location: tuple[str | int, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _shape_error(error: ValidationError, file: Path, line: int | None = None) -> ReportError:
    """The first problem of ``error`` (and how many more) as one line naming the file, line and field."""
    problems = error.errors(include_url=False)
    first = problems[0]
    if first["type"] == "missing":
        message = "missing (the report needs it)"
    elif first["type"] in _EXPECTED:
        message = f"expected {_EXPECTED[first['type']]}, got {_describe(first['input'])}"
    else:
        message = f"{first['msg']}, got {_describe(first['input'])}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ReportError(message, file=file, line=line, field=_field(first["loc"]) or None)


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
    """The run in ``path`` (a directory written by ``mentor consult`` or ``mentor distill``), its files checked
    against the shape the report reads."""
    path = Path(path)
    result_path = path / "result.json"
    if not path.is_dir():
        raise ReportError("not a directory (expected a run's --out directory)", file=path)
    if result_path.exists() and not result_path.is_file():
        raise ReportError("not a file (expected the run's JSON result)", file=result_path)
    if not result_path.is_file():
        raise ReportError("no result.json: not a finished mentor run", file=path)
    result = _read(result_path, json_document)
    if not isinstance(result, dict):
        raise ReportError(f"expected a JSON object, got {_describe(result)}", file=result_path)
    kind = _kind(result, result_path)
    try:
        SHAPES[kind].model_validate(result)
    except ValidationError as error:
        raise _shape_error(error, result_path) from None
    records_path = path / RECORDS[kind]
    records = []
    if records_path.exists() and not records_path.is_file():
        raise ReportError("not a file (expected JSON Lines, one record a line)", file=records_path)
    if records_path.is_file():
        shape = RECORD_SHAPES[kind]
        for number, record in _read(records_path, lambda p: list(jsonl_objects(p))):
            try:
                shape.model_validate(record)
            except ValidationError as error:
                raise _shape_error(error, records_path, number) from None
            records.append(record)
    return Run(path=path, kind=kind, result=result, records=records)


def _read(path: Path, read: Any) -> Any:
    """``read(path)``, with the failures of Python's JSON parser on hostile input named as the file's."""
    try:
        return read(path)
    except RecursionError:
        raise ReportError("JSON nested too deeply", file=path) from None
    except DataError:
        raise
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise ReportError(f"not readable JSON ({error})", file=path) from None


def _kind(result: dict[str, Any], path: Path) -> Kind:
    strategy = result.get("strategy")
    if strategy in ("gated", "login"):
        return "consult-gated" if strategy == "gated" else "consult-login"
    if "strategy" in result:
        raise ReportError(f'expected "gated" or "login", got {_describe(strategy)}', file=path, field="strategy")
    if "mode" in result and "test_accuracy" in result:
        return "distill"
    raise ReportError("neither a consult run (no 'strategy') nor a distill run (no 'mode')", file=path)


__all__ = ["RECORDS", "DistillResult", "GatedResult", "Kind", "LoginResult", "ReportError", "Run", "load_run"]
