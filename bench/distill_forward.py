"""Seconds per training example of the student: grouped forward passes with target-only logits vs one padded pass.

A training step reads a batch of rows. *one pass*: the whole batch padded to its longest row, logits over the
vocabulary at every position (how mentor trained before). *grouped*: rows sorted by length and read 8 at a time,
each group cut to its longest row, logits only for target columns
(:func:`mentor.distill.trainer.causal_term_losses`, how it trains now). Both compute the same loss; they run in one
process on the same batches, alternating, bf16 autocast, forward + backward + AdamW, so the ratio is side by side.

    python bench/distill_forward.py --task svamp --batch-size 16 --steps 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_json, write_section  # noqa: E402

from mentor.distill import load_task  # noqa: E402
from mentor.distill.encoding import RowCollator, encode_row  # noqa: E402
from mentor.distill.formats import rows_for  # noqa: E402
from mentor.distill.loss import coefficients, multitask_loss, term_losses  # noqa: E402
from mentor.distill.student import load_student  # noqa: E402
from mentor.distill.trainer import ROWS_PER_FORWARD, causal_term_losses  # noqa: E402

MODES = ("finetune", "step-by-step", "answer-then-rationale")
INPUTS = ("input_ids", "attention_mask", "position_ids")


def _one_pass(model, batch):  # noqa: ANN001, ANN202
    logits = model(**{k: batch[k] for k in INPUTS}).logits
    return term_losses(logits, batch["labels"], batch["label_kinds"], shift=True)


def _grouped(model, batch):  # noqa: ANN001, ANN202
    losses, present, _ = causal_term_losses(model, {k: batch[k] for k in INPUTS}, batch["labels"], batch["label_kinds"])
    return losses, present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="svamp")
    parser.add_argument("--student", default="smollm2-135m")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per mode and way (after 1 warm-up)")
    args = parser.parse_args()

    student = load_student(args.student, seed=0)
    model, tokenizer = student.model, student.tokenizer
    examples = load_task(args.task).train[: args.batch_size * (args.steps + 1)]
    collate = RowCollator(tokenizer.pad_token_id)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-6)
    model.train()
    ways = {"one pass": _one_pass, "grouped": _grouped}
    rows: dict[str, dict[str, float]] = {}
    for mode in MODES:
        encoded = [[encode_row(tokenizer, r, False) for r in rows_for(e, mode)] for e in examples]
        batches = [collate(encoded[i : i + args.batch_size]) for i in range(0, len(encoded), args.batch_size)]
        times: dict[str, list[float]] = {way: [] for way in ways}
        for index, batch in enumerate(batches):
            for way in ways if index % 2 == 0 else reversed(ways):
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    losses, present = ways[way](model, batch)
                    loss, _ = multitask_loss(losses, present, batch["weight"], coefficients(mode))
                loss.backward()
                optimiser.step()
                optimiser.zero_grad()
                if index:  # the first batch warms up
                    times[way].append(time.perf_counter() - started)
        one, grouped = statistics.median(times["one pass"]), statistics.median(times["grouped"])
        rows[mode] = {
            "rows_per_step": int(batches[1]["input_ids"].shape[0]),
            "tokens_per_step": int(batches[1]["attention_mask"].sum()),
            "padded_tokens_per_step": int(batches[1]["attention_mask"].numel()),
            "one_pass_s_per_example": round(one / args.batch_size, 3),
            "grouped_s_per_example": round(grouped / args.batch_size, 3),
            "speed-up": round(one / grouped, 2),
        }
        print(mode, rows[mode], flush=True)
    invocation = "python bench/distill_forward.py " + " ".join(sys.argv[1:])
    host = machine()
    write_json(
        "distill_forward",
        {"benchmark": "distill_forward", "invocation": invocation, "rows_per_forward": ROWS_PER_FORWARD, **vars(args),
         "machine": host, "modes": rows},
    )  # fmt: skip
    lines = [
        "## Student training: grouped, target-only forward passes (`bench/distill_forward.py`)",
        "",
        f"Median seconds per training example (forward, backward, AdamW; bf16 autocast) of `{args.student}` at "
        f"{args.batch_size} {args.task} examples a step, on this machine's {host['cpus']} CPUs, both ways "
        f"alternating on the same batches (`{invocation}`). *one pass*: the batch padded to its longest row, "
        f"logits at every position. *grouped*: rows sorted by length, {ROWS_PER_FORWARD} at a time, each group cut "
        "to its longest row, logits for target columns only (how `mentor distill` trains).",
        "",
        "| mode | rows/step | tokens/step (padded) | one pass s/example | grouped s/example | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, row in rows.items():
        lines.append(
            f"| {mode} | {row['rows_per_step']} | {row['tokens_per_step']} ({row['padded_tokens_per_step']}) | "
            f"{row['one_pass_s_per_example']} | {row['grouped_s_per_example']} | {row['speed-up']}× |"
        )
    write_section("distill_forward", "\n".join(lines))


if __name__ == "__main__":
    main()
