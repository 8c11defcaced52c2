"""The teacher at scale: requests per second through ``mentor.llm`` against a bare ``openai`` async loop, both
against the OpenAI-compatible server that answers at once (``bench/_instant_server.py``, another process).

The server costs next to nothing, so the bare loop measures the server's own ceiling on this machine and the ratio
is what mentor's client adds per request: the response store (a lookup before each call, a write after), budgets,
validation of the structured answer. Both arms send the same ``--requests`` label requests at ``--concurrency``
calls at once, arms alternating over ``--rounds`` (mentor with a new, empty store each round).

Then a mentor run of the same size is killed with SIGKILL after ``--kill-after`` seconds, mid-batch, and run again on
its store. Of the answers the server had sent when the process died, those mentor had received (its client had
parsed them and was storing them; the child notes each in an append-only file first) and those still on the wire
(lost to any client; at most the concurrency) are counted apart, and both against what the store holds; the rerun
must ask exactly the requests the store lacks and end with every answer. Last, the memory a batch costs: mentor runs
of ``--requests`` and of ten times as many requests, each in a fresh process: its resident memory after the batch,
with the batch's answers still held, less before. Writes ``bench/results/client_throughput.json``
and a section of ``docs/benchmarks.md``; ``bench/scale.py`` reads the ratio into its summary.

    python bench/client_throughput.py --requests 2000 --concurrency 32 --rounds 3 --kill-after 2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _instant_server import spawn  # noqa: E402
from _report import machine, record_invocation, rss_bytes, write_json, write_section  # noqa: E402

from mentor.graph import make_synthetic  # noqa: E402
from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig  # noqa: E402
from mentor.llm.store import ResponseStore  # noqa: E402

RESULTS_NAME = "client_throughput"


def make_requests(n: int, round_: int) -> list[ChatRequest]:
    """``n`` distinct label requests over the texts of a generated graph (8 topics), as consult prompts put them."""
    graph = make_synthetic(num_nodes=max(n, 16), num_classes=8, words=12, seed=round_)
    output = Labels(labels=tuple(graph.class_names), explain=False)
    return [
        ChatRequest.from_prompt(f"Round {round_}, node {i}. TARGET node:\n<text>{graph.texts[i]}</text>\n"
                                f"Which topic is it about?\n{output.instruction()}", output=output, max_tokens=16)
        for i in range(n)
    ]  # fmt: skip


async def bare_openai(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    """The ceiling: what the ``openai`` client alone gets, a semaphore holding ``concurrency`` calls at once."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", timeout=60, max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(request: ChatRequest) -> str:
        async with semaphore:
            assert request.output is not None
            response = await client.chat.completions.create(
                model="instant",
                messages=[m.model_dump() for m in request.messages],
                max_tokens=request.decoding.max_tokens,
                response_format={"type": "json_schema", "json_schema": {"name": "answer", "strict": True,
                                                                         "schema": request.output.json_schema()}},
            )  # fmt: skip
            return response.choices[0].message.content or ""

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(r) for r in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    assert all(answers)
    return elapsed


def through_mentor(base_url: str, requests: list[ChatRequest], concurrency: int, store: Path) -> float:
    config = LLMConfig(llm="openai:instant", base_url=base_url, concurrency=concurrency, timeout_s=60)
    with LLMClient(config, store=store) as client:
        client.identity  # noqa: B018  # the server's fingerprint, asked once before the clock starts
        started = time.perf_counter()
        results = client.complete_many(requests)
        elapsed = time.perf_counter() - started
    failed = [r.reason for r in results if not r.ok]
    assert not failed, f"{len(failed)} of {len(requests)} failed: {failed[:3]}"
    return elapsed


def answered(base_url: str) -> int:
    """Chat answers the instant server has sent so far."""
    with urllib.request.urlopen(f"{base_url}/stats", timeout=10) as reply:
        return int(json.load(reply)["answered"])


