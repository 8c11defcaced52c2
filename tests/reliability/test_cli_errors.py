"""Hostile run directories and model directories get one clear line (the file, the field, what was expected),
exit 1, no traceback and no half-written output; a user's path the operating system refuses does too."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mentor.cli import app
from mentor.cli.errors import user_errors
from tests.reliability.planted import planted_pickle
from tests.report.conftest import consult_run

runner = CliRunner()


# -- mentor report on crafted run directories -------------------------------------------------------------------

DISTILL = {"task": "svamp", "mode": "step-by-step", "teacher": "recorded", "student": "smollm2-135m",
           "test_accuracy": 0.4, "validation_accuracy": 0.45, "teacher_test_accuracy": {"accuracy": 0.74},
           "data": {"train_used": 36, "with_rationale": 30, "filtered_by_scorer": 0, "scorer_check": None},
           "loss_coefficients": {"predict": 0.5, "explain": 0.5},
           "training": {"steps": 2, "train_loss": 0.3,
                        "loss_history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}]},
           "seconds": 12.5, "config": {"mode": "step-by-step"}}  # fmt: skip


@pytest.fixture(scope="module")
def gated(tmp_path_factory) -> Path:
    """A real gated consult run (the good shape the crafted ones are made from)."""
    base = tmp_path_factory.mktemp("good")
    return consult_run(base / "gated", base / "store.sqlite")


@pytest.fixture(scope="module")
def login(tmp_path_factory) -> Path:
    """A real login consult run."""
    from mentor.consult import ConsultConfig, make_consultation, summary, write_outputs
    from mentor.graph import make_synthetic
    from mentor.llm import LLMClient, LLMConfig
    from tests.consult.scripted import ScriptedConsultant, always_right

    base = tmp_path_factory.mktemp("login")
    graph = make_synthetic(num_nodes=150, num_classes=3, homophily=0.7, seed=4)
    config = ConsultConfig(dataset="synthetic", strategy="login", features="bow", rounds=2, max_calls=12, epochs=40,
                           patience=20)  # fmt: skip
    backend = ScriptedConsultant(graph, always_right(graph), confidence=lambda node: 0.8)
    with LLMClient(LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1"), store=base / "store.sqlite",
                   backend=backend) as client:  # fmt: skip
        result = make_consultation(config, client, graph=graph, progress=False).run()
        write_outputs(base / "login", result, summary(result, client, 1.0))
    return base / "login"


def test_real_runs_fit_the_shape_the_report_reads(tmp_path, gated, login):
    result, out = _report(tmp_path, gated, login, _run_dir(tmp_path, gated, "distill"))
    assert result.exit_code == 0, result.output
    assert out.read_text().count('<span class="kind">') == 3


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("rounds.1.calls", "3", "field 'rounds[1].calls': expected a number, got a string (\"3\")"),
        ("rounds.1.metrics", [], "field 'rounds[1].metrics': expected a JSON object, got a list"),
        ("rounds.0.metrics.test.acc", {}, "field 'rounds[0].metrics.test.acc': expected a number, got a JSON object"),
    ],
)
def test_a_crafted_login_result_is_one_line(tmp_path, login, path, value, expected):
    run = tmp_path / "run"
    shutil.copytree(login, run)
    result_json = json.loads((run / "result.json").read_text())
    _set(result_json, path, value)
    (run / "result.json").write_text(json.dumps(result_json))
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, str(run / "result.json"), expected)


def _run_dir(tmp_path: Path, gated: Path, kind: str) -> Path:
    run = tmp_path / "run"
    if kind == "gated":
        shutil.copytree(gated, run)
    else:
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps(DISTILL))
        (run / "predictions.jsonl").write_text(json.dumps({"id": "t0", "input": "q", "answer": "1", "gold": "1",
                                                           "correct": True}) + "\n")  # fmt: skip
    return run


def _set(document: dict, path: str, value) -> None:
    *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
    for key in parents:
        document = document[key]
    if value is _DELETE:
        del document[last]
    else:
        document[last] = value


class _Delete:
    def __repr__(self) -> str:
        return "(deleted)"


_DELETE = _Delete()

# (kind of run, field changed in result.json, its new value, what the one line must say)
CRAFTED = [
    ("gated", "config", [], "field 'config': expected a JSON object, got a list"),
    ("gated", "before.test.acc", "x", "field 'before.test.acc': expected a number, got a string (\"x\")"),
    ("gated", "after.test", 0.5, "field 'after.test': expected a JSON object, got a number (0.5)"),
    ("gated", "totals", [], "field 'totals': expected a JSON object, got a list"),
    ("gated", "totals.calls", "12", "field 'totals.calls': expected a number, got a string (\"12\")"),
    ("gated", "totals.failures", ["timeout"], "field 'totals.failures': expected a JSON object, got a list"),
    ("gated", "rounds", {"0": {}}, "field 'rounds': expected a list, got a JSON object"),
    ("gated", "rounds.0", 7, "field 'rounds[0]': expected a JSON object, got a number (7)"),
    ("gated", "rounds.0.val_acc", True, "field 'rounds[0].val_acc': expected a number, got true"),
    ("gated", "gate", "open", "field 'gate': expected a JSON object, got a string (\"open\")"),
    ("gated", "llm", ["x"], "field 'llm': expected a JSON object, got a list"),
    ("gated", "dataset", {"name": "x"}, "field 'dataset': expected a string, number, true/false or null"),
    ("gated", "before.test.acc", 10**400, "field 'before.test.acc': expected a number, got a number (1000"),
    (
        "gated",
        "before.test.acc",
        float("inf"),
        "field 'before.test.acc': expected a finite number, got a number (Infinity)",
    ),
    (
        "gated",
        "rounds.1.val_acc",
        float("nan"),
        "field 'rounds[1].val_acc': expected a finite number, got a number (NaN)",
    ),
    ("gated", "after", _DELETE, "field 'after': missing (the report needs it)"),
    ("gated", "after", None, "field 'after': expected a JSON object, got null"),
    ("gated", "strategy", "magic", 'field \'strategy\': expected "gated" or "login", got a string ("magic")'),
    ("distill", "teacher_test_accuracy", 0.7, "field 'teacher_test_accuracy': expected a JSON object, got a number"),
    ("distill", "training", [], "field 'training': expected a JSON object, got a list"),
    ("distill", "training.loss_history", [{"loss": 1.0}], "field 'training.loss_history[0].step': missing"),
    ("distill", "training.loss_history", "1,2", "field 'training.loss_history': expected a list, got a string"),
    ("distill", "test_accuracy", "40%", "field 'test_accuracy': expected a number, got a string (\"40%\")"),
    ("distill", "data", "x", "field 'data': expected a JSON object, got a string"),
    ("distill", "data.scorer_check", [1], "field 'data.scorer_check': expected a JSON object, got a list"),
    ("distill", "task", _DELETE, "field 'task': missing (the report needs it)"),
]


def _report(tmp_path: Path, *runs: Path):
    out = tmp_path / "page" / "report.html"
    result = runner.invoke(app, ["report", *map(str, runs), "--out", str(out)])
    return result, out


def _one_clear_line(result, out: Path, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()  # no page, not even half of one
    assert not out.parent.exists() or not list(out.parent.glob(".*.tmp"))


@pytest.mark.parametrize(("kind", "path", "value", "expected"), CRAFTED, ids=[f"{k}:{p}={v!r:.20}" for k, p, v, _ in
                                                                              CRAFTED])  # fmt: skip
def test_a_crafted_result_json_is_one_line_naming_the_file_and_field(tmp_path, gated, kind, path, value, expected):
    run = _run_dir(tmp_path, gated, kind)
    result_json = json.loads((run / "result.json").read_text())
    _set(result_json, path, value)
    (run / "result.json").write_text(json.dumps(result_json))
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, str(run / "result.json"), expected)


def test_nested_nulls_and_missing_optional_fields_still_give_a_page(tmp_path, gated):
    run = _run_dir(tmp_path, gated, "gated")
    result_json = json.loads((run / "result.json").read_text())
    result_json.update(after={"test": None, "test_not_consulted": {"acc": None}}, before={"val": None},
                       after_gnn=None, llm=None, gate={"calibration": None}, seconds=None, config=None,
                       totals={"calls": None, "failures": None},
                       rounds=[{"val_acc": None, "gate": None}, {}])  # fmt: skip
    (run / "result.json").write_text(json.dumps(result_json))
    distill = _run_dir(tmp_path / "d", gated, "distill")
    (distill / "result.json").write_text(json.dumps({"task": None, "mode": None, "test_accuracy": None,
                                                     "teacher_test_accuracy": None, "data": None,
                                                     "training": {"loss_history": None}}))  # fmt: skip
    result, out = _report(tmp_path, run, distill)
    assert result.exit_code == 0, result.output
    assert "</html>" in out.read_text()


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ('{"phase": "calibration", "gnn_confidence": "high"}', "line 1, field 'gnn_confidence': expected a number"),
        ('{"action": ["cascade"]}', "line 1, field 'action': expected a string, got a list"),
        ('{"pruned_neighbours": 3}', "line 1, field 'pruned_neighbours': expected a list, got a number (3)"),
        ("{}\n[1]", "line 2: expected a JSON object, got list"),
    ],
)
def test_a_crafted_records_file_is_one_line_naming_the_line_and_field(tmp_path, gated, records, expected):
    run = _run_dir(tmp_path, gated, "gated")
    (run / "consultations.jsonl").write_text(records + "\n")
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, str(run / "consultations.jsonl"), expected)


def test_result_json_that_is_no_json_object_file(tmp_path, gated):
    run = _run_dir(tmp_path, gated, "gated")
    cases = {
        "[]": "result.json: expected a JSON object, got a list",
        "null": "result.json: expected a JSON object, got null",
        "[" * 100_000: "result.json: JSON nested too deeply",
        '{"strategy": "gated", "before": ' + "9" * 5000 + "}": "result.json: not readable JSON",
    }
    for text, expected in cases.items():
        (run / "result.json").write_text(text)
        result, out = _report(tmp_path, run)
        _one_clear_line(result, out, expected)
    (run / "result.json").write_bytes(b'{"strategy": "gated", "dataset": "caf\xe9"}')
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, "result.json, line 1: not UTF-8: byte 0xe9")
    (run / "result.json").unlink()
    (run / "result.json").mkdir()
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, f"{run / 'result.json'}: not a file")


def test_a_records_file_that_is_a_directory_is_named(tmp_path, gated):
    run = _run_dir(tmp_path, gated, "gated")
    (run / "consultations.jsonl").unlink()
    (run / "consultations.jsonl").mkdir()
    result, out = _report(tmp_path, run)
    _one_clear_line(result, out, f"{run / 'consultations.jsonl'}: not a file")


def test_a_bad_run_among_good_ones_leaves_the_previous_page_untouched(tmp_path, gated):
    good = _run_dir(tmp_path, gated, "gated")
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "result.json").write_text(json.dumps({**json.loads((good / "result.json").read_text()), "totals": 3}))
    out = tmp_path / "report.html"
    out.write_text("previous page")
    result = runner.invoke(app, ["report", str(good), str(bad), "--out", str(out)])
    assert result.exit_code == 1 and "field 'totals'" in result.output
    assert out.read_text() == "previous page" and not list(tmp_path.glob(".*.tmp"))


def test_names_too_long_are_one_line(tmp_path, gated):
    long = "x" * 300
    result = runner.invoke(app, ["report", str(tmp_path / long)])
    assert result.exit_code == 1 and "File name too long" in result.output and long in result.output, result.output
    result = runner.invoke(app, ["report", str(gated), "--out", str(tmp_path / f"{long}.html")])
    assert result.exit_code == 1 and "File name too long" in result.output, result.output
    assert f"{long}.html:" in result.output and ".tmp" not in result.output  # the user's file, not a temporary one
    assert "Traceback" not in result.output


# -- mentor distill predict on crafted model directories -----------------------------------------------------------


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    from tests.distill.tiny import tiny_student

    return tiny_student(tmp_path_factory.mktemp("student") / "student")


def _predict(directory: Path):
    return runner.invoke(app, ["distill", "predict", str(directory), "what colour is the sea ?"])


@pytest.mark.parametrize("pickle_as", ["pytorch_model.bin", "model.pt"])
def test_a_pickled_student_is_refused_in_one_line_and_never_loaded(tmp_path, student, pickle_as):
    directory = tmp_path / "run" / "student"
    shutil.copytree(student, directory)
    (directory / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    (directory / pickle_as).write_bytes(planted_pickle(marker))
    for given in (directory, directory.parent):  # the student or the run directory above it
        result = _predict(given)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [
            f"error: {directory}: no safetensors weights (expected model.safetensors); found {pickle_as}: "
            "pickled weights are never loaded"
        ]
    assert not marker.exists()


def test_a_torch_saved_student_is_refused_too(tmp_path, student):
    import torch
    from safetensors.torch import load_file

    directory = tmp_path / "student"
    shutil.copytree(student, directory)
    torch.save(load_file(directory / "model.safetensors"), directory / "pytorch_model.bin")
    (directory / "model.safetensors").unlink()
    result = _predict(directory)
    assert result.exit_code == 1 and "pickled weights are never loaded" in result.output, result.output


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("empty", "{d}: no trained student here (expected config.json)"),
        ("config-not-json", "{d}/config.json, line 1: not valid JSON"),
        ("config-a-list", "{d}/config.json: expected a JSON object, got list"),
        ("config-a-directory", "{d}/config.json: not a file"),
        ("no-model-type", "{d}/config.json, field 'model_type': expected a string naming the architecture"),
        ("weights-garbage", "{d}: cannot load the student: Error while deserializing header"),
        ("weights-a-directory", "{d}/model.safetensors: not a file"),
        ("no-tokenizer", "{d}: cannot load the student: "),
        ("answering-not-json", "{d}/answering.json, line 1: not valid JSON"),
        ("answering-bad", "{d}/answering.json, field 'max_new_tokens': Input should be greater than or equal to 1"),
        ("a-file", "{d}: not a directory"),
    ],
)
def test_a_broken_student_directory_is_one_line(tmp_path, student, damage, expected):
    d = tmp_path / "student"
    shutil.copytree(student, d)
    config = d / "config.json"
    if damage == "empty":
        shutil.rmtree(d)
        d.mkdir()
    elif damage == "config-not-json":
        config.write_text("{not json")
    elif damage == "config-a-list":
        config.write_text("[]")
    elif damage == "config-a-directory":
        config.unlink()
        config.mkdir()
    elif damage == "no-model-type":
        config.write_text("{}")
    elif damage == "weights-garbage":
        (d / "model.safetensors").write_bytes(b"garbage")
    elif damage == "weights-a-directory":
        (d / "model.safetensors").unlink()
        (d / "model.safetensors").mkdir()
    elif damage == "no-tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (d / name).unlink()
    elif damage == "answering-not-json":
        (d / "answering.json").write_text("{")
    elif damage == "answering-bad":
        (d / "answering.json").write_text('{"max_new_tokens": 0}')
    elif damage == "a-file":
        shutil.rmtree(d)
        d.write_text("not a directory")
    result = _predict(d)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + expected.format(d=d)), result.output


# -- user_errors and the operating system -------------------------------------------------------------------------


def _exit_of(error: BaseException, capsys) -> tuple[int | None, str]:
    try:
        with user_errors():
            raise error
    except typer.Exit as exit_:
        return exit_.exit_code, capsys.readouterr().err
    return None, ""


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), "/runs/" + "x" * 300),
        IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/runs/out"),
        NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/runs/out"),
        PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/runs/out"),
        OSError(errno.EROFS, os.strerror(errno.EROFS), "/runs/out"),
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/out"),
        OSError(errno.ELOOP, os.strerror(errno.ELOOP), "/runs/out"),
    ],
    ids=lambda e: errno.errorcode[e.errno],
)
def test_os_errors_about_a_user_s_path_are_one_line_with_the_path(error, capsys):
    code, err = _exit_of(error, capsys)
    assert code == 1
    assert err.strip() == f"error: {error.filename}: {error.strerror}"


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(errno.ECONNRESET, "reset"),
        OSError("a bug"),
        OSError(errno.EBADF, "Bad file descriptor"),
        TypeError("a bug"),
        AttributeError("a bug"),
    ],  # fmt: skip
    ids=repr,
)
def test_other_errors_stay_tracebacks(error, capsys):
    with pytest.raises(type(error)):
        with user_errors():
            raise error
