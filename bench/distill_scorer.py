"""Which negatives teach the consistency scorer to read an explanation? Scorers trained with near-miss negatives
(the same numbers, another operator) and with other problems' answers, side by side on one task's training set.

    python bench/distill_scorer.py --task svamp
    python bench/distill_scorer.py --task svamp --negatives other-example --answer-first

Each run adds (or replaces) its variants in ``bench/results/distill_scorer_<task>.json``.

Cross-fitted as in ``mentor distill --mode consistency``: each example is scored by a scorer trained on the other
fold. Reported per kind of negatives: the held-out AUC for telling a teacher answer from each kind of wrong answer
(with the teacher's explanation), and how well the score of (gold answer, teacher explanation) singles out the
explanations behind a wrong teacher answer (``teacher_error_check``, threshold 0.5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, machine, write_json, write_section  # noqa: E402

from mentor.distill import load_task  # noqa: E402
from mentor.distill.scorer import (  # noqa: E402
    ConsistencyScorer,
    Pair,
    ScorerConfig,
    teacher_error_check,
    training_pairs,
)
from mentor.distill.tasks import Example, Task  # noqa: E402

KINDS = ("near-miss", "other-example")


def measure(examples: list[Example], task: Task, config: ScorerConfig, threshold: float) -> dict:
    folds = np.array_split(np.random.default_rng(config.seed).permutation(len(examples)), config.folds)
    gold_scores: dict[str, float] = {}
    held_out_auc: dict[str, list[float]] = {kind: [] for kind in KINDS}
    started = time.perf_counter()
    for k, held in enumerate(folds):  # the folds of cross_fitted_scores; each scorer also scores extra pairs
        rest = np.concatenate([f for j, f in enumerate(folds) if j != k])
        pairs = training_pairs([examples[i] for i in rest], task, config.seed + k, config.negatives)
        scorer = ConsistencyScorer.fit(pairs, config)
        held_examples = [examples[i] for i in held]
        gold = scorer.score([Pair(e.input, task.canonical(e.label or ""), e.rationale or "") for e in held_examples])
        gold_scores |= {e.id: float(s) for e, s in zip(held_examples, gold, strict=True)}
        for kind in KINDS:
            pairs = training_pairs(held_examples, task, 100 + k, kind)
            held_out_auc[kind].append(roc_auc_score([p.consistent for p in pairs], scorer.score(pairs)))
    return {
        "examples": len(examples),
        "held_out_auc": {kind: round(float(np.mean(v)), 4) for kind, v in held_out_auc.items()},
        "teacher_error_check": teacher_error_check(examples, gold_scores, task, threshold),
        "seconds": round(time.perf_counter() - started, 1),
    }


def variant_name(negatives: str, answer_first: bool) -> str:
    return negatives + (", answer first" if answer_first else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="svamp")
    parser.add_argument("--negatives", default=",".join(KINDS), help="comma-separated kinds of negatives to train")
    parser.add_argument("--answer-first", action="store_true", help="the scorer reads the answer before the input")
    parser.add_argument("--limit", type=int, default=None, help="use the first N training examples")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    data = load_task(args.task)
    examples = [e for e in data.train if e.label and e.teacher_label and e.rationale][: args.limit]
    path = RESULTS / f"distill_scorer_{args.task}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results = {"benchmark": "distill_scorer", "task": args.task, "variants": results.get("variants", {})}
    for kind in args.negatives.split(","):
        config = ScorerConfig(negatives=kind, answer_first=args.answer_first)
        results["variants"][variant_name(kind, args.answer_first)] = {
            **measure(examples, data.task, config, args.threshold),
            "scorer": config.model_dump(),
            "invocation": "python bench/distill_scorer.py " + " ".join(sys.argv[1:]),
            "machine": machine(),
        }
        write_json(f"distill_scorer_{args.task}", results)  # each variant kept as soon as it is measured
    lines = [
        "## Consistency scorer negatives and input order (`bench/distill_scorer.py`)",
        "",
        f"MiniLM scorers, cross-fitted over 2 folds, trained with each kind of negative on {args.task}'s training "
        "examples that have a gold and a teacher answer; answers written in one form (`Task.canonical`: the gold "
        "`( 84.0 / 2.0 )` and a teacher's `(84 / 2)` read alike); *answer first*: the scorer reads "
        "`Answer: a` before the problem, so that truncation to 256 tokens cannot cut it. *Held-out AUC*: "
        "teacher answer vs. a wrong answer of each kind, with the teacher's explanation. *Teacher errors*: the "
        "score of (gold answer, teacher explanation); how many explanations behind a wrong teacher answer (and "
        f"behind a right one) fall below {args.threshold:g}, and the AUC for telling them apart.",
        "",
        "| scorer | examples | held-out AUC vs near miss | held-out AUC vs other example | wrong teacher "
        "filtered | right teacher filtered | AUC right vs wrong | s | command |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, m in results["variants"].items():
        check = m["teacher_error_check"] or {}
        lines.append(
            f"| {name} | {m['examples']} | {m['held_out_auc']['near-miss']:.2f} | "
            f"{m['held_out_auc']['other-example']:.2f} | "
            f"{check.get('teacher_wrong_filtered')} of {check.get('teacher_wrong')} | "
            f"{check.get('teacher_right_filtered')} of {check.get('scored', 0) - check.get('teacher_wrong', 0)} | "
            f"{check.get('auc_right_vs_wrong')} | {m['seconds']:.0f} | `{m['invocation']}` |"
        )
    write_section(f"distill_scorer_{args.task}", "\n".join(lines))


if __name__ == "__main__":
    main()
