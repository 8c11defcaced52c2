"""Accuracy per LLM-second: prompt variants of the gated strategy measured against each other on the same nodes.

Every variant asks the teacher (``local:qwen2.5-1.5b``) about the same nodes of each graph with blind prompts
(no GNN prediction, no training label: one answer per node serves every seed and arm). Per variant and graph it
reports the teacher's accuracy on those nodes (the labels only score the teacher here), the prompt and generated
tokens, and the seconds per answer split into prefill and decode as llama.cpp reports them (answers stored
before timings were recorded have none; ``--timing-sample`` asks a few of each variant again in a scratch store
to time them). Answers go to a store seeded from the shipped ones (``consult_gain_answers.jsonl.gz`` holds the
``neighbourhood-600`` answers, the gated default before 2026-12-07, for every WebKB node) and new ones to
``bench/results/llm_seconds_answers.jsonl.gz``, so a rerun replays them and a killed run resumes; runs accumulate
across sessions. ``--limit N`` measures the same first N nodes of a fixed permutation of each graph, so partial
runs of different variants are comparable.

``--raw N`` measures the physical limit on the first N nodes: each prompt is answered by mentor (a fresh answer,
one request at a time, timed end to end around ``LLMClient.complete``) and, right after, by llama.cpp alone (a
second instance of the same GGUF through llama-cpp-python's ``Llama.generate``: the chat-formatted prompt, then
as many greedy tokens as mentor's answer had, no grammar, no log-probabilities), once reusing the prefix shared
with the previous prompt as both do, once without (what the prefix cache saves).

    python bench/llm_seconds.py --variants neighbourhood-600,label-only,text-384 --limit 60
    python bench/llm_seconds.py --variants all --timing-sample 12
    python bench/llm_seconds.py --variants neighbourhood-600,text-384 --raw 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import CODES, DEFAULT_AFTER, DEFAULT_BEFORE, VARIANTS  # noqa: E402
from _report import RESULTS, export_new_answers, machine, record_invocation, seeded_store, write_json, write_section  # noqa: E402

from mentor.consult import ConsultConfig  # noqa: E402
from mentor.consult.gated import GatedConsultation  # noqa: E402
from mentor.graph import load_dataset  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.llm.models import builtin_model_path  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

SHIPPED = RESULTS / "consult_gain_answers.jsonl.gz"
ANSWERS = RESULTS / "llm_seconds_answers.jsonl.gz"
TEACHER = "local:qwen2.5-1.5b"
#: The best backbone per WebKB graph on its own at 25 % (docs/benchmarks.md, consult_gain): the gated gains compared.
BEST_BACKBONE = {"cornell": "linkx", "texas": "sage", "wisconsin": "mlp"}


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


def raw_limit(dataset: str, variant: str, sample: int) -> dict[str, Any]:
    """Seconds per answer of the first ``sample`` nodes: mentor end to end (a scratch store, so every answer is
    new) against llama.cpp alone on the same prompt tokens and as many generated tokens, with and without the
    shared prefix kept (see the module's docstring)."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    config = LLMConfig(llm=TEACHER, concurrency=1)
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as scratch, LLMClient(config, store=Path(scratch) / "s.sqlite") as client:
        graph, nodes, requests = requests_for(dataset, variant, client, None, sample)
        client.count_tokens("load the model")  # loading is not an answer's time
        raw = Llama(model_path=str(builtin_model_path(TEACHER.split(":", 1)[1])), n_ctx=config.n_ctx,
                    n_threads=config.n_threads or os.cpu_count() or 1, verbose=False)  # fmt: skip
        formatter = Jinja2ChatFormatter(
            template=raw.metadata["tokenizer.chat_template"],
            eos_token=raw._model.token_get_text(raw.token_eos()),
            bos_token=raw._model.token_get_text(raw.token_bos()),
        )
        for request in requests:
            started = time.perf_counter()
            answer = client.complete(request)
            mentor_s = time.perf_counter() - started
            if not answer.ok or answer.timings is None:
                continue
            formatted = formatter(messages=[m.model_dump() for m in request.messages])
            tokens = raw.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special,
                                  special=True)  # fmt: skip
            generated = max(1, answer.usage.completion_tokens)
            reused = _generate_seconds(raw, tokens, generated)
            raw.reset()  # forgets the previous prompt: no prefix is reused
            cold = _generate_seconds(raw, tokens, generated)
            rows.append({"mentor_s": mentor_s, "model_s": answer.timings.model_s, "raw_s": reused,
                         "raw_no_prefix_s": cold, "prompt_tokens": len(tokens),
                         "mentor_prompt_tokens": answer.usage.prompt_tokens,
                         "generated_tokens": generated})  # fmt: skip
        raw.close()
    means = {key: _mean([r[key] for r in rows]) for key in rows[0]} if rows else {}
    return {
        "dataset": dataset,
        "variant": variant,
        "nodes": len(rows),
        **means,
        "overhead_vs_raw": round(means["mentor_s"] / means["raw_s"], 3) if rows else None,
        "prefix_saving": round(1 - means["raw_s"] / means["raw_no_prefix_s"], 3) if rows else None,
    }


