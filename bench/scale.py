"""mentor at scale: a whole gated run on generated graphs of growing size, stage by stage, seconds and peak memory.

Each size runs ``mentor consult`` end to end, in a fresh process (so that its peak RSS is its own), on a
``synthetic`` text-attributed graph (average degree 10, 12-word texts, 8 classes), with TF-IDF (``bow``) features
and a 1 % budget, writing ``result.json``, ``predictions.csv`` and the model. The teacher is an OpenAI-compatible
server on 127.0.0.1 that answers at once (``bench/_instant_server.py``, a separate process): what is measured is
mentor's own cost, not a model's. Stages are timed where the run announces them (``features``, ``training``,
``retraining``, ``writing``) and around the client's calls (``prompts``: building them, ``answers``: the client
and the server, ``selection``: the gate, pooling and choosing what to ask, between calls); ``loading`` is
everything before the features (generating the graph, validating it, neighbour lists). Peak RSS per stage is
sampled every 20 ms. The growth exponent between two sizes is log(seconds ratio) / log(nodes ratio); the summary
(``summary`` in ``scale.json``) holds the runs with ``bow`` features and the instant server, and the client's
throughput ratio that ``bench/client_throughput.py`` measured.

``--features minilm`` encodes the texts with MiniLM (the embedding cache starts empty), and ``--llm`` names a real
teacher instead of the instant server (``--max-calls`` keeps it to a few calls). Runs accumulate in ``scale.json``:
a run replaces the one of the same size, features and teacher.

    python bench/scale.py --sizes 10000,100000,1000000
    python bench/scale.py --sizes 100000 --features minilm --llm local:qwen2.5-1.5b --max-calls 6
    python bench/scale.py --sizes 100000,1000000 --split few:5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _instant_server import spawn  # noqa: E402
from _report import RESULTS, machine, record_invocation, rss_bytes, write_json, write_section  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS_NAME = "scale"
#: The generated graphs: hard enough that the GNN is unsure of many nodes and the answers change something.
GRAPH = "num_classes=8,avg_degree=10,words=12,signal=0.3,homophily=0.2"


def rss_gb() -> float:
    """This process's resident memory now, in GB."""
    return rss_bytes() / 1e9


