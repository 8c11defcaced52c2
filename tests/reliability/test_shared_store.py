"""Two processes on one response store pay once for each request (claims), and a dead process's claim is taken
over at once."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig, ResponseStore
from tests.llm.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_on_one_store_send_each_request_once(tmp_path):
    store, count = tmp_path / "shared.sqlite", 40
    ResponseStore(store).close()  # created once, before both start
    with FaultServer(delay_s=0.1) as server:
        command = [sys.executable, "-m", "tests.reliability.store_worker", server.base_url, str(store), str(count)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(2)]
        assert [w.wait(timeout=120) for w in workers] == [0, 0]
        sent = server.count("shared")
    assert sent == count  # without claims: up to 2 × count
    with ResponseStore(store) as db:
        assert len(db) == count


def test_a_claim_of_a_process_that_is_gone_is_taken_over(tmp_path, fault_server):
    store = tmp_path / "s.sqlite"
    request = ChatRequest.from_prompt("orphan [answer:b]", output=Labels(labels=("a", "b")))
    config = LLMConfig(llm="openai:fake", base_url=fault_server.base_url, timeout_s=60)
    with LLMClient(config, store=store) as client:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        key = request.key(client.identity)
        assert client.store.claim(key, f"{socket.gethostname()}:{dead.pid}:killed-run", 3600)
        started = time.monotonic()
        result = client.complete(request)
    assert result.ok and result.label == "b" and time.monotonic() - started < 5
