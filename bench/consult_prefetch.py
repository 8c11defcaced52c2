"""Ask the teacher the blind consultation prompt of every node of a graph, once, into the response store.

Blind prompts (the node's text and its neighbours' texts; no label, no GNN prediction) depend on the graph alone,
so every seed, backbone and arm of ``bench/consult_gain.py`` that consults a node reads the same stored answer.
Filling the store first makes the 10-seed benchmark cost one call per node instead of one per node and run. It
is resumable: a killed run repeats no answered node. Test labels are not read here.

    python bench/consult_prefetch.py --datasets cornell,texas,wisconsin
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import DEFAULT_BEFORE  # noqa: E402
from _prompts import VARIANTS as PROMPTS  # noqa: E402

from mentor.consult import ConsultConfig  # noqa: E402
from mentor.consult.gated import GatedConsultation  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--nodes", default="", help="comma-separated node ids (default: every node)")
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--prompt", default=DEFAULT_BEFORE, choices=list(PROMPTS),
                        help="prompt variant (bench/_prompts.py); default: that of the shipped answers")  # fmt: skip
    parser.add_argument("--chunk", type=int, default=20, help="nodes per batch (progress is printed per batch)")
    args = parser.parse_args()
    with LLMClient(LLMConfig(llm=args.llm, concurrency=1), store=args.store) as client:
        for dataset in args.datasets.split(","):
            config = ConsultConfig(dataset=dataset, **PROMPTS[args.prompt])
            consultation = GatedConsultation(config, client, progress=False)
            nodes = [int(n) for n in args.nodes.split(",")] if args.nodes else list(range(consultation.graph.num_nodes))
            started, answered = time.perf_counter(), 0
            for i in range(0, len(nodes), args.chunk):
                chunk = nodes[i : i + args.chunk]
                answers = client.complete_many(consultation.blind_requests(chunk))
                answered += sum(a.ok for a in answers)
                print(f"{dataset}: {i + len(chunk)}/{len(nodes)} nodes, {answered} answered, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