class Stages:
    """Seconds and peak RSS per named stage; :meth:`mark` ends the current stage and starts another."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, float]] = {}
        self.current, self.started, self.peak = "loading", time.perf_counter(), rss_gb()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            now = rss_gb()
            with self._lock:
                self.peak = max(self.peak, now)

    def mark(self, name: str) -> None:
        with self._lock:
            now = time.perf_counter()
            block = self.totals.setdefault(self.current, {"seconds": 0.0, "peak_rss_gb": 0.0})
            block["seconds"] += now - self.started
            block["peak_rss_gb"] = max(block["peak_rss_gb"], self.peak, rss_gb())
            self.current, self.started, self.peak = name, now, rss_gb()

    def stop(self) -> dict[str, dict[str, float]]:
        self.mark("done")
        self._stop.set()
        return {name: {"seconds": round(v["seconds"], 2), "peak_rss_gb": round(v["peak_rss_gb"], 2)}
                for name, v in self.totals.items()}  # fmt: skip


def one_size(nodes: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """A whole ``mentor consult`` run on a generated graph of ``nodes`` nodes, in this process, instrumented."""
    import resource

    import mentor.consult.gated as gated
    from mentor.cli import app
    from mentor.llm import LLMClient

    cli_consult = sys.modules["mentor.cli.consult"]  # the package's ``consult`` attribute is the command function

    stages = Stages()

    def on_stage(message: str, *, enabled: bool = True) -> None:
        head = message.split(":", 1)[0]
        stages.mark("retraining" if "retraining" in message else head)

    cli_consult.stage = gated.stage = on_stage  # type: ignore[assignment]
    requests, complete_many = gated.GatedConsultation.requests, LLMClient.complete_many

    seen: dict[str, int] = {}

    def timed_requests(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen["edges"] = int(self.graph.edge_index.size(1))  # directed pairs: each undirected edge counts twice
        stages.mark("prompts")
        return requests(self, *args, **kwargs)

    def timed_complete(self: Any, *args: Any, **kwargs: Any) -> Any:
        stages.mark("answers")
        try:
            return complete_many(self, *args, **kwargs)
        finally:
            stages.mark("selection")

    gated.GatedConsultation.requests = timed_requests  # type: ignore[method-assign]
    LLMClient.complete_many = timed_complete  # type: ignore[method-assign]
    dataset = f"synthetic:num_nodes={nodes},{GRAPH}"
    out = workdir / "run"
    started = time.perf_counter()
    if args.llm is None:
        teacher = ["--llm", "openai:instant", "--llm-base-url", args.base_url, "--llm-concurrency", "8"]
    else:
        teacher = ["--llm", args.llm]
    if args.max_calls is not None:
        teacher += ["--max-calls", str(args.max_calls)]
    teacher += ["--split", args.split] if args.split else []
    os.environ["MENTOR_CACHE_DIR"] = str(workdir / "cache")  # an empty embedding cache: encoding is measured
    app(["consult", dataset, "--features", args.features, "--model", args.model, "--budget", str(args.budget),
         *teacher, "--token-count", "estimate", "--store", str(workdir / "store.sqlite"), "--out", str(out),
         "--json"], standalone_mode=False)  # fmt: skip
    seconds = time.perf_counter() - started
    result = json.loads((out / "result.json").read_text())
    return {
        "nodes": nodes,
        "edges": seen.get("edges"),
        "features": args.features,
        "teacher": args.llm or "instant",
        "split": args.split or "random",
        "seconds": round(seconds, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2),
        "stages": stages.stop(),
        "batch_size": result["training"]["batch_size"],
        "calls": result["totals"]["calls"],
        "gate_open": result["gate"]["open"],
        "test_before": result["before"]["test"]["acc"],
        "test_after": result["after"]["test"]["acc"],
        "never_asked_before": (result["before"].get("test_not_consulted") or {}).get("acc"),
        "never_asked_after": (result["after"].get("test_not_consulted") or {}).get("acc"),
    }


def _key(record: dict[str, Any]) -> tuple[int, str, str, str]:
    nodes, features, teacher = record["nodes"], record.get("features", "bow"), record.get("teacher", "instant")
    return nodes, features, teacher, record.get("split", "random")


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's summary: the bow runs against the instant server by size, the growth exponent between the two
    largest, and the client's throughput ratio."""
    sizes = sorted((r for r in records if _key(r)[1:] == ("bow", "instant", "random")), key=lambda r: r["nodes"])
    return {"sizes": sizes, "exponent": round(exponent(sizes[-2], sizes[-1]), 3) if len(sizes) > 1 else None,
            "client_throughput_ratio": client_throughput_ratio()}  # fmt: skip


def client_throughput_ratio() -> float | None:
    """Requests per second through mentor's client over a bare ``openai`` loop, against the same instant server, as
    ``bench/client_throughput.py`` last measured it (``None`` before it has run)."""
    path = RESULTS / "client_throughput.json"
    return json.loads(path.read_text())["ratio_mentor_over_bare"] if path.exists() else None


def exponent(small: dict[str, Any], large: dict[str, Any]) -> float:
    return math.log(large["seconds"] / small["seconds"]) / math.log(large["nodes"] / small["nodes"])


def _never_asked(size: dict[str, Any]) -> str:
    before, after = size.get("never_asked_before"), size.get("never_asked_after")
    return "–" if before is None or after is None else f"{before:.4f} → {after:.4f}"


