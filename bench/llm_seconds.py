"""Accuracy per LLM-second: prompt variants of the gated strategy measured against each other on the same nodes.

Every variant asks the teacher (``local:qwen2.5-1.5b``) about the same nodes of each graph with blind prompts
(no GNN prediction, no training label: one answer per node serves every seed and arm). Per variant and graph it
reports the teacher's accuracy on those nodes (the labels only score the teacher here), the prompt and generated
tokens, and the seconds per answer split into prefill and decode as llama.cpp reports them (answers stored
before timings were recorded have none; ``--timing-sample`` asks a few of each variant again in a scratch store
to time them). Answers go to a store seeded from the shipped ones (``consult_gain_answers.jsonl.gz`` holds
today's default for every WebKB node) and new ones to ``bench/results/llm_seconds_answers.jsonl.gz``, so a rerun
replays them and a killed run resumes; runs accumulate across sessions. ``--limit N`` measures the same first N
nodes of a fixed permutation of each graph, so partial runs of different variants are comparable.

    python bench/llm_seconds.py --variants default,label-only,text-384 --limit 60
    python bench/llm_seconds.py --variants all --timing-sample 12
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import CODES, VARIANTS  # noqa: E402
from _report import RESULTS, export_new_answers, machine, record_invocation, seeded_store, write_json, write_section  # noqa: E402

from mentor.consult import ConsultConfig  # noqa: E402
from mentor.consult.gated import GatedConsultation  # noqa: E402
from mentor.graph import load_dataset  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

SHIPPED = RESULTS / "consult_gain_answers.jsonl.gz"
ANSWERS = RESULTS / "llm_seconds_answers.jsonl.gz"
TEACHER = "local:qwen2.5-1.5b"


def with_codes(graph: Any, described: bool) -> Any:
    """``graph`` with its class names replaced by :data:`CODES` (and, if ``described``, their descriptions)."""
    coded = graph.copy()
    coded.class_names = [CODES[name][0] for name in graph.class_names]
    coded.class_descriptions = [CODES[name][1] for name in graph.class_names] if described else None
    return coded


def nodes_of(graph: Any, limit: int | None) -> list[int]:
    """The labelled nodes of ``graph`` in a fixed permutation (the same for every variant), the first ``limit``."""
    order = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(31)).tolist()
    labelled = [v for v in order if int(graph.y[v]) >= 0]
    return labelled[:limit] if limit else labelled


def requests_for(dataset: str, variant: str, client: LLMClient, nodes: list[int] | None, limit: int | None):
    settings = dict(VARIANTS[variant])
    classes = settings.pop("classes", None)
    config = ConsultConfig(dataset=dataset, features="minilm", **settings)
    graph = load_dataset(dataset)
    if classes is not None:
        graph = with_codes(graph, described=classes == "described codes")
    consultation = GatedConsultation(config, client, graph=graph, progress=False)
    graph = consultation.graph
    chosen = nodes if nodes is not None else nodes_of(graph, limit)
    return graph, chosen, consultation.blind_requests(chosen)


def measure(dataset: str, variant: str, client: LLMClient, limit: int | None) -> dict[str, Any]:
    graph, nodes, requests = requests_for(dataset, variant, client, None, limit)
    before = client.usage()["new_calls"]
    started = time.perf_counter()
    answers = client.complete_many(requests, progress=True, label=f"{dataset} {variant}")
    wall = time.perf_counter() - started
    right = [a.ok and a.label == graph.class_names[int(graph.y[v])] for v, a in zip(nodes, answers, strict=True)]
    ok = [a for a in answers if a.ok]
    timed = [a.timings for a in ok if a.timings is not None and a.timings.prefill_s is not None]
    return {
        "dataset": dataset,
        "variant": variant,
        "settings": VARIANTS[variant],
        "nodes": len(nodes),
        "answered": len(ok),
        "teacher_accuracy": round(100 * sum(right) / len(nodes), 2),
        "prompt_tokens": _mean([a.usage.prompt_tokens for a in ok]),
        "completion_tokens": _mean([a.usage.completion_tokens for a in ok]),
        **timing_stats(timed),
        "new_calls": client.usage()["new_calls"] - before,
        "wall_s": round(wall, 1),
    }


def timing_sample(dataset: str, variant: str, sample: int) -> dict[str, Any]:
    """``sample`` nodes asked again in a scratch store, one at a time, to time the variant where the stored
    answers have no timings (made before they were recorded)."""
    with tempfile.TemporaryDirectory() as scratch, LLMClient(LLMConfig(llm=TEACHER, concurrency=1),
                                                              store=Path(scratch) / "s.sqlite") as client:  # fmt: skip
        graph, nodes, requests = requests_for(dataset, variant, client, None, sample)
        answers = client.complete_many(requests, progress=True, label=f"timing {dataset} {variant}")
    timed = [a.timings for a in answers if a.ok and a.timings is not None and a.timings.prefill_s is not None]
    return {**timing_stats(timed), "timing": f"{len(timed)} answers asked again in a scratch store"}


def timing_stats(timed: list[Any]) -> dict[str, Any]:
    """Mean seconds per answer (the model's own time), its prefill/decode split, the median, and the prompt tokens
    llama.cpp evaluated (fewer than the prompt's where a shared prefix was still in its cache)."""
    return {
        "timed_answers": len(timed),
        "seconds_per_answer": _mean([t.model_s for t in timed]),
        "prefill_s": _mean([t.prefill_s for t in timed]),
        "decode_s": _mean([t.decode_s for t in timed]),
        "median_seconds": round(statistics.median(t.model_s for t in timed), 3) if timed else None,
        "prompt_eval_tokens": _mean([t.prompt_eval_tokens for t in timed]),
    }


def _mean(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.mean(present), 3) if present else None


def render(rows: dict[str, dict[str, Any]], invocations: list[str]) -> str:
    lines = [
        "## Accuracy per LLM-second: prompt variants (`bench/llm_seconds.py`)",
        "",
        f"The teacher (`{TEACHER}`) asked with blind prompts about the same labelled nodes of each graph (a fixed "
        "permutation, its first *nodes*); accuracy of its label in %, tokens per answer, and seconds per answer as "
        "llama.cpp times the model's own work (prefill + decode; the queue is not counted). Variants: `default` "
        "today's prompt (neighbourhood within 600 estimated tokens, label and explanation); `label-only` the same "
        "prompt, label alone; `exact-` counts the budget with the teacher's tokenizer; `text-N` the node's text "
        "alone within N tokens; `similar-3` the text and the 3 nodes within two hops closest in MiniLM features; "
        "`codes-` the class names replaced by terse codes (CRS, FAC, PRJ, STF, STU; Cora's CB, GA, NN…), "
        "`described-codes-` the same codes with a one-line description of each class. *Evaluated* prompt tokens "
        "are those llama.cpp computed (the rest came from the cache of the prefix shared with the previous "
        "prompt); *over llama.cpp's own time*: the model's time in mentor (grammar-constrained sampling and "
        "label log-probabilities included) over llama.cpp's prefill + decode time.",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in invocations),
        "",
        "| graph | variant | nodes | teacher accuracy | prompt tokens (evaluated) | generated tokens | s / answer "
        "(prefill + decode) | over llama.cpp's own time | timed answers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(rows, key=lambda k: (rows[k]["dataset"], list(VARIANTS).index(rows[k]["variant"]))):
        r = rows[key]
        seconds, overhead = "–", "–"
        if r.get("seconds_per_answer") is not None:
            seconds = f"{r['seconds_per_answer']:.1f} ({r['prefill_s'] or 0:.1f} + {r['decode_s'] or 0:.1f})"
            own = (r["prefill_s"] or 0) + (r["decode_s"] or 0)
            overhead = f"{r['seconds_per_answer'] / own:.2f}×" if own else "–"
        evaluated = f" ({r['prompt_eval_tokens']:.0f})" if r.get("prompt_eval_tokens") is not None else ""
        lines.append(
            f"| {r['dataset']} | {r['variant']} | {r['nodes']} | {r['teacher_accuracy']:.1f} | "
            f"{r['prompt_tokens'] or 0:.0f}{evaluated} | {r['completion_tokens'] or 0:.0f} | {seconds} | {overhead} | "
            f"{r['timed_answers']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--variants", default="default,label-only,text-384")
    parser.add_argument("--limit", type=int, default=None, help="nodes per graph (default: every labelled node)")
    parser.add_argument("--timing-sample", type=int, default=0,
                        help="variants whose answers have no timings: time this many nodes again")  # fmt: skip
    parser.add_argument("--store", type=Path, default=cache_dir() / "bench-llm-seconds.sqlite")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table from the saved rows")
    args = parser.parse_args()
    variants = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}: expected one of {', '.join(VARIANTS)} or all")
    path = RESULTS / "llm_seconds.json"
    saved = json.loads(path.read_text()) if path.exists() else {"benchmark": "llm_seconds", "rows": {}}
    if args.table_only:
        write_section("llm_seconds", render(saved["rows"], saved["invocations"]))
        return
    record_invocation(saved, "llm_seconds.py")
    seeded_store(args.store, SHIPPED, ANSWERS)
    with LLMClient(LLMConfig(llm=TEACHER), store=args.store, run_id="bench-llm-seconds") as client:
        for dataset in args.datasets.split(","):
            for variant in variants:
                row = measure(dataset, variant, client, args.limit)
                if args.timing_sample and row["timed_answers"] < args.timing_sample:
                    row.update(timing_sample(dataset, variant, args.timing_sample))
                saved["rows"][f"{dataset}|{variant}|{row['nodes']}"] = row
                print(json.dumps(row), flush=True)
                saved["machine"] = machine()
                write_json("llm_seconds", saved)
                export_new_answers(client.store, SHIPPED, ANSWERS)
    write_section("llm_seconds", render(saved["rows"], saved["invocations"]))
    print(render(saved["rows"], saved["invocations"]))


if __name__ == "__main__":
    main()
