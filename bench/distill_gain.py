"""When do rationales beat plain fine-tuning for a small student? One grid cell per command, over seeds.

A cell is (task, mode, rationale weight 1 − α, rationale tokens, rationale filter, teacher, examples drawn). Each
of its runs trains the student for ``--epochs`` epochs at a constant learning rate, so that the model after epoch e
*is* the model an e-epoch run would give; after every epoch the run scores its validation split (which alone picks
the early-stopping epoch) and charts the test items (reported, never used to choose). One run therefore gives the
rows for 1, 3, 5, 10 and 20 epochs (those it reached) and for early stopping ("best≤5": the epoch of best
validation accuracy among the first 5).

Runs are resumable (checkpoints under the mentor cache, deleted once a run is recorded) and accumulate in
``bench/results/distill_gain_runs.json``; ``bench/results/distill_gain.json`` holds the rows (mean and 95 %
t-interval over seeds, accuracy in %) and ``docs/benchmarks.md`` the table, both rewritten from all runs so far.

    python bench/distill_gain.py --task svamp --mode finetune --seeds 0,1,2
    python bench/distill_gain.py --task svamp --mode step-by-step --rationale-weight 0.2 --seeds 0,1,2
    python bench/distill_gain.py --task svamp --mode answer-then-rationale --rationale-tokens 64 --seeds 0,1,2
    python bench/distill_gain.py --task svamp --mode answer-then-rationale --rationale-filter gold --seeds 0,1,2
    python bench/distill_gain.py --task svamp --mode step-by-step --teacher local:qwen2.5-1.5b --seeds 0,1,2
    python bench/distill_gain.py --task svamp --train-size 100 --mode answer-then-rationale --epochs 20 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, ci95, invocations_note, machine, mean_ci, record_invocation, write_json, write_section  # noqa: E402

from mentor.distill.config import RECORDED, DistillConfig  # noqa: E402
from mentor.distill.formats import MODES  # noqa: E402
from mentor.distill.run import distill  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

#: the training protocol every cell shares (what makes cells comparable)
PROTOCOL = {
    "batch_size": 16,
    "learning_rate": 1e-4,
    "lr_scheduler": "constant",
    "warmup_steps": 10,
    "bf16": True,
    "student": "smollm2-135m",
}
#: training examples drawn per task (10 % of them validate) and test items scored (None: the whole test split)
SIZES = {"svamp": (None, None), "esnli": (800, 300), "cqa": (800, 300), "anli1": (800, 300)}
REPORTED_EPOCHS = (1, 3, 5, 10, 20)
#: early stopping within the first n epochs, for each n here that a run reached (and for its last epoch)
STOPPING_CAPS = (5, 10, 20)
BEST = "best≤{}"
#: modes that learn answers alone (no rationale weight, tokens or filter applies to them)
ANSWER_ONLY = ("finetune", "label")
RUNS = "distill_gain_runs"


def cell_key(
    task: str, mode: str, weight: float, tokens: int | None, rationale_filter: str, teacher: str, size: int | None
) -> str:
    return f"{task}|{mode}|{weight:g}|{tokens or 'full'}|{rationale_filter}|{teacher}|{size or 'all'}"


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_cell(args: argparse.Namespace) -> None:
    learns_rationales = args.mode not in ANSWER_ONLY
    weight = args.rationale_weight if learns_rationales else 0.0
    tokens = args.rationale_tokens if learns_rationales else None
    rationale_filter = args.rationale_filter if learns_rationales else "none"
    default_size, test_size = SIZES[args.task]
    train_size = args.train_size or default_size
    key = cell_key(args.task, args.mode, weight, tokens, rationale_filter, args.teacher, train_size)
    runs = _load(RUNS) or {"benchmark": "distill_gain", "protocol": PROTOCOL, "runs": {}}
    record_invocation(runs, "distill_gain.py")
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        if f"{key}|{seed}" in runs["runs"] and not args.rerun:
            print(f"{key} seed {seed}: recorded already", flush=True)
            continue
        config = DistillConfig(
            task=args.task,
            mode=args.mode,
            teacher=args.teacher,
            seed=seed,
            train_size=train_size,
            test_size=test_size,
            epochs=args.epochs,
            alpha=1.0 - weight,
            max_target_tokens=tokens or 128,
            rationale_filter=rationale_filter,
            test_curve=True,
            **PROTOCOL,
        )
        name = f"{key.replace('|', '_').replace(':', '-')}_{seed}_{args.epochs}ep"
        out = cache_dir() / "bench" / "distill_gain" / name
        started = time.perf_counter()
        if args.teacher != RECORDED and args.mode != "finetune":
            with LLMClient(LLMConfig(llm=args.teacher)) as client:
                result = distill(config, out, client, progress=args.progress)
        else:
            result = distill(config, out, progress=args.progress)
        runs["runs"][f"{key}|{seed}"] = {
            "curve": result["training"]["curve"],
            "best_epoch": _best_epoch(result["training"]["curve"]),
            "test_accuracy": result["test_accuracy"],
            "teacher_test_accuracy": (result["teacher_test_accuracy"] or {}).get("accuracy"),
            "train_used": result["data"]["train_used"],
            "with_rationale": result["data"]["with_rationale"],
            "rationales_disagreeing_with_gold": result["data"]["rationales_disagreeing_with_gold"],
            "dropped_disagreeing_with_gold": result["data"]["dropped_disagreeing_with_gold"],
            "teacher_failures": result["data"].get("teacher_failures"),
            "steps": result["training"]["steps"],
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(),
        }
        write_json(RUNS, runs)
        shutil.rmtree(out, ignore_errors=True)  # checkpoints are gigabytes; the record has what the table needs
        print(f"{key} seed {seed}: test {result['test_accuracy']} ({time.perf_counter() - started:.0f}s)", flush=True)


def _best_epoch(curve: list[dict[str, float]]) -> int:
    """The first epoch of best validation accuracy (the Trainer's own choice for load_best_model_at_end)."""
    best = max(point["validation_accuracy"] for point in curve)
    return round(next(point["epoch"] for point in curve if point["validation_accuracy"] == best))


def _at(curve: list[dict[str, float]], epoch: int) -> dict[str, float] | None:
    return next((point for point in curve if round(point["epoch"]) == epoch), None)


def summarise(runs: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's rows: one per cell and epoch count (and early stopping), means over seeds."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for key, run in runs.get("runs", {}).items():
        cells.setdefault(key.rsplit("|", 1)[0], []).append({**run, "seed": int(key.rsplit("|", 1)[1])})
    rows = []
    for key, members in sorted(cells.items()):
        task, mode, weight, tokens, rationale_filter, teacher, _ = key.split("|")
        last = max(round(p["epoch"]) for m in members for p in m["curve"])
        caps = sorted({*(c for c in STOPPING_CAPS if c <= last), last})
        for epochs in (*[e for e in REPORTED_EPOCHS if e <= last], *(BEST.format(c) for c in caps)):
            if isinstance(epochs, str):  # early stopping: the best validation epoch among the first `cap`
                cap = int(epochs.split("≤")[1])
                within = [[p for p in m["curve"] if round(p["epoch"]) <= cap] for m in members]
                pairs = [
                    (m["seed"], w[_best_epoch(w) - 1], w[-1])
                    for m, w in zip(members, within, strict=True)
                    if w and round(w[-1]["epoch"]) == cap
                ]
            else:
                pairs = [(m["seed"], p, p) for m in members if (p := _at(m["curve"], epochs)) is not None]
            if not pairs:
                continue
            points = [p for _, p, _ in pairs]
            accuracy = [100 * p["test_accuracy"] for p in points]
            seconds = [end["training_seconds"] for _, _, end in pairs]  # early stopping pays for all `cap` epochs
            interval = ci95(accuracy)
            rows.append(
                {
                    "task": task,
                    "mode": mode,
                    "epochs": epochs,
                    "rationale_weight": float(weight),
                    "rationale_tokens": None if tokens == "full" or mode in ANSWER_ONLY else int(tokens),
                    "rationale_filter": rationale_filter,
                    "teacher": teacher,
                    "seeds": sorted(seed for seed, _, _ in pairs),
                    "mean": round(statistics.mean(accuracy), 2),
                    "ci95": None if interval is None else round(interval, 2),
                    "validation_mean": round(100 * statistics.mean(p["validation_accuracy"] for p in points), 2),
                    "seconds_mean": round(statistics.mean(seconds), 1),
                    "train_examples": members[0]["train_used"],
                    "_by_seed": {seed: 100 * p["test_accuracy"] for seed, p, _ in pairs},
                }
            )
    return _with_paired_deltas(rows)


def _with_paired_deltas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each rationale row ``finetune_delta``: its test accuracy minus fine-tuning's at the same epochs (or
    the same early-stopping rule), seed by seed on the seeds both have, as mean and 95 % t-interval in points.
    A seed draws the training, validation and test examples, so pairing by seed takes the draw's share out of
    the spread."""
    baselines = {(r["task"], r["train_examples"], r["epochs"]): r["_by_seed"] for r in rows if r["mode"] == "finetune"}
    for row in rows:
        by_seed = row.pop("_by_seed")
        baseline = baselines.get((row["task"], row["train_examples"], row["epochs"]), {})
        shared = sorted(set(by_seed) & set(baseline))
        if row["mode"] == "finetune" or not shared:
            row["finetune_delta"] = None
            continue
        deltas = [by_seed[seed] - baseline[seed] for seed in shared]
        interval = ci95(deltas)
        row["finetune_delta"] = {
            "seeds": shared,
            "mean": round(statistics.mean(deltas), 2),
            "ci95": None if interval is None else round(interval, 2),
        }
    return rows


def equal_time(runs: dict[str, Any], row: dict[str, Any]) -> tuple[float, float, bool] | None:
    """What fine-tuning gave in ``row``'s training seconds, seed by seed: among the epochs it had finished by
    then, the one of best validation accuracy (early stopping within the same time). Returns the mean test
    accuracy (%), the mean epoch, and whether some run had no more epochs to give (its time ran out first)."""
    chosen, capped = [], False
    for key, run in runs.get("runs", {}).items():
        task, mode, *_ = key.split("|")
        if task != row["task"] or mode != "finetune" or run["train_used"] != row["train_examples"]:
            continue
        within = [p for p in run["curve"] if p["training_seconds"] <= row["seconds_mean"]] or run["curve"][:1]
        capped |= len(within) == len(run["curve"])
        best = max(p["validation_accuracy"] for p in within)
        chosen.append(next(p for p in within if p["validation_accuracy"] == best))
    if not chosen:
        return None
    return (
        round(100 * statistics.mean(p["test_accuracy"] for p in chosen), 1),
        round(statistics.mean(p["epoch"] for p in chosen), 1),
        capped,
    )


def render(rows: list[dict[str, Any]], runs: dict[str, Any]) -> str:
    lines = [
        "## When rationales pay: the distillation grid (`bench/distill_gain.py`)",
        "",
        f"Student `{PROTOCOL['student']}`, batch {PROTOCOL['batch_size']}, learning rate "
        f"{PROTOCOL['learning_rate']:g} constant after {PROTOCOL['warmup_steps']} warm-up steps, bf16 autocast, on "
        "this machine's 2 CPU cores. Test accuracy (%), mean ± 95 % t-interval over seeds. One run per seed gives "
        "every epoch row: at a constant learning rate the model after epoch e is the model of an e-epoch run. "
        "*best≤n* = the epoch of best validation accuracy among the first n (early stopping); the test items never "
        "choose. *s* = training seconds to that epoch (early stopping costs all n). *finetune, same s* = fine-tuning "
        "early-stopped within the row's seconds: of the epochs it had finished by then, the one of best validation "
        "accuracy (mean test %, mean epoch; *all* = its runs ended before the time did, so a longer fine-tuning "
        "run could differ). *vs finetune* = the row's test accuracy minus fine-tuning's at the same epochs, seed by "
        "seed (a seed draws the training, validation and test examples), mean ± 95 % t-interval in points, over "
        "the seeds both have (their number in brackets). "
        "`rationale weight` = 1 − α; `tokens` = rationales cut to that many tokens; `filter` *gold* = rationales "
        "whose teacher answer is not the training example's gold label are dropped (the answer is still learned); "
        "`examples` = training examples the student learned from (the validation split held out).",
        "",
        "| task | examples | mode | teacher | rationale weight | tokens | filter | epochs | seeds | test | validation "
        "| s | vs finetune | finetune, same s |",
        "|---|---:|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines[2:2] = invocations_note([runs])
    for row in rows:
        matched = equal_time(runs, row) if row["mode"] != "finetune" else None
        learns_rationales = row["mode"] not in ANSWER_ONLY
        cells = [
            row["task"],
            str(row["train_examples"]),
            row["mode"],
            row["teacher"],
            f"{row['rationale_weight']:g}" if learns_rationales else "–",
            str(row["rationale_tokens"] or ("full" if learns_rationales else "–")),
            row["rationale_filter"] if learns_rationales else "–",
            str(row["epochs"]),
            str(len(row["seeds"])),
            mean_ci(row["mean"], row["ci95"]),
            f"{row['validation_mean']:.1f}",
            f"{row['seconds_mean']:.0f}",
            _delta_cell(row["finetune_delta"]),
            f"{matched[0]:.1f} ({matched[1]:g} ep{', all' if matched[2] else ''})" if matched else "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _delta_cell(delta: dict[str, Any] | None) -> str:
    return "–" if delta is None else f"{mean_ci(delta['mean'], delta['ci95'], '+')} ({len(delta['seeds'])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="svamp", choices=sorted(SIZES))
    parser.add_argument("--mode", default="finetune", choices=MODES)
    parser.add_argument("--rationale-weight", type=float, default=0.5, help="1 − α")
    parser.add_argument("--rationale-tokens", type=int, default=None, help="cut rationales to this many tokens")
    parser.add_argument(
        "--rationale-filter", default="none", choices=("none", "gold"), help="gold: drop rationales for wrong answers"
    )
    parser.add_argument("--teacher", default=RECORDED)
    parser.add_argument(
        "--train-size", type=int, default=None, help="training examples drawn, validation included (default: per task)"
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rerun", action="store_true", help="run seeds that are recorded already again")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the rows and table from the runs")
    args = parser.parse_args()
    if not args.table_only:
        run_cell(args)
    runs = _load(RUNS)
    rows = summarise(runs)
    write_json("distill_gain", {"benchmark": "distill_gain", "protocol": PROTOCOL, "rows": rows})
    write_section("distill_gain", render(rows, runs))


if __name__ == "__main__":
    main()