def render(results: dict[str, Any]) -> str:
    records, summary = results["sizes"], results["summary"]
    names = list(dict.fromkeys(name for size in records for name in size["stages"]))
    lines = [
        "## Scale: a whole gated run on generated graphs of growing size (`bench/scale.py`)",
        "",
        "`mentor consult` end to end on generated graphs (`synthetic`, average degree 10, 12-word texts, 8 "
        "classes), 1 % of the nodes asked, outputs written, each size in a fresh process. **Where the teacher is "
        "`instant`, it is an OpenAI-compatible server that answers at once** (`bench/_instant_server.py`, another "
        "process): those rows are mentor's own cost, not a model's. Seconds (peak RSS in GB) per stage; *loading* is "
        "generating and validating the graph and building the run; *features* include encoding every text where they "
        "are `minilm` (the embedding cache empty). Training is full-batch below 100,000 nodes and in mini-batches of "
        "sampled neighbourhoods from there (`--batch-size auto`).",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in results["invocations"]),
        "",
        "| nodes | edges (both directions) | split | features | teacher (calls) | GNN trained | total s | "
        + "peak RSS GB | "
        + " | ".join(names)
        + " | test acc. GNN alone → after | never-asked test nodes, GNN alone → after |",
        "|---:|---:|---|---|---|---|---:|---:|" + "---:|" * len(names) + "---|---|",
    ]
    for size in records:
        cells = [f"{size['stages'][n]['seconds']:.1f} ({size['stages'][n]['peak_rss_gb']:.1f})"
                 if n in size["stages"] else "–" for n in names]  # fmt: skip
        batch = size.get("batch_size")
        training = f"mini-batches of {batch}" if batch else "full-batch"
        lines.append(f"| {size['nodes']:,} | {size['edges'] or 0:,} | {size.get('split', 'random')} | "
                     f"{size.get('features', 'bow')} | "
                     f"{size.get('teacher', 'instant')} ({size['calls']:,}) | {training} | {size['seconds']:.1f} | "
                     f"{size['peak_rss_gb']:.1f} | " + " | ".join(cells)
                     + f" | {size['test_before']:.4f} → {size['test_after']:.4f} | {_never_asked(size)} |")  # fmt: skip
    if summary.get("exponent") is not None:
        lines += ["", "Growth exponent of the total seconds between the two largest `bow` sizes with the instant "
                  f"server: {summary['exponent']:.2f}."]  # fmt: skip
    if summary.get("client_throughput_ratio") is not None:
        lines += [
            "",
            f"Client throughput at concurrency 32 against the same server, mentor over a bare `openai` loop: "
            f"{summary['client_throughput_ratio']:.2f} (`bench/client_throughput.py`).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--budget", type=float, default=0.01)
    parser.add_argument("--model", default="gcn")
    parser.add_argument("--features", default="bow")
    parser.add_argument("--llm", help="a real teacher (default: the instant server)")
    parser.add_argument("--max-calls", type=int)
    parser.add_argument("--split", help="e.g. few:5 (default: the graph's random 60/20/20 split)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the table from scale.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one size
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            record = one_size(args.one, args, Path(tmp))
        print("RESULT " + json.dumps(record), flush=True)
        return
    if args.report_only:
        saved = json.loads((RESULTS / f"{RESULTS_NAME}.json").read_text())
        saved["summary"] = summarise(saved["sizes"])
        write_json(RESULTS_NAME, saved)
        write_section(RESULTS_NAME, render(saved))
        return
    path = RESULTS / f"{RESULTS_NAME}.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"benchmark": RESULTS_NAME}
    results.setdefault("sizes", [])
    record_invocation(results, "scale.py")
    server, base_url = spawn()
    try:
        for nodes in map(int, args.sizes.split(",")):
            command = [sys.executable, __file__, "--one", str(nodes), "--base-url", base_url, "--budget",
                       str(args.budget), "--model", args.model, "--features", args.features]  # fmt: skip
            command += ["--llm", args.llm] if args.llm else []
            command += ["--max-calls", str(args.max_calls)] if args.max_calls is not None else []
            command += ["--split", args.split] if args.split else []
            child = subprocess.run(command, capture_output=True, text=True)
            line = next((x for x in child.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(child.stdout[-2000:], child.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"the {nodes}-node run failed (exit {child.returncode})")
            record = json.loads(line.removeprefix("RESULT "))
            print(json.dumps(record), flush=True)
            results["sizes"] = [r for r in results["sizes"] if _key(r) != _key(record)] + [record]
    finally:
        server.terminate()
    results["sizes"].sort(key=lambda r: (r.get("teacher", "instant") != "instant", r.get("features"),
                                         r.get("split", "random") != "random", r["nodes"]))  # fmt: skip
    results.update({"machine": machine(), "summary": summarise(results["sizes"])})
    write_json(RESULTS_NAME, results)
    write_section(RESULTS_NAME, render(results))
    print(render(results))


if __name__ == "__main__":
    main()
