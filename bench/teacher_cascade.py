"""A cheaper teacher first: the 0.5B model answers every node, the 1.5B only where the 0.5B's label probability is
below a threshold. Measured on the gated default's prompts (``text-384``) for every labelled WebKB node, before any
cascade is built into the product: it is kept only if it wins on accuracy per second.

The 1.5B answers replay from the ``bench/llm_seconds.py`` store (they are shipped); the 0.5B's are asked once and
kept in the same store and in ``bench/results/teacher_cascade_answers.jsonl.gz``. The threshold is fitted on a
fixed random half of each graph's nodes: the lowest (the cheapest) whose cascade is at most one point less
accurate there than the 1.5B alone; it is scored on the other half. The labels only score the teachers here.

    python bench/teacher_cascade.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import DEFAULT_AFTER  # noqa: E402
from _report import RESULTS, export_new_answers, machine, record_invocation, seeded_store, write_json, write_section  # noqa: E402
from llm_seconds import ANSWERS as BIG_ANSWERS  # noqa: E402
from llm_seconds import SHIPPED, requests_for  # noqa: E402

from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

BIG, SMALL = "local:qwen2.5-1.5b", "local:qwen2.5-0.5b"
SMALL_ANSWERS = RESULTS / "teacher_cascade_answers.jsonl.gz"
THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)] + [1.01]  # 1.01: always the big one
MAX_LOSS = 1.0  # accuracy points the cascade may lose against the big teacher on the fitting half


def answers(teacher: str, dataset: str, store: Path) -> tuple[list[int], list[str], list[dict[str, Any]]]:
    """Every labelled node of ``dataset`` (the order of ``bench/llm_seconds.py``), its true label, and ``teacher``'s
    answer: label, top probability, seconds."""
    with LLMClient(LLMConfig(llm=teacher, concurrency=1), store=store, run_id="bench-teacher-cascade") as client:
        graph, nodes, requests = requests_for(dataset, DEFAULT_AFTER, client, None, None)
        results = client.complete_many(requests, progress=True, label=f"{dataset} {teacher}")
        if teacher == SMALL:
            export_new_answers(client.store, SHIPPED, SMALL_ANSWERS, also_known=(BIG_ANSWERS,))
    truth = [graph.class_names[int(graph.y[v])] for v in nodes]
    out = []
    for result in results:
        probs = (result.label_probs or {}) if result.ok else {}
        out.append({
            "label": result.label if result.ok else None,
            "p": max(probs.values()) if probs else (1.0 if result.ok else 0.0),
            "seconds": result.timings.model_s if result.ok and result.timings else None,
        })  # fmt: skip
    return nodes, truth, out


def cascade(truth: list[str], small: list[dict[str, Any]], big: list[dict[str, Any]], threshold: float,
            idx: list[int], small_s: float, big_s: float) -> dict[str, float]:  # fmt: skip
    """Accuracy (%) and mean seconds per node of the cascade at ``threshold`` on the nodes ``idx``."""
    right, seconds, escalated = 0, 0.0, 0
    for i in idx:
        seconds += small[i]["seconds"] or small_s
        answer = small[i]
        if answer["p"] < threshold:
            escalated += 1
            seconds += big[i]["seconds"] or big_s
            answer = big[i]
        right += answer["label"] == truth[i]
    n = len(idx)
    return {"accuracy": 100 * right / n, "seconds": seconds / n, "escalated": escalated / n}


def _accuracy(answers: list[dict[str, Any]], truth: list[str]) -> float:
    return round(100 * sum(a["label"] == t for a, t in zip(answers, truth, strict=True)) / len(truth), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--store", type=Path, default=cache_dir() / "bench-llm-seconds.sqlite")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table from the saved rows")
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "teacher_cascade", "rows": {}}
    path = RESULTS / "teacher_cascade.json"
    if path.exists():
        results = json.loads(path.read_text())
    if args.table_only:
        write_section("teacher_cascade", render(results))
        return
    record_invocation(results, "teacher_cascade.py")
    seeded_store(args.store, SHIPPED, BIG_ANSWERS, *([SMALL_ANSWERS] if SMALL_ANSWERS.exists() else []))
    for dataset in args.datasets.split(","):
        nodes, truth, small = answers(SMALL, dataset, args.store)
        _, _, big = answers(BIG, dataset, args.store)
        small_s = statistics.mean(a["seconds"] for a in small if a["seconds"] is not None)
        big_s = statistics.mean(a["seconds"] for a in big if a["seconds"] is not None)
        half = torch.randperm(len(nodes), generator=torch.Generator().manual_seed(7)).tolist()
        fit, score = half[: len(half) // 2], half[len(half) // 2 :]
        big_fit = 100 * sum(big[i]["label"] == truth[i] for i in fit) / len(fit)
        fitted = min(
            (
                t
                for t in THRESHOLDS
                if cascade(truth, small, big, t, fit, small_s, big_s)["accuracy"] >= big_fit - MAX_LOSS
            ),
            default=THRESHOLDS[-1],
        )  # the cheapest that keeps accuracy; the last asks the big one always
        everything = list(range(len(nodes)))
        row = {
            "dataset": dataset,
            "nodes": len(nodes),
            "small_accuracy": _accuracy(small, truth),
            "big_accuracy": _accuracy(big, truth),
            "small_seconds": round(small_s, 3),
            "big_seconds": round(big_s, 3),
            "threshold": fitted,
            "held_out": {k: round(v, 3) for k, v in cascade(truth, small, big, fitted, score, small_s, big_s).items()},
            "held_out_big": {"accuracy": round(100 * sum(big[i]["label"] == truth[i] for i in score) / len(score), 1),
                             "seconds": round(statistics.mean(big[i]["seconds"] or big_s for i in score), 3)},
            "curve": {str(t): {k: round(v, 3) for k, v in cascade(truth, small, big, t, everything, small_s,
                                                                    big_s).items()} for t in THRESHOLDS},
        }  # fmt: skip
        results["rows"][dataset] = row
        print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    results["machine"] = machine()
    write_json("teacher_cascade", results)
    write_section("teacher_cascade", render(results))


def render(results: dict[str, Any]) -> str:
    lines = [
        "## A cheaper teacher first (`bench/teacher_cascade.py`)",
        "",
        f"`{SMALL}` answers every labelled node with the gated default's prompt (`{DEFAULT_AFTER}`); `{BIG}` only "
        "where the small model's label probability is below a threshold, fitted on a fixed random half of each "
        f"graph's nodes (the lowest threshold whose cascade loses at most {MAX_LOSS:g} point against the big "
        "teacher alone there) and scored on the other half. Seconds are the models' own time per node (the small "
        "model's answer, plus the big one's where escalated). Teacher accuracy in %.",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in results["invocations"]),
        "",
        "| graph | nodes | 0.5B alone | 1.5B alone | s / answer 0.5B, 1.5B | threshold | held out: cascade acc. | "
        "s / node | escalated | held out: 1.5B acc. | s / node |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"].values():
        h, b = r["held_out"], r["held_out_big"]
        lines.append(
            f"| {r['dataset']} | {r['nodes']} | {r['small_accuracy']:.1f} | {r['big_accuracy']:.1f} | "
            f"{r['small_seconds']:.2f}, {r['big_seconds']:.2f} | {r['threshold']:.2f} | {h['accuracy']:.1f} | "
            f"{h['seconds']:.2f} | {100 * h['escalated']:.0f} % | {b['accuracy']:.1f} | {b['seconds']:.2f} |"
        )
    rows = list(results["rows"].values())
    faster = sum(r["held_out"]["seconds"] < r["held_out_big"]["seconds"] for r in rows)
    kept = sum(r["held_out"]["accuracy"] >= r["held_out_big"]["accuracy"] - MAX_LOSS for r in rows)
    lines += ["", f"On the held-out halves the cascade is faster than the 1.5B alone on {faster} of {len(rows)} graphs "
              f"and within {MAX_LOSS:g} point of its accuracy on {kept}: "
              + ("it is not built into mentor." if faster == 0 else "see the rows before building it.")]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
