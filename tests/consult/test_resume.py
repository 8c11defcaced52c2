"""Killing a consultation run (SIGKILL) and starting it again repeats no completed LLM call and gives the same
result as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mentor.llm import ResponseStore

ROOT = Path(__file__).resolve().parents[2]


def _start(store: Path, out: Path, log: Path, strategy: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.consult.resume_worker", str(store), str(out), str(log), strategy]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)


def _comparable(out: Path) -> dict:
    payload = json.loads((out / "result.json").read_text())
    for key in ("seconds", "llm", "versions"):
        payload.pop(key)
    timings = ("new_calls", "requests", "llm_seconds", "spent_llm_seconds", "train_seconds", "feature_seconds")
    payload["totals"] = {k: v for k, v in payload["totals"].items() if k not in timings}
    for r in payload["rounds"]:
        for key in timings:
            r.pop(key, None)
    return payload


@pytest.mark.parametrize("strategy", ["login", "gated"])
def test_sigkill_then_restart_gives_the_uninterrupted_result(tmp_path, strategy):
    reference = _start(tmp_path / "ref.sqlite", tmp_path / "ref", tmp_path / "ref.log", strategy)
    assert reference.wait(timeout=300) == 0
    with ResponseStore(tmp_path / "ref.sqlite") as db:
        total = len(db)
    assert total >= 12

    store, out, log = tmp_path / "run.sqlite", tmp_path / "run", tmp_path / "run.log"
    worker = _start(store, out, log, strategy)
    deadline = time.monotonic() + 120
    while not (store.exists() and len(ResponseStore(store)) >= 8):
        assert worker.poll() is None, "finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert not (out / "result.json").exists()
    with ResponseStore(store) as db:
        answered_before = {json.dumps(r["request"], sort_keys=True) for r in db.iter_records()}
    asked_before = len(log.read_text().splitlines())

    assert _start(store, out, log, strategy).wait(timeout=300) == 0
    asked_after = log.read_text().splitlines()[asked_before:]
    with ResponseStore(store) as db:
        records = list(db.iter_records())
    assert len(records) == total
    # every prompt sent after the restart was one that had not been answered before the kill
    assert len(asked_after) == total - len(answered_before)
    assert _comparable(out) == _comparable(tmp_path / "ref")
