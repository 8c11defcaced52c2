"""Seconds per training step of the distillation student, float32 vs bfloat16 autocast, side by side.

One step = ``--batch-size`` training examples of a task, encoded as each mode encodes them (finetune: 1 row per
example, step-by-step: 2, consistency: 3), forward + backward + AdamW, the way ``DistillConfig(bf16=...)`` trains.
Both precisions run in the same process on the same batches, alternating, so the ratio is measured side by side.

    python bench/distill_step_time.py --task svamp --steps 4
"""

from __future__ import annotations

import argparse
import contextlib
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
from mentor.distill.student import load_student  # noqa: E402

MODES = ("finetune", "step-by-step", "consistency")


def _autocast(precision: str, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="svamp")
    parser.add_argument("--student", default="smollm2-135m")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per mode and precision (after 1 warm-up)")
    args = parser.parse_args()

    student = load_student(args.student, seed=0)
    model, tokenizer = student.model, student.tokenizer
    device = next(model.parameters()).device
    data = load_task(args.task)
    examples = data.train[: args.batch_size * (args.steps + 1)]
    collate = RowCollator(tokenizer.pad_token_id)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-6)
    model.train()
    rows: dict[str, dict[str, float]] = {}
    for mode in MODES:
        encoded = [[encode_row(tokenizer, r, student.seq2seq) for r in rows_for(e, mode)] for e in examples]
        batches = [collate(encoded[i : i + args.batch_size]) for i in range(0, len(encoded), args.batch_size)]
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for index, batch in enumerate(batches):
            for precision in ("fp32", "bf16") if index % 2 == 0 else ("bf16", "fp32"):
                started = time.perf_counter()
                with _autocast(precision, device):
                    loss = model(
                        input_ids=batch["input_ids"].to(device),
                        attention_mask=batch["attention_mask"].to(device),
                        labels=batch["labels"].to(device),
                    ).loss
                loss.backward()
                optimiser.step()
                optimiser.zero_grad()
                if index:  # the first batch warms up
                    times[precision].append(time.perf_counter() - started)
        fp32, bf16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
        rows[mode] = {
            "fp32_s_per_step": round(fp32, 2),
            "bf16_s_per_step": round(bf16, 2),
            "speed-up": round(fp32 / bf16, 2),
            "rows_per_step": int(batches[1]["input_ids"].shape[0]),
            "tokens_per_step": int(batches[1]["attention_mask"].sum()),
        }
        print(mode, rows[mode], flush=True)
    invocation = "python bench/distill_step_time.py " + " ".join(sys.argv[1:])
    host = machine()
    write_json(
        "distill_step_time",
        {
            "benchmark": "distill_step_time",
            "invocation": invocation,
            "task": args.task,
            "student": args.student,
            "batch_size": args.batch_size,
            "device": str(device),
            "machine": host,
            "modes": rows,
        },
    )
    lines = [
        "## Student training step time: float32 vs bfloat16 (`bench/distill_step_time.py`)",
        "",
        f"Median seconds per training step (forward, backward, AdamW) of `{args.student}` on {args.batch_size} "
        f"{args.task} training examples, on `{device}` of this machine ({host['cpus']} CPUs), both precisions "
        f"alternating on the same batches (`{invocation}`). `bf16` = `DistillConfig(bf16=True)` / "
        "`mentor distill --bf16`: bfloat16 autocast, float32 weights.",
        "",
        "| mode | rows/step | tokens/step | float32 s/step | bf16 s/step | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, row in rows.items():
        lines.append(
            f"| {mode} | {row['rows_per_step']} | {row['tokens_per_step']} | {row['fp32_s_per_step']} | "
            f"{row['bf16_s_per_step']} | {row['speed-up']}× |"
        )
    write_section("distill_step_time", "\n".join(lines))


if __name__ == "__main__":
    main()
