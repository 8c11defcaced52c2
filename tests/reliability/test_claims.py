"""Claims lapse unless renewed: a run resumed beside a claim nobody renews (another host's, a reused pid's) waits
at most about one lease, says that it waits, and two live processes still pay once."""

import asyncio
import logging
import os
import socket
import threading
import time

import pytest

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig
from mentor.llm import client as client_module
from tests.llm.fault_server import FaultServer

LEASE_S = 1.0
LABELS = Labels(labels=("a", "b"))


@pytest.fixture(autouse=True)
def short_lease(monkeypatch):
    monkeypatch.setattr(client_module, "CLAIM_LEASE_S", LEASE_S, raising=False)


def _config(server: FaultServer) -> LLMConfig:
    return LLMConfig(llm="openai:fake", base_url=server.base_url, timeout_s=30)


def _complete_within(client: LLMClient, request: ChatRequest, seconds: float):
    """The result, or a test failure (not a hang) when the client stalls for longer than ``seconds``."""
    future = asyncio.run_coroutine_threadsafe(client._complete(request), client._runner.loop)
    try:
        return future.result(timeout=seconds)
    except TimeoutError:
        future.cancel()
        pytest.fail(f"the request stalled for more than {seconds} s behind a claim nobody renews")


@pytest.mark.parametrize(
    "owner",
    [
        "ci-runner-7f3a:4242:an-earlier-run",  # another host (a restarted container, a store on a shared disk)
        f"{socket.gethostname()}:{os.getpid()}:an-earlier-run",  # a pid that is alive here, reused by another process
    ],
)
def test_a_claim_nobody_renews_lapses_within_a_lease(tmp_path, fault_server, owner, caplog):
    request = ChatRequest.from_prompt("resumed [answer:b]", output=LABELS)
    with LLMClient(_config(fault_server), store=tmp_path / "s.sqlite") as client:
        key = request.key(client.identity)
        assert client.store.claim(key, owner, 3600)  # as the old, long claims were written: an hour ahead
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="mentor.llm.client"):
            result = _complete_within(client, request, 8 * LEASE_S)
    assert result.ok and result.label == "b" and fault_server.count("resumed") == 1
    assert LEASE_S <= time.monotonic() - started < 4 * LEASE_S
    [notice] = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert owner in notice and "lapse by" in notice and "mentor llm claims --release" in notice


@pytest.mark.timeout(30)  # without leases: an hour
def test_the_wait_is_announced_once_per_owner(tmp_path, fault_server, caplog):
    requests = [ChatRequest.from_prompt(f"held {i} [answer:a]", output=LABELS) for i in range(3)]
    with LLMClient(_config(fault_server), store=tmp_path / "s.sqlite") as client:
        for request in requests:
            client.store.claim(request.key(client.identity), "elsewhere:1:run", 3600)
        with caplog.at_level(logging.WARNING, logger="mentor.llm.client"):
            results = client.complete_many(requests)
    assert all(r.ok for r in results)
    notices = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(notices) == 1 and "waiting for 3 request(s)" in notices[0], notices


def test_a_live_owner_renews_its_claim_so_a_waiter_pays_nothing(tmp_path):
    """The request takes three leases to answer: without renewal the second client would take it over and pay."""
    request = ChatRequest.from_prompt("slow [answer:a]", output=LABELS)
    store = tmp_path / "s.sqlite"
    with FaultServer(delay_s=3 * LEASE_S) as server:
        with LLMClient(_config(server), store=store) as first, LLMClient(_config(server), store=store) as second:
            answers = []
            asking = threading.Thread(target=lambda: answers.append(first.complete(request)))
            asking.start()
            while server.count("slow") == 0:
                time.sleep(0.02)
            waited = second.complete(request)
            asking.join()
        assert server.count("slow") == 1
    assert answers[0].ok and waited.ok and waited.cached
