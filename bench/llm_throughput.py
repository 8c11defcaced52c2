"""Throughput of ``mentor.llm`` against a plain ``openai``-client loop, on one local llama.cpp server.

Both arms send the same structured-output requests (labels + short explanation) at the same concurrency to the
same ``python -m llama_cpp.server`` process, alternating arm order over rounds; mentor starts each round with an
empty store. Then mentor repeats its last batch against the filled store. Writes
``bench/results/llm_throughput.json`` and the section ``llm_throughput`` of ``docs/benchmarks.md``.

    python bench/llm_throughput.py [--llm local:qwen2.5-1.5b] [--requests 16] [--concurrency 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_json, write_section  # noqa: E402

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig  # noqa: E402
from mentor.llm.backends import make_backend  # noqa: E402

LABELS = Labels(
    labels=(
        "Neural_Networks",
        "Theory",
        "Genetic_Algorithms",
        "Probabilistic_Methods",
        "Reinforcement_Learning",
    ),
    max_explanation_chars=200,
)
TOPICS = [
    "backpropagation in recurrent networks", "PAC learnability of halfspaces", "crossover operators for programs",
    "belief propagation in loopy graphs", "Q-learning with function approximation", "Hopfield networks as memory",
    "VC dimension of neural nets", "genetic programming for symbolic regression", "Gibbs sampling for mixtures",
    "temporal-difference learning", "dropout regularisation", "online learning regret bounds",
    "evolution strategies", "hidden Markov models for speech", "policy gradient methods", "self-organising maps",
    "boosting margins", "niching in evolutionary search", "variational inference", "exploration bonuses",
]  # fmt: skip


def make_requests(n: int, max_tokens: int, round_: int) -> list[ChatRequest]:
    return [
        ChatRequest.from_prompt(
            f"Paper #{round_}-{i}: a study of {TOPICS[i % len(TOPICS)]}. Which field is it in?\n{LABELS.instruction()}",
            output=LABELS,
            max_tokens=max_tokens,
        )
        for i in range(n)
    ]


async def plain_openai(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    """The baseline: what a user would write with the openai client alone."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", timeout=600)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(request: ChatRequest) -> str:
        async with semaphore:
            response = await client.chat.completions.create(
                model="bench",
                messages=[m.model_dump() for m in request.messages],
                temperature=request.decoding.temperature,
                top_p=request.decoding.top_p,
                max_tokens=request.decoding.max_tokens,
                seed=request.decoding.seed,
                response_format={"type": "json_object", "schema": LABELS.json_schema()},
            )
            return response.choices[0].message.content or ""

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


def mentor_run(base_url: str, requests: list[ChatRequest], concurrency: int, store: Path) -> tuple[float, int]:
    config = LLMConfig(llm="openai:bench", base_url=base_url, concurrency=concurrency, timeout_s=600)
    with LLMClient(config, store=store) as client:
        started = time.perf_counter()
        results = client.complete_many(requests)
        elapsed = time.perf_counter() - started
    return elapsed, sum(r.ok for r in results)


def start_server(model_path: Path, threads: int) -> tuple[subprocess.Popen, str, Path]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = Path(tempfile.mkdtemp()) / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/models", timeout=1).close()
            return process, base_url, log
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start, see {log}") from None
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="local:qwen2.5-1.5b", help="built-in model or GGUF path served over HTTP")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    model_path = make_backend(LLMConfig(llm=args.llm)).path  # assembles/verifies a built-in model
    process, base_url, _ = start_server(model_path, args.threads)
    plain_times: list[float] = []
    mentor_times: list[float] = []
    try:
        warm = make_requests(2, args.max_tokens, -1)
        asyncio.run(plain_openai(base_url, warm, args.concurrency))  # load weights into the page cache
        with tempfile.TemporaryDirectory() as tmp:
            last_store = Path(tmp) / "warm.sqlite"
            for round_ in range(args.rounds):
                requests = make_requests(args.requests, args.max_tokens, round_)
                arms = ["plain", "mentor"] if round_ % 2 == 0 else ["mentor", "plain"]
                for arm in arms:
                    if arm == "plain":
                        plain_times.append(asyncio.run(plain_openai(base_url, requests, args.concurrency)))
                    else:
                        last_store = Path(tmp) / f"round{round_}.sqlite"
                        elapsed, ok = mentor_run(base_url, requests, args.concurrency, last_store)
                        assert ok == len(requests), f"only {ok}/{len(requests)} answers were valid"
                        mentor_times.append(elapsed)
                    print(f"round {round_} {arm}: {args.requests / (plain_times + mentor_times)[-1]:.2f} req/s")
            cached_elapsed, ok = mentor_run(base_url, requests, args.concurrency, last_store)
    finally:
        process.terminate()
        process.wait(timeout=30)

    n = args.requests
    plain_rps = n * len(plain_times) / sum(plain_times)
    mentor_rps = n * len(mentor_times) / sum(mentor_times)
    cached_rps = n / cached_elapsed
    result = {
        "benchmark": "llm_throughput",
        "machine": machine(),
        "llm": args.llm,
        "server": "python -m llama_cpp.server",
        "requests_per_round": n,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "plain_openai_seconds": plain_times,
        "mentor_seconds": mentor_times,
        "plain_openai_rps": round(plain_rps, 4),
        "mentor_rps": round(mentor_rps, 4),
        "ratio_mentor_over_plain": round(mentor_rps / plain_rps, 4),
        "mentor_from_store_seconds": cached_elapsed,
        "mentor_from_store_rps": round(cached_rps, 2),
        "store_speedup": round(cached_rps / mentor_rps, 1),
        "sd_plain_seconds": round(statistics.pstdev(plain_times), 3),
        "sd_mentor_seconds": round(statistics.pstdev(mentor_times), 3),
    }
    path = write_json("llm_throughput", result)
    write_section(
        "llm_throughput",
        f"""
## LLM client throughput (`bench/llm_throughput.py`)

`python bench/llm_throughput.py --llm {args.llm} --requests {n} --concurrency {args.concurrency} --rounds {args.rounds}`
— {result["machine"]["date"]}, commit {result["machine"]["commit"]}, {result["machine"]["cpus"]} CPUs.
Same structured-output requests (labels + explanation, `max_tokens={args.max_tokens}`) to one `llama_cpp.server`,
arms alternated over {args.rounds} rounds; mentor starts each round with an empty store.

| arm | requests/s | ratio |
|---|---:|---:|
| plain `openai` client loop, concurrency {args.concurrency} | {plain_rps:.3f} | 1.00 |
| `mentor.llm` `complete_many`, concurrency {args.concurrency} | {mentor_rps:.3f} | {mentor_rps / plain_rps:.3f} |
| `mentor.llm`, same batch again, served from the store | {cached_rps:.1f} | {cached_rps / mentor_rps:.0f}× fresh |
""",
    )
    print(f"wrote {path}")
    print(f"mentor/plain = {mentor_rps / plain_rps:.3f}; store speed-up = {cached_rps / mentor_rps:.0f}x")


if __name__ == "__main__":
    main()
