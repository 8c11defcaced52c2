"""Rationale distillation into a small student: finetune vs label vs step-by-step vs consistency.

Each run trains the student (default SmolLM2-135M) on one task with one mode, training-set fraction and seed, and
scores it on a fixed sample of the task's test split; the recorded PaLM-540B outputs are the teacher, and its own
accuracy on the same test items is reported beside. Runs accumulate in ``bench/results/distill_<task>.json`` (a
later invocation adds or replaces runs), each run's test predictions are kept in
``bench/results/distill_predictions/``, and the table in ``docs/benchmarks.md`` is rewritten from all of them.
``--live-teacher N`` instead asks a live LLM (default ``local:qwen2.5-1.5b``) for rationales on N SVAMP training
problems and reports its accuracy and cost per example.

    python bench/distill.py --tasks svamp --modes finetune,label,step-by-step,consistency --seeds 0,1
    python bench/distill.py --tasks svamp --modes finetune,step-by-step --fractions 0.25,0.5
    python bench/distill.py --live-teacher 50
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, invocations_note, machine, record_invocation, write_json, write_section  # noqa: E402

from mentor.distill import load_task  # noqa: E402
from mentor.distill.config import DistillConfig  # noqa: E402
from mentor.distill.run import distill  # noqa: E402
from mentor.distill.teacher import ask_teacher, pick_shots  # noqa: E402
from mentor.llm import LLMClient, LLMConfig, ResponseStore  # noqa: E402

#: training examples drawn per task at fraction 1.0, and test items scored (None: the whole test split)
SIZES = {"svamp": (800, None), "cqa": (400, 300), "esnli": (400, 300), "anli1": (400, 300)}
#: T5-Base (220M) with 100% of the data, from the paper (see PAPER_SOURCE); None where not published as a number
PAPER_T5_BASE: dict[str, dict[str, float | None]] = {
    "esnli": {"standard finetuning": 88.38, "distilling step-by-step": 89.51},
    "anli1": {"standard finetuning": 43.58, "distilling step-by-step": 49.58},
    "cqa": {"standard finetuning": 62.19, "distilling step-by-step": 63.29},
    "svamp": {"standard finetuning": 62.63, "distilling step-by-step": 65.50},
}
MODE_ORDER = ("finetune", "label", "step-by-step", "consistency")
PAPER_SOURCE = "Hsieh et al. 2023, arXiv:2305.02301, Table 1; full training sets, seq2seq T5 rather than a causal LM"


def _options(text: str, cast=float) -> list:
    return [cast(x) for x in text.split(",") if x]


def _load(task: str) -> dict:
    path = RESULTS / f"distill_{task}.json"
    return json.loads(path.read_text()) if path.exists() else {"benchmark": "distill", "task": task, "runs": {}}


def run_matrix(args: argparse.Namespace) -> None:
    for task in _options(args.tasks, str):
        results = _load(task)
        results["machine"] = machine()
        record_invocation(results, "distill.py")
        full, test_size = SIZES[task]
        for seed in _options(args.seeds, int):
            for fraction in _options(args.fractions):
                for mode in _options(args.modes, str):
                    config = DistillConfig(
                        task=task,
                        mode=mode,
                        student=args.student,
                        seed=seed,
                        train_size=max(2, round(fraction * full)),
                        test_size=test_size,
                        epochs=args.epochs,
                        batch_size=args.batch_size,
                        learning_rate=args.learning_rate,
                        bf16=args.bf16,
                    )
                    out = Path(tempfile.mkdtemp(prefix=f"distill-{task}-{mode}-"))
                    started = time.perf_counter()
                    result = distill(config, out, progress=args.progress)
                    record = {
                        "test_accuracy": result["test_accuracy"],
                        "validation_accuracy": result["validation_accuracy"],
                        "teacher_test_accuracy": (result["teacher_test_accuracy"] or {}).get("accuracy"),
                        "test_items": result["data"]["test"],
                        "train_drawn": result["data"]["train_drawn"],
                        "train_used": result["data"]["train_used"],
                        "with_rationale": result["data"]["with_rationale"],
                        "filtered_by_scorer": result["data"]["filtered_by_scorer"],
                        "scorer_check": result["data"].get("scorer_check"),
                        "steps": result["training"]["steps"],
                        "epochs": args.epochs,
                        "bf16": args.bf16,
                        "seconds": round(time.perf_counter() - started, 1),
                        "student": args.student,
                    }
                    kept = RESULTS / "distill_predictions" / f"{task}_{mode}_{fraction:g}_{args.epochs:g}_{seed}.jsonl"
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(out / "predictions.jsonl", kept)
                    shutil.rmtree(out, ignore_errors=True)
                    results["runs"][f"{mode}|{fraction:g}|{args.epochs:g}|{seed}"] = record
                    write_json(f"distill_{task}", results)
                    print(
                        f"{task} {mode} fraction {fraction:g} seed {seed}: test {record['test_accuracy']} "
                        f"({record['seconds']:.0f}s)",
                        flush=True,
                    )


def live_teacher(args: argparse.Namespace) -> None:
    """Rationales for N SVAMP training problems from a live LLM: its accuracy and cost per example."""
    data = load_task("svamp")
    shots = pick_shots(data.train[-50:], 3)  # worked examples from the end of the split, problems from its start
    problems = data.train[: args.live_teacher]
    with LLMClient(LLMConfig(llm=args.llm, concurrency=1), store=args.store) as client:
        started = time.perf_counter()
        outputs = ask_teacher(client, data.task, problems, shots, progress=args.progress)
        seconds = time.perf_counter() - started
        usage = client.usage()
    correct = sum(data.task.is_correct(o.label, e) for o, e in zip(outputs, problems, strict=True))
    palm = sum(data.task.is_correct(e.teacher_label, e) for e in problems)
    fresh = max(1, usage["new_calls"])
    record = {
        "llm": args.llm,
        "problems": len(problems),
        "accuracy": round(correct / len(problems), 4),
        "palm_accuracy_same_problems": round(palm / len(problems), 4),
        "failures": sum(o.failure is not None for o in outputs),
        "new_calls": usage["new_calls"],
        "seconds_per_example": round(seconds / fresh, 2) if usage["new_calls"] else None,
        "prompt_tokens_per_example": round(usage["prompt_tokens"] / fresh),
        "completion_tokens_per_example": round(usage["completion_tokens"] / fresh),
        "cost_usd_per_example": 0.0,
        "examples": [
            {"id": e.id, "answer": o.label, "gold": e.label, "rationale": o.rationale, "failure": o.failure}
            for e, o in zip(problems, outputs, strict=True)
        ][:10],
    }
    results = _load("svamp")
    results["live_teacher"] = record
    write_json("distill_svamp", results)
    print(json.dumps({k: v for k, v in record.items() if k != "examples"}), flush=True)
    if args.store:
        with ResponseStore(args.store) as store, (RESULTS / "distill_live_teacher_answers.jsonl").open("w") as handle:
            store.export_jsonl(handle)


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    spread = f" ± {100 * statistics.pstdev(values):.1f}" if len(values) > 1 else ""
    return f"{100 * statistics.mean(values):.1f}{spread} (n={len(values)})"


def render_table() -> str:
    lines = [
        "## Rationale distillation (`bench/distill.py`)",
        "",
        "Test accuracy (%) of the student, mean ± std over seeds, on a fixed sample of each task's test split; the "
        "teacher is PaLM-540B's recorded chain of thought, whose own accuracy on the same items is given. "
        "`finetune` = gold labels; `label` = teacher labels; `step-by-step` = answer + rationale (α = 0.5); "
        "`consistency` = step-by-step with scorer-filtered rationales and the consistency term (λ = 0.5).",
        "",
        "| task | mode | train fraction | epochs | train examples | test items | student | teacher (PaLM) | s/run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    files = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("distill_*.json"))]
    files = [results for results in files if results["benchmark"] == "distill"]
    lines[4:4] = invocations_note(files)
    live = []
    for results in files:
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for key, run in results.get("runs", {}).items():
            mode, fraction, epochs, _seed = key.split("|")
            groups.setdefault((fraction, epochs, mode), []).append(run)
        for (fraction, epochs, mode), runs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], MODE_ORDER.index(kv[0][2]))
        ):
            teacher = [r["teacher_test_accuracy"] for r in runs if r["teacher_test_accuracy"] is not None]
            cells = [
                results["task"],
                mode,
                fraction,
                epochs + (" (bf16)" if runs[0].get("bf16") else ""),
                str(runs[0]["train_used"]),
                str(runs[0]["test_items"]),
                _cell([r["test_accuracy"] for r in runs]),
                f"{100 * statistics.mean(teacher):.1f}" if teacher else "–",
                f"{statistics.mean(r['seconds'] for r in runs):.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if "live_teacher" in results:
            live.append(results["live_teacher"])
    for record in live:
        lines += [
            "",
            f"Live teacher `{record['llm']}` on {record['problems']} SVAMP training problems "
            f"(`python bench/distill.py --live-teacher {record['problems']}`, 3 worked examples in each prompt): "
            f"accuracy {100 * record['accuracy']:.1f} % (PaLM-540B on the same problems: "
            f"{100 * record['palm_accuracy_same_problems']:.1f} %), {record['failures']} failed answer(s), "
            f"{record['seconds_per_example']} s, {record['prompt_tokens_per_example']} prompt + "
            f"{record['completion_tokens_per_example']} completion tokens per example on this machine "
            "(local model: no money spent).",
        ]
    if PAPER_T5_BASE:
        lines += ["", f"T5-Base (220M), 100 % of the data, from the paper ({PAPER_SOURCE}):", ""]
        lines += ["| task | " + " | ".join(next(iter(PAPER_T5_BASE.values()))) + " |"]
        lines += ["|---|" + "---:|" * len(next(iter(PAPER_T5_BASE.values())))]
        for task, numbers in PAPER_T5_BASE.items():
            lines.append(f"| {task} | " + " | ".join("–" if v is None else f"{v:.1f}" for v in numbers.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="svamp")
    parser.add_argument("--modes", default="finetune,label,step-by-step,consistency")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--fractions", default="1.0", help="training-set fractions, e.g. 0.25,0.5,1.0")
    parser.add_argument("--student", default="smollm2-135m")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 mixed-precision training")
    parser.add_argument("--live-teacher", type=int, default=0, help="SVAMP problems for a live LLM teacher")
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table from stored runs")
    args = parser.parse_args()
    if args.live_teacher:
        live_teacher(args)
    elif not args.table_only:
        run_matrix(args)
    write_section("distill", render_table())


if __name__ == "__main__":
    main()
