"""Training a student with the Hugging Face ``Trainer``: the multi-task loss, and model selection by the
accuracy of its ``predict:`` answers on a validation split (carved from training data, never the test set).

Each evaluation also logs the training seconds so far and, when the trainer is given test examples to chart
(``curve``), their accuracy: a learning curve for reports, never read by model selection."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from mentor.distill.encoding import logits_needed
from mentor.distill.formats import REASONS_FIRST, Mode, answer_target
from mentor.distill.loss import multitask_loss, term_losses
from mentor.distill.predict import generate_answers
from mentor.distill.tasks import Example, Task
from mentor.progress import Lines, bars

#: rows a causal student reads in one forward pass: a batch's rows are sorted by length and read in groups
ROWS_PER_FORWARD = 8


def causal_term_losses(model, inputs, labels, label_kinds, rows_per_forward: int = ROWS_PER_FORWARD):  # noqa: ANN001, ANN201
    """:func:`~mentor.distill.loss.term_losses` of a left-padded causal batch (:class:`RowCollator`), computed
    ``rows_per_forward`` rows of similar length at a time, each group cut to its longest row and given logits for
    its target columns only: on a CPU, padding and the vocabulary projection of prompt tokens are much of a mixed
    batch's cost. Returns the losses, which rows have which term, and the last group's model outputs."""
    lengths = inputs["attention_mask"].sum(1)
    order = torch.argsort(lengths, stable=True)
    all_losses, all_present = [], []
    for group in order.split(rows_per_forward):
        width = int(lengths[group].max())
        part = {name: inputs[name][group, -width:] for name in ("input_ids", "attention_mask", "position_ids")}
        part_labels, part_kinds = labels[group, -width:], label_kinds[group, -width:]
        outputs = model(**part, logits_to_keep=logits_needed(part_labels))
        losses, present = term_losses(outputs.logits, part_labels, part_kinds, shift=True)
        all_losses.append(losses)
        all_present.append(present)
    restore = torch.argsort(order)
    return torch.cat(all_losses)[restore], torch.cat(all_present)[restore], outputs


class DistillTrainer(Trainer):
    """A ``Trainer`` whose loss is :func:`mentor.distill.loss.multitask_loss` and whose evaluation is answer
    accuracy on validation examples (``eval_accuracy``)."""

    def __init__(
        self,
        *args: Any,
        coefficients: Mapping[str, float],
        seq2seq: bool,
        task: Task,
        mode: Mode,
        validation: Sequence[Example],
        max_new_tokens: int = 48,
        curve: Sequence[Example] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.coefficients, self.seq2seq, self.task, self.mode = dict(coefficients), seq2seq, task, mode
        self.validation, self.max_new_tokens, self.curve = list(validation), max_new_tokens, list(curve)
        self.history: list[dict[str, float]] = []
        self.add_callback(_TrainingClock(self))
        self.clock_started, self.reporting_seconds = time.perf_counter(), 0.0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        weight, labels, label_kinds = inputs.pop("weight"), inputs.pop("labels"), inputs.pop("label_kinds")
        if self.seq2seq:
            outputs = model(**inputs, labels=labels)
            losses, present = term_losses(outputs.logits, labels, label_kinds, shift=False)
        else:
            losses, present, outputs = causal_term_losses(model, inputs, labels, label_kinds)
        loss, parts = multitask_loss(losses, present, weight, self.coefficients)
        if model.training and self.state.global_step % max(1, self.args.logging_steps) == 0:
            self.history.append({"step": self.state.global_step, "loss": float(loss.detach()), **parts})
        return (loss, outputs) if return_outputs else loss

    def answer_accuracy(self, examples: Sequence[Example], gold: bool = False) -> float:
        """Share of ``examples`` whose answer target under the run's mode (gold for ``finetune``, the teacher's
        for ``label``, gold else the teacher's otherwise), or whose gold answer with ``gold``, the student's
        ``predict:`` answer matches."""
        target = (lambda e: e.label) if gold else (lambda e: answer_target(e, self.mode))
        scored = [e for e in examples if target(e)]
        if not scored:
            return 0.0
        answers = generate_answers(
            self.model,
            self.processing_class,
            [e.input for e in scored],
            self.seq2seq,
            self.max_new_tokens,
            self.args.per_device_eval_batch_size,
            reasons_first=self.mode in REASONS_FIRST,
        )
        hits = sum(self.task.is_correct(a, e, target(e)) for a, e in zip(answers, scored, strict=True))
        return hits / len(scored)

    def training_seconds(self) -> float:
        """Seconds spent training so far, across resumed runs, without the time spent charting test accuracy."""
        return time.perf_counter() - self.clock_started - self.reporting_seconds

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:  # noqa: ANN001
        metrics = {
            f"{metric_key_prefix}_accuracy": self.answer_accuracy(self.validation),
            "epoch": float(self.state.epoch or 0),
            "training_seconds": round(self.training_seconds(), 1),
        }
        if self.curve:
            started = time.perf_counter()
            metrics["curve_test_accuracy"] = self.answer_accuracy(self.curve, gold=True)
            self.reporting_seconds += time.perf_counter() - started
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class _TrainingClock(TrainerCallback):
    """Starts the trainer's clock when training starts, from the seconds a resumed run had already logged."""

    def __init__(self, trainer: DistillTrainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        logged = [entry["training_seconds"] for entry in state.log_history if "training_seconds" in entry]
        self.trainer.clock_started = time.perf_counter() - (logged[-1] if logged else 0.0)
        self.trainer.reporting_seconds = 0.0


def learning_curve(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """One entry per evaluation logged by :class:`DistillTrainer`: epoch, validation accuracy, training seconds
    and, where charted, test accuracy."""
    names = {"epoch": "epoch", "eval_accuracy": "validation_accuracy", "training_seconds": "training_seconds"}
    names["curve_test_accuracy"] = "test_accuracy"
    return [
        {ours: entry[theirs] for theirs, ours in names.items() if theirs in entry}
        for entry in log_history
        if "eval_accuracy" in entry
    ]


class RichProgress(TrainerCallback):
    """Progress over training steps with the latest loss and validation accuracy: a Rich bar on a terminal,
    throttled plain lines in a log (:mod:`mentor.progress`)."""

    def __init__(self, description: str = "training student") -> None:
        self.description = description
        self.progress = None
        self.task_id = None
        self.lines: Lines | None = None
        self.status = ""

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        if not bars():
            self.lines = Lines(self.description, state.max_steps, "steps", note=lambda: self.status)
            self.lines.done = state.global_step  # a resumed run starts where it stopped
            self.lines.start()
            return
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.progress.start()
        self.task_id = self.progress.add_task(
            self.description, total=state.max_steps, completed=state.global_step, status=""
        )

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.lines is not None:
            self.lines.update(state.global_step)
        if self.progress is not None:
            self.progress.update(self.task_id, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        shown = {k: v for k, v in (logs or {}).items() if k in ("loss", "eval_accuracy")}
        if shown:
            self.status = " ".join(f"{k} {v:.3f}" for k, v in shown.items())
            if self.progress is not None:
                self.progress.update(self.task_id, status=self.status)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.lines is not None:
            self.lines.finish()
            self.lines = None
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` in ``folder`` that was written to the end (the Trainer saves its state file
    last); a run killed while saving leaves a newer, partial one that cannot be resumed. None if there is none."""
    steps = {
        int(path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")): path
        for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-").isdigit() and (path / TRAINER_STATE_NAME).is_file()
    }
    return str(steps[max(steps)]) if steps else None
