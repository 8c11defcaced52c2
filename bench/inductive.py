"""What a deployed small model gains from the LLM: nodes it never saw while it was consulted.

For each graph and seed, a random 20 % of the nodes (and their edges) is removed; a gated consult (default
settings: gcn, minilm features, 10 % budget, the local teacher) runs on the rest; then the saved GNN predicts the
full graph with no LLM call, and is scored on the removed nodes: the GNN alone (round 0) against the GNN after
consultation (the selected round). Blind prompts of nodes whose neighbourhood the removal did not change are
answered by the shipped answers (``bench/results/consult_gain_answers.jsonl.gz``); new answers go to
``bench/results/inductive_answers.jsonl.gz``, so a rerun replays them. Runs accumulate in
``bench/results/inductive_runs.json`` (a killed run resumes); the table goes to ``inductive.json`` and
docs/benchmarks.md.

    python bench/inductive.py --datasets wisconsin,cornell,texas --seeds 0-9
    python bench/inductive.py --datasets cora --seeds 0-2

With few labels (``--split few:K``, drawn from what the removal left) the rows are named by graph, split,
backbone, prompt and budget, e.g. with the gated default's prompts, answered for every WebKB node in
``bench/llm_seconds.py``'s store:

    python bench/inductive.py --split few:5 --model sage --prompt text-384 --budget 0.25 \
        --store ~/.cache/mentor/bench-llm-seconds.sqlite
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import DEFAULT_BEFORE  # noqa: E402
from _prompts import VARIANTS as PROMPTS  # noqa: E402
from _report import (  # noqa: E402
    RESULTS,
    ci95,
    export_new_answers,
    machine,
    mean_ci,
    record_invocation,
    seeded_store,
    write_json,
    write_section,
)

from mentor.consult import ConsultConfig  # noqa: E402
from mentor.consult.gated import GatedConsultation  # noqa: E402
from mentor.graph import load_dataset  # noqa: E402
from mentor.graph.saved import SavedModel  # noqa: E402
from mentor.graph.splits import random_split  # noqa: E402
from mentor.graph.text_graph import TextGraph  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

SHIPPED = RESULTS / "consult_gain_answers.jsonl.gz"
ANSWERS = RESULTS / "inductive_answers.jsonl.gz"
RUNS = RESULTS / "inductive_runs.json"
HELD_OUT = 0.2


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = map(int, text.split("-"))
        return list(range(low, high + 1))
    return [int(s) for s in text.split(",")]


def without(graph: TextGraph, removed: torch.Tensor, seed: int) -> TextGraph:
    """``graph`` without the ``removed`` nodes and their edges, with a fresh ``random`` split of what is left."""
    keep = torch.ones(graph.num_nodes, dtype=torch.bool)
    keep[removed] = False
    edge_index, _ = subgraph(keep, graph.edge_index, relabel_nodes=True, num_nodes=graph.num_nodes)
    y = graph.y[keep]
    kept = keep.nonzero().view(-1).tolist()
    return TextGraph(
        name=graph.name,
        data=Data(y=y, edge_index=edge_index, num_nodes=len(kept)),
        texts=[graph.texts[i] for i in kept] if graph.texts is not None else None,
        class_names=list(graph.class_names),
        splits={"random": random_split(y, seed)},
        seed=seed,
        source=f"{graph.source} without {removed.numel()} nodes",
        node_ids=[graph.node_ids[i] for i in kept] if graph.node_ids is not None else None,
    )


def run_one(dataset: str, seed: int, client: LLMClient, split: str = "random", model: str = "gcn",
            prompt: str = DEFAULT_BEFORE, budget: float = 0.1) -> dict[str, Any]:  # fmt: skip
    full = load_dataset(dataset, seed=seed)
    generator = torch.Generator().manual_seed(1000 + seed)
    removed = torch.randperm(full.num_nodes, generator=generator)[: round(HELD_OUT * full.num_nodes)]
    removed = removed[full.y[removed] >= 0]
    graph = without(full, removed, seed)
    config = ConsultConfig(dataset=dataset, seed=seed, split=split, model=model, budget=budget, **PROMPTS[prompt])
    started = time.perf_counter()
    requests_before = client.usage()["requests"]
    result = GatedConsultation(config, client, graph=graph, progress=False).run()
    y = full.y[removed]

    def accuracy(train_result: Any) -> float:
        probs = SavedModel.from_training(train_result, graph).predict_proba(full)
        return float((probs[removed].argmax(-1) == y).float().mean())

    default = (split, model, prompt, budget) == ("random", "gcn", DEFAULT_BEFORE, 0.1)
    return {
        "dataset": dataset,
        "label": dataset if default else f"{dataset}-{split} {model} @{prompt} {budget:g}",
        "seed": seed,
        "model": config.model,
        "held_out": int(removed.numel()),
        "alone": accuracy(result.before),
        "after": accuracy(result.selected),
        "selected_round": result.selected_round,
        "gate_open": bool(result.calibration_gate.open),
        "answers": len(result.answered),
        "accepted": sum(a.accepted for a in result.asked),
        "requests": client.usage()["requests"] - requests_before,
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = {}
    for dataset in sorted({r.get("label", r["dataset"]) for r in runs.values()}):
        mine = sorted((r for r in runs.values() if r.get("label", r["dataset"]) == dataset), key=lambda r: r["seed"])
        gains = [100 * (r["after"] - r["alone"]) for r in mine]
        alone, after = [100 * r["alone"] for r in mine], [100 * r["after"] for r in mine]
        rows[dataset] = {
            "seeds": [r["seed"] for r in mine],
            "held_out_nodes": statistics.mean(r["held_out"] for r in mine),
            "alone": [statistics.mean(alone), ci95(alone)],
            "after": [statistics.mean(after), ci95(after)],
            "gain": [statistics.mean(gains), ci95(gains)],
            "gate_open": sum(r["gate_open"] for r in mine),
            "answers": sum(r["answers"] for r in mine),
            "requests": sum(r["requests"] for r in mine),
        }
    return rows


def render(rows: dict[str, Any], invocations: list[str]) -> str:
    lines = [
        "## Inductive check: the consulted GNN on nodes it never saw (`bench/inductive.py`)",
        "",
        "A random 20 % of each graph's labelled nodes (and their edges) is removed; a gated consult with default "
        "settings (gcn, minilm, 10 % budget, teacher `local:qwen2.5-1.5b`) runs on the rest; the saved GNN then "
        "predicts the whole graph with no LLM call and is scored on the removed nodes: round 0's GNN (alone) "
        "against the selected GNN (after). Accuracy in %, mean ± 95 % CI over seeds; *gain* is seed by seed. A row "
        "named with a split, backbone, prompt and budget ran with those instead (`few:K`: K labels per class drawn "
        "from what the removal left, no validation part, the gate calibrated on the training nodes).",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in invocations),
        "",
        "| graph | seeds | removed nodes | alone | after consultation | gain | gate open | answers (requests sent) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset, r in rows.items():
        lines.append(
            f"| {dataset} | {len(r['seeds'])} | {r['held_out_nodes']:.0f} | {mean_ci(*r['alone'])} | "
            f"{mean_ci(*r['after'])} | {mean_ci(*r['gain'], sign='+')} | {r['gate_open']} of {len(r['seeds'])} | "
            f"{r['answers']} ({r['requests']}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="wisconsin,cornell,texas")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--store", type=Path, default=cache_dir() / "bench-inductive.sqlite")
    parser.add_argument("--split", default="random", help="random, or few:K (K labels per class)")
    parser.add_argument("--model", default="gcn")
    parser.add_argument("--prompt", default=DEFAULT_BEFORE, choices=list(PROMPTS))
    parser.add_argument("--budget", type=float, default=0.1)
    args = parser.parse_args()
    settings = {"split": args.split, "model": args.model, "prompt": args.prompt, "budget": args.budget}
    default = tuple(settings.values()) == ("random", "gcn", DEFAULT_BEFORE, 0.1)
    names = ("llm_seconds_answers.jsonl.gz", "teacher_cascade_answers.jsonl.gz")  # answers shipped elsewhere
    also_known = tuple(RESULTS / name for name in names if (RESULTS / name).exists())
    saved = json.loads(RUNS.read_text()) if RUNS.exists() else {"benchmark": "inductive", "runs": {}}
    record_invocation(saved, "inductive.py")
    seeded_store(args.store, SHIPPED, ANSWERS)
    with LLMClient(LLMConfig(), store=args.store, run_id="bench-inductive") as client:
        for dataset in args.datasets.split(","):
            for seed in _seeds(args.seeds):
                key = f"{dataset}|{seed}" if default else f"{dataset}|{'|'.join(map(str, settings.values()))}|{seed}"
                if key in saved["runs"]:
                    continue
                saved["runs"][key] = run_one(dataset, seed, client, **settings)
                print(json.dumps(saved["runs"][key]), flush=True)
                saved["machine"] = machine()
                write_json("inductive_runs", saved)
                export_new_answers(client.store, SHIPPED, ANSWERS, also_known=also_known)
    rows = table(saved["runs"])
    write_json("inductive", {"benchmark": "inductive", "machine": machine(), "invocations": saved["invocations"],
                             "table": rows})  # fmt: skip
    write_section("inductive", render(rows, saved["invocations"]))
    print(render(rows, saved["invocations"]))


if __name__ == "__main__":
    main()
