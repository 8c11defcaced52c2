"""A process killed mid-batch (SIGKILL) and started again repeats no completed call."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mentor.llm import ResponseStore
from tests.llm.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[2]
COUNT = 12


def _worker(server: FaultServer, store_path: Path, out: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tests.llm.resume_worker",
        server.base_url,
        str(store_path),
        str(COUNT),
        str(out),
    ]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _stored_prompts(store_path: Path) -> set[str]:
    with ResponseStore(store_path) as store:
        return {record["request"]["messages"][-1]["content"] for record in store.iter_records()}


def test_sigkill_mid_batch_then_restart_repeats_no_completed_call(tmp_path, store_path):
    out = tmp_path / "labels.json"
    with FaultServer(delay_s=0.25) as server:
        worker = _worker(server, store_path, out)
        deadline = time.monotonic() + 60
        while not (store_path.exists() and len(_stored_prompts(store_path)) >= 4):
            assert worker.poll() is None, "the worker finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert not out.exists()
        done_before_kill = _stored_prompts(store_path)
        assert 4 <= len(done_before_kill) < COUNT
        sent_before_restart = len(server.requests)

        assert _worker(server, store_path, out).wait(timeout=60) == 0
        resent = [r["prompt"] for r in server.requests[sent_before_restart:]]

    assert not set(resent) & done_before_kill, "a completed call was sent again"
    assert len(resent) <= COUNT - len(done_before_kill)
    assert json.loads(out.read_text()) == ["abc"[i % 3] for i in range(COUNT)]
    assert len(_stored_prompts(store_path)) == COUNT