def _generate_seconds(llama: Any, tokens: list[int], count: int) -> float:
    """Seconds llama.cpp takes to evaluate ``tokens`` (reusing what its cache shares with the previous prompt) and
    generate ``count`` greedy tokens after them."""
    started = time.perf_counter()
    for i, _ in enumerate(llama.generate(tokens, top_k=1, temp=0.0)):
        if i + 1 >= count:
            break
    return time.perf_counter() - started


def summary(rows: dict[str, dict[str, Any]], raw: dict[str, dict[str, Any]], gains: dict[str, Any]) -> dict[str, Any]:
    """The gated default before and after 2026-12-07 side by side, over every WebKB node measured for both."""
    out = {}
    for name, variant in (("default_before", DEFAULT_BEFORE), ("default_after", DEFAULT_AFTER)):
        full = [r for r in rows.values() if r["variant"] == variant and r["nodes"] > 100]
        timed = [r for r in rows.values() if r["variant"] == variant and r.get("seconds_per_answer") is not None]
        nodes = sum(r["nodes"] for r in full)
        overheads = [r["overhead_vs_raw"] for r in raw.values() if r["variant"] == variant and r["overhead_vs_raw"]]
        seconds = _weighted(timed, "seconds_per_answer", "timed_answers")
        for gain in gains.get(variant, {}).values():  # a run's LLM time were every answer asked anew
            run_s = gain["calls"] * seconds if seconds else None
            gain["llm_seconds_per_run"] = round(run_s, 1) if run_s else None
            gain["points_per_llm_hour"] = round(3600 * gain["mean"] / run_s, 1) if run_s else None
        out[name] = {
            "variant": variant,
            "settings": VARIANTS[variant],
            "seconds_per_consult": seconds,
            "prompt_tokens": _weighted(full, "prompt_tokens", "nodes"),
            "teacher_accuracy": _weighted(full, "teacher_accuracy", "nodes"),
            "nodes": nodes,
            "overhead_vs_raw": round(statistics.mean(overheads), 3) if overheads else None,
            "gated_gain": gains.get(variant, {}),
        }
    return out


def _weighted(rows: list[dict[str, Any]], key: str, weight: str) -> float | None:
    total = sum(r[weight] for r in rows if r.get(key) is not None)
    return round(sum(r[key] * r[weight] for r in rows if r.get(key) is not None) / total, 3) if total else None


def gated_gains(variant: str) -> dict[str, Any]:
    """The gated strategy's gain at 25 % per WebKB graph with its best backbone, 10 seeds, from
    ``consult_gain.json`` (rows of the arm ``gated`` for the shipped prompts, ``gated@VARIANT`` otherwise)."""
    path = RESULTS / "consult_gain.json"
    if not path.exists():
        return {}
    arm = "gated" if variant == DEFAULT_BEFORE else f"gated@{variant}"
    rows = json.loads(path.read_text())["rows"]
    return {
        r["graph"]: {
            "backbone": r["backbone"],
            "seeds": len(r["seeds"]),
            "mean": r["gain_mean"],
            "ci95": r["gain_ci95"],
            "calls": r["calls_mean"],
        }  # fmt: skip
        for r in rows
        if r["arm"] == arm and r["budget_fraction"] == 0.25 and BEST_BACKBONE.get(r["graph"]) == r["backbone"]
    }


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