def killed_run(base_url: str, count: int, concurrency: int, kill_after: float, store: Path) -> dict[str, Any]:
    """A mentor run of ``count`` requests killed with SIGKILL after ``kill_after`` seconds, then run again on its
    store: what the store held, what was lost, what the rerun asked."""
    first = answered(base_url)
    child = subprocess.Popen([sys.executable, __file__, "--child", base_url, str(store), str(count),
                              str(concurrency)])  # fmt: skip
    deadline = time.monotonic() + 60
    while answered(base_url) == first and time.monotonic() < deadline:  # the child is up and asking
        time.sleep(0.05)
    time.sleep(kill_after)
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.5)  # answers already on their way are counted by the server too
    sent = answered(base_url) - first
    with ResponseStore(store) as kept:
        stored = len(kept)
    in_hand = Path(f"{store}.received").read_text().count("+")
    before_rerun = answered(base_url)
    through_mentor(base_url, make_requests(count, 99), concurrency, store)
    reasked = answered(base_url) - before_rerun
    with ResponseStore(store) as kept:
        final = len(kept)
    return {"requests": count, "kill_after_s": kill_after, "sent_before_kill": sent, "received_before_kill": in_hand,
            "stored_at_kill": stored, "lost_in_hand": in_hand - stored, "lost_on_the_wire": sent - in_hand,
            "asked_again": reasked, "stored_after_rerun": final}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kill-after", type=float, default=2.0)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # base URL, store, requests, concurrency
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)  # base URL, requests, concurrency
    args = parser.parse_args()
    if args.memory_child:
        base_url, count, concurrency = args.memory_child
        requests = make_requests(int(count), 98)
        config = LLMConfig(llm="openai:instant", base_url=base_url, concurrency=int(concurrency), timeout_s=60)
        with tempfile.TemporaryDirectory() as tmp, LLMClient(config, store=Path(tmp) / "memory.sqlite") as client:
            client.identity  # noqa: B018
            gc.collect()
            before = rss_bytes()
            results = client.complete_many(requests)
            gc.collect()
            print(rss_bytes() - before, len(results))  # the batch's answers still held
        return
    if args.child:
        base_url, store, count, concurrency = args.child
        received = os.open(f"{store}.received", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        put = ResponseStore.put

        def noted_put(self: ResponseStore, *a: Any, **k: Any) -> None:  # an answer in hand, about to be stored
            os.write(received, b"+\n")
            put(self, *a, **k)

        ResponseStore.put = noted_put  # type: ignore[method-assign]
        through_mentor(base_url, make_requests(int(count), 99), int(concurrency), Path(store))
        return
    results: dict = {"benchmark": RESULTS_NAME}
    record_invocation(results, "client_throughput.py")
    times: dict[str, list[float]] = {"bare": [], "mentor": []}
    server, base_url = spawn()
    try:
        asyncio.run(bare_openai(base_url, make_requests(32, -1), args.concurrency))  # warm-up
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                requests = make_requests(args.requests, round_)
                for arm in ("bare", "mentor") if round_ % 2 == 0 else ("mentor", "bare"):
                    if arm == "bare":
                        elapsed = asyncio.run(bare_openai(base_url, requests, args.concurrency))
                    else:
                        elapsed = through_mentor(base_url, requests, args.concurrency,
                                                 Path(tmp) / f"round{round_}.sqlite")  # fmt: skip
                    times[arm].append(elapsed)
                    print(f"round {round_} {arm}: {args.requests / elapsed:.0f} requests/s", flush=True)
            kill = killed_run(base_url, args.requests, args.concurrency, args.kill_after, Path(tmp) / "kill.sqlite")
            print(f"killed: {kill}", flush=True)
        memory = {}
        for count in (args.requests, 10 * args.requests):
            child = subprocess.run([sys.executable, __file__, "--memory-child", base_url, str(count),
                                    str(args.concurrency)], capture_output=True, text=True, check=True)  # fmt: skip
            memory[str(count)] = int(child.stdout.split()[-2])
        print(f"memory held after a batch, by requests: {memory}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    rps = {arm: args.requests * len(values) / sum(values) for arm, values in times.items()}
    ratio = rps["mentor"] / rps["bare"]
    results.update({
        "machine": machine(), "server": "bench/_instant_server.py", "requests_per_round": args.requests,
        "rounds": args.rounds, "concurrency": args.concurrency, "seconds": times,
        "sd_seconds": {arm: round(statistics.pstdev(v), 3) for arm, v in times.items()},
        "bare_openai_rps": round(rps["bare"], 1), "mentor_rps": round(rps["mentor"], 1),
        "ratio_mentor_over_bare": round(ratio, 3), "killed": kill, "memory_after_batch_bytes": memory,
    })  # fmt: skip
    write_json(RESULTS_NAME, results)
    write_section(RESULTS_NAME, "\n".join([
        "## The teacher at scale: client throughput (`bench/client_throughput.py`)",
        "",
        f"`{results['invocations'][-1]}` — {results['machine']['date']}, commit {results['machine']['commit']}, "
        f"{results['machine']['cpus']} CPUs. {args.requests} label requests per round at concurrency "
        f"{args.concurrency} to the OpenAI-compatible server that answers at once (another process on the same "
        f"machine), arms alternated over {args.rounds} rounds; mentor with an empty store each round.",
        "",
        "| arm | requests/s | ratio |",
        "|---|---:|---:|",
        f"| bare `openai` async loop (the server's ceiling here) | {rps['bare']:.0f} | 1.00 |",
        f"| `mentor.llm` `complete_many` (store, budget, validation) | {rps['mentor']:.0f} | {ratio:.2f} |",
        "",
        f"Killed with SIGKILL {args.kill_after:g} s into a run of {kill['requests']} requests at the same concurrency: "
        f"the server had sent {kill['sent_before_kill']} answers, mentor had received {kill['received_before_kill']} "
        f"and the store held {kill['stored_at_kill']}: {kill['lost_in_hand']} received answers lost, "
        f"{kill['lost_on_the_wire']} still on the wire. Run again on that store, mentor asked {kill['asked_again']} "
        "requests "
        f"({kill['requests'] - kill['stored_at_kill']} were missing) and ended with {kill['stored_after_rerun']} "
        "answers.",
        "",
        "Resident memory a mentor process holds after one batch (its answers included), over what it held before: "
        + ", ".join(f"{int(n):,} requests {b / 1e6:.0f} MB ({b / int(n) / 1e3:.1f} KB a request)"
                    for n, b in memory.items()) + ".",
    ]))  # fmt: skip
    print(f"mentor / bare openai = {ratio:.3f}")


if __name__ == "__main__":
    main()
