"""Killing a distillation run (SIGKILL) after a checkpoint and starting it again resumes from that checkpoint and
gives the same student as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start(colours: Path, student: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.distill.resume_worker", str(colours), str(student), str(out)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_then_restart_resumes_and_matches(colours, student_dir, tmp_path):
    reference = tmp_path / "uninterrupted"
    assert _start(colours, student_dir, reference).wait(timeout=600) == 0
    interrupted = tmp_path / "interrupted"
    worker = _start(colours, student_dir, interrupted)
    deadline = time.monotonic() + 600
    # a checkpoint is complete once its trainer_state.json is written
    while not list((interrupted / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert worker.poll() is None, "the worker ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert not (interrupted / "result.json").exists()
    assert _start(colours, student_dir, interrupted).wait(timeout=600) == 0
    first, second = (json.loads((d / "result.json").read_text()) for d in (reference, interrupted))
    assert second["training"]["resumed_from"] is not None and first["training"]["resumed_from"] is None
    assert second["training"]["steps"] == first["training"]["steps"]
    assert second["test_accuracy"] == first["test_accuracy"]
    assert (interrupted / "predictions.jsonl").read_text() == (reference / "predictions.jsonl").read_text()
    assert second["training"]["best_validation_accuracy"] == first["training"]["best_validation_accuracy"]


def test_a_partly_written_checkpoint_is_passed_over(tmp_path):
    from mentor.distill.trainer import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "none") is None
    for step, complete in ((4, True), (12, True), (16, False)):  # killed while saving checkpoint-16
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-12")