def render(saved: dict[str, Any]) -> str:
    rows, raw, invocations = saved["rows"], saved.get("raw", {}), saved["invocations"]
    lines = [
        "## Accuracy per LLM-second: prompt variants (`bench/llm_seconds.py`)",
        "",
        f"The teacher (`{TEACHER}`) asked with blind prompts about the same labelled nodes of each graph (a fixed "
        "permutation, its first *nodes*); accuracy of its label in %, tokens per answer, and seconds per answer as "
        "llama.cpp times the model's own work (prefill + decode; the queue is not counted). Variants: "
        f"`{DEFAULT_BEFORE}` the gated default before 2026-12-07 (neighbourhood within 600 estimated tokens, label "
        "and explanation); `label-only` the same prompt, label alone; `exact-` counts the budget with the "
        "teacher's tokenizer; `text-N` the node's text alone within N tokens counted by the teacher's tokenizer, "
        f"label alone (`{DEFAULT_AFTER}` is the default since); `similar-3` the text and the 3 nodes within two "
        "hops closest in MiniLM features; `codes-` the class names replaced by terse codes (CRS, FAC, PRJ, STF, "
        "STU; Cora's CB, GA, NN…), `described-codes-` the same codes with a one-line description of each class. "
        "*Evaluated* prompt tokens are those llama.cpp computed (the rest came from the cache of the prefix shared "
        "with the previous prompt); *over llama.cpp's own time*: the model's time in mentor (grammar-constrained "
        "sampling and label log-probabilities included) over llama.cpp's prefill + decode time.",
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
    if raw:
        lines += [
            "",
            "**The physical limit** (`--raw`): per answer, mentor end to end (one request at a time, a fresh "
            "answer, the store written) against llama.cpp alone on the same prompt tokens and as many generated "
            "tokens (`Llama.generate`, greedy, no grammar, no log-probabilities) in the same process, right after "
            "it; once reusing the prefix shared with the previous prompt as mentor does, once without. Seconds per "
            "answer, means over the nodes.",
            "",
            "| graph | variant | nodes | prompt tokens | generated tokens | mentor s | its model time s | "
            "llama.cpp alone s | mentor / llama.cpp | without the prefix cache s | prefix cache saves |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sorted(raw.values(), key=lambda r: (r["dataset"], list(VARIANTS).index(r["variant"]))):
            if not r["nodes"]:
                continue
            lines.append(
                f"| {r['dataset']} | {r['variant']} | {r['nodes']} | {r['prompt_tokens']:.0f} | "
                f"{r['generated_tokens']:.1f} | {r['mentor_s']:.2f} | {r['model_s']:.2f} | {r['raw_s']:.2f} | "
                f"{r['overhead_vs_raw']:.2f}× | {r['raw_no_prefix_s']:.2f} | {100 * r['prefix_saving']:.0f} % |"
            )
    summary_ = saved.get("summary")
    if summary_:
        lines += ["", "**The two defaults** (`summary` in `bench/results/llm_seconds.json`): seconds per consult "
                  "(the model's time per answer), prompt tokens and teacher accuracy over every WebKB node measured "
                  "with both, mentor over llama.cpp alone, and the gated gain at 25 % with each graph's best "
                  "backbone (10 seeds, points, ± 95 % CI; `bench/consult_gain.py`) with the LLM time of one run "
                  "(its calls × the seconds per consult, as if every answer were asked anew) and the points "
                  "gained per hour of it.", "",
                  "| default | variant | s / consult | prompt tokens | teacher accuracy | mentor / llama.cpp | "
                  "gated gain |", "|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for name, d in summary_.items():
            gains = "; ".join(f"{g} ({v['backbone']}) {v['mean']:+.1f} ± {v['ci95']:.1f} in "
                              f"{v['llm_seconds_per_run'] or 0:.0f} s ({v['points_per_llm_hour'] or 0:.0f} points "
                              "per LLM-hour)" for g, v in sorted(d["gated_gain"].items()))  # fmt: skip
            overhead = f"{d['overhead_vs_raw']:.2f}×" if d["overhead_vs_raw"] else "–"
            lines.append(f"| {name.replace('_', ' ')} | {d['variant']} | {d['seconds_per_consult'] or 0:.2f} | "
                         f"{d['prompt_tokens'] or 0:.0f} | {d['teacher_accuracy'] or 0:.1f} ({d['nodes']} nodes) | "
                         f"{overhead} | {gains} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--variants", default=f"{DEFAULT_BEFORE},label-only,{DEFAULT_AFTER}")
    parser.add_argument("--limit", type=int, default=None, help="nodes per graph (default: every labelled node)")
    parser.add_argument("--timing-sample", type=int, default=0,
                        help="variants whose answers have no timings: time this many nodes again")  # fmt: skip
    parser.add_argument("--store", type=Path, default=cache_dir() / "bench-llm-seconds.sqlite")
    parser.add_argument("--raw", type=int, default=0,
                        help="also time this many nodes of each variant in mentor and in llama.cpp alone")  # fmt: skip
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table from the saved rows")
    args = parser.parse_args()
    variants = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}: expected one of {', '.join(VARIANTS)} or all")
    path = RESULTS / "llm_seconds.json"
    saved = json.loads(path.read_text()) if path.exists() else {"benchmark": "llm_seconds", "rows": {}}
    if not args.table_only:
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
        for dataset in args.datasets.split(",") if args.raw else []:
            for variant in variants:
                row = raw_limit(dataset, variant, args.raw)
                saved.setdefault("raw", {})[f"{dataset}|{variant}"] = row
                print(json.dumps(row), flush=True)
                saved["machine"] = machine()
                write_json("llm_seconds", saved)
    gains = {variant: gated_gains(variant) for variant in (DEFAULT_BEFORE, DEFAULT_AFTER)}
    saved["summary"] = summary(saved["rows"], saved.get("raw", {}), gains)
    write_json("llm_seconds", saved)
    write_section("llm_seconds", render(saved))
    print(render(saved))


if __name__ == "__main__":
    main()
