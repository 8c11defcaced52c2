"""``mentor distill``: train a small student LM on a teacher's answers and rationales, and use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from mentor.cli.errors import user_errors
from mentor.cli.options import DataRootOption, StoreOption, with_llm_options
from mentor.distill.config import RECORDED, DistillConfig
from mentor.distill.formats import MODES
from mentor.distill.scorer import ScorerConfig
from mentor.distill.student import DEFAULT_STUDENT
from mentor.llm import LLMClient, LLMConfig
from mentor.outputs import prepare_output_dir

stdout = Console()


class _RunByDefault(TyperGroup):
    """``mentor distill TASK …`` runs ``mentor distill run TASK …``; ``predict`` stays a subcommand."""

    def parse_args(self, ctx, args):  # noqa: ANN001, ANN201
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_RunByDefault, no_args_is_help=True, help="Rationale distillation into a small student LM.")


@app.command("run")
@with_llm_options(exclude=("llm",))
def run(
    task: Annotated[str, typer.Argument(help="svamp, cqa, esnli, anli1, or a directory with train/test.jsonl.")],
    mode: Annotated[str, typer.Option(help=" | ".join(MODES))] = "step-by-step",
    teacher: Annotated[
        str, typer.Option(help="'recorded' (rationales in the data) or an LLM spec, e.g. local:qwen2.5-1.5b.")
    ] = RECORDED,
    student: Annotated[str, typer.Option(help="Built-in name, Hugging Face id or directory.")] = DEFAULT_STUDENT,
    train_size: Annotated[Optional[int], typer.Option(min=2, help="Training examples drawn (10% validate).")] = None,
    test_size: Annotated[Optional[int], typer.Option(min=1, help="Test items scored (fixed sample).")] = None,
    epochs: Annotated[float, typer.Option(min=0.01)] = 3,
    batch_size: Annotated[int, typer.Option(min=1, help="Examples per step.")] = 4,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 5e-5,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="Answer-loss weight (rationale: 1 - alpha).")] = 0.5,
    consistency_weight: Annotated[float, typer.Option(min=0.0, help="λ of the consistency loss.")] = 0.5,
    consistency_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Scorer cut-off.")] = 0.5,
    shots: Annotated[int, typer.Option(min=0, help="Worked examples in a live teacher's prompts.")] = 3,
    max_target_tokens: Annotated[
        int, typer.Option(min=4, help="Cut answers and rationales to this many tokens (e.g. 64: short rationales).")
    ] = 128,
    rationale_filter: Annotated[
        str,
        typer.Option(help="none | gold: drop rationales whose teacher answer is not the gold training label."),
    ] = "none",
    lr_scheduler: Annotated[
        str, typer.Option(help="linear (decay to 0) | constant (epoch e of a longer run = an e-epoch run).")
    ] = "linear",
    warmup_steps: Annotated[int, typer.Option(min=0)] = 0,
    negatives: Annotated[
        str, typer.Option(help="Consistency scorer negatives: auto | near-miss | other-example.")
    ] = "auto",
    scorer_answer_first: Annotated[
        bool, typer.Option(help="The consistency scorer reads the answer before the input (truncation cannot cut it).")
    ] = False,
    test_curve: Annotated[
        bool, typer.Option(help="Also score the test items after every epoch (reported only, never chooses).")
    ] = False,
    lora_r: Annotated[Optional[int], typer.Option(min=1, help="Train LoRA adapters of this rank.")] = None,
    bf16: Annotated[bool, typer.Option(help="bfloat16 mixed precision (GPU, or a CPU with AVX512-BF16).")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[
        Optional[Path], typer.Option(help="Output directory. Default: runs/distill-<task>-<mode>-seed<S>.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print result.json to standard output.")] = False,
    data_root: DataRootOption = None,
    store: StoreOption = None,
    llm_config: Optional[LLMConfig] = None,  # filled in by with_llm_options
) -> None:
    """Train a student on a teacher's labels and rationales; test it on the task's test split."""
    from mentor.distill.run import distill

    if mode not in MODES:
        raise typer.BadParameter(f"expected one of {', '.join(MODES)}", param_hint="--mode")
    assert llm_config is not None
    with user_errors():
        config = DistillConfig(
            task=task,
            data_root=data_root,
            mode=mode,
            teacher=teacher,
            student=student,
            train_size=train_size,
            test_size=test_size,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            alpha=alpha,
            consistency_weight=consistency_weight,
            consistency_threshold=consistency_threshold,
            lora_r=lora_r,
            bf16=bf16,
            shots=shots,
            seed=seed,
            max_target_tokens=max_target_tokens,
            rationale_filter=rationale_filter,
            lr_scheduler=lr_scheduler,
            warmup_steps=warmup_steps,
            test_curve=test_curve,
            scorer=ScorerConfig(negatives=negatives, answer_first=scorer_answer_first),
        )
        out = out or Path("runs") / f"distill-{Path(task).name}-{mode}-seed{seed}"
        prepare_output_dir(out)  # a rerun into the same directory resumes from its checkpoints
        if teacher != RECORDED and mode != "finetune":
            client_config = LLMConfig.model_validate({**llm_config.model_dump(), "llm": teacher})
            with LLMClient(client_config, store=store) as client:
                result = distill(config, out, client, progress=not as_json)
        else:
            result = distill(config, out, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=f"{result['student']} on {result['task']} ({result['mode']}, teacher {result['teacher']})")
    for column in ("", "accuracy"):
        table.add_column(column)
    table.add_row("student, test", f"{result['test_accuracy']:.4f}")
    table.add_row("student, validation", f"{result['validation_accuracy']:.4f}")
    if result["teacher_test_accuracy"]:
        table.add_row("teacher, same test items", f"{result['teacher_test_accuracy']['accuracy']:.4f}")
    stdout.print(table)
    stdout.print(
        f"trained on {result['data']['train_used']} examples ({result['data']['with_rationale']} with a "
        f"rationale; {result['data']['filtered_by_scorer']} rationales filtered by the scorer, "
        f"{result['data']['dropped_disagreeing_with_gold']} for disagreeing with the gold label) "
        f"in {result['seconds']:.0f}s"
    )
    stdout.print(f"wrote {out}/result.json, predictions.jsonl and the student in {out}/student")


@app.command("predict")
def predict(
    run_dir: Annotated[Path, typer.Argument(help="Output directory of a distillation run (or its student/).")],
    inputs: Annotated[list[str], typer.Argument(help="Task inputs to answer.")],
    max_new_tokens: Annotated[
        Optional[int], typer.Option(min=1, help="Default: as the run trained it to answer (48 without reasoning).")
    ] = None,
) -> None:
    """Answer inputs with a trained student alone (``predict:`` prompt; no teacher)."""
    from transformers.utils import logging as hf_logging

    from mentor.distill.predict import Answering, generate_answers, load_trained_student

    hf_logging.disable_progress_bar()
    with user_errors():
        directory = run_dir / "student" if (run_dir / "student").is_dir() else run_dir
        how = Answering.of(directory)
        student = load_trained_student(directory)  # safetensors only: a pickle is refused, never loaded
        answers = generate_answers(
            student.model,
            student.tokenizer,
            inputs,
            student.seq2seq,
            max_new_tokens or how.max_new_tokens,
            reasons_first=how.reasons_first,
        )
    for answer in answers:
        typer.echo(answer)
