"""Training a student with the Hugging Face ``Trainer``: the multi-task loss, and model selection by the
accuracy of its ``predict:`` answers on a validation split (carved from training data, never the test set)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from mentor.distill.formats import Mode, answer_target
from mentor.distill.loss import multitask_loss, row_losses
from mentor.distill.predict import generate_answers
from mentor.distill.tasks import Example, Task


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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.coefficients, self.seq2seq, self.task, self.mode = dict(coefficients), seq2seq, task, mode
        self.validation, self.max_new_tokens = list(validation), max_new_tokens
        self.history: list[dict[str, float]] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        kind, weight, labels = inputs.pop("kind"), inputs.pop("weight"), inputs.pop("labels")
        if self.seq2seq:
            outputs = model(**inputs, labels=labels)
        else:
            outputs = model(**inputs)
        losses = row_losses(outputs.logits, labels, shift=not self.seq2seq)
        loss, parts = multitask_loss(losses, kind, weight, self.coefficients)
        if model.training and self.state.global_step % max(1, self.args.logging_steps) == 0:
            self.history.append({"step": self.state.global_step, "loss": float(loss.detach()), **parts})
        return (loss, outputs) if return_outputs else loss

    def answer_accuracy(self, examples: Sequence[Example]) -> float:
        """Share of ``examples`` whose answer target under the run's mode (gold for ``finetune``, the teacher's
        for ``label``, gold else the teacher's otherwise) the student's ``predict:`` answer matches."""
        scored = [e for e in examples if answer_target(e, self.mode)]
        if not scored:
            return 0.0
        answers = generate_answers(
            self.model,
            self.processing_class,
            [e.input for e in scored],
            self.seq2seq,
            self.max_new_tokens,
            self.args.per_device_eval_batch_size,
        )
        hits = sum(
            self.task.is_correct(a, e, answer_target(e, self.mode)) for a, e in zip(answers, scored, strict=True)
        )
        return hits / len(scored)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:  # noqa: ANN001
        metrics = {
            f"{metric_key_prefix}_accuracy": self.answer_accuracy(self.validation),
            "epoch": float(self.state.epoch or 0),
        }
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class RichProgress(TrainerCallback):
    """A Rich progress bar over training steps, with the latest loss, validation accuracy and time left."""

    def __init__(self, description: str = "training student") -> None:
        self.description = description
        self.progress = None
        self.task_id = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
        if self.progress is not None:
            self.progress.update(self.task_id, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if self.progress is not None and logs:
            shown = {k: v for k, v in logs.items() if k in ("loss", "eval_accuracy")}
            if shown:
                self.progress.update(self.task_id, status=" ".join(f"{k} {v:.3f}" for k, v in shown.items()))

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
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
