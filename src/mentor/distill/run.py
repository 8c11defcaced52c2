"""A distillation run, end to end: data, teacher outputs, (consistency scores), student training, test accuracy.

Everything a run writes goes under one output directory: ``config.json`` (to refuse mixing two runs),
``checkpoints/`` (one per epoch; a rerun resumes from the last), ``consistency_scores.json``, the trained
``student/`` in the standard Hugging Face layout, ``predictions.jsonl`` and ``result.json``.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from transformers import PrinterCallback, ProgressCallback, TrainingArguments
from transformers.utils import logging as hf_logging

from mentor import outputs
from mentor.distill.config import RECORDED, DistillConfig
from mentor.distill.encoding import RowCollator, clip_text, encode_row
from mentor.distill.formats import REASONS_FIRST, answer_target, disagrees_with_gold, rows_for
from mentor.distill.loss import coefficients
from mentor.distill.predict import ANSWERING, Answering, generate_answers
from mentor.distill.scorer import cross_fitted_scores, teacher_error_check
from mentor.distill.student import Student, load_student
from mentor.distill.tasks import Example, TaskData, load_task
from mentor.distill.teacher import ask_teacher, pick_shots
from mentor.distill.trainer import DistillTrainer, RichProgress, last_complete_checkpoint, learning_curve
from mentor.llm import LLMClient


class RunMismatch(ValueError):
    """The output directory holds another run's state."""


@dataclass
class Prepared:
    """The examples a run trains, selects and tests on, and what became of the teacher's outputs."""

    data: TaskData
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    counts: dict[str, Any] = field(default_factory=dict)


def _sample(examples: list[Example], size: int | None, seed: int) -> list[Example]:
    if size is None or size >= len(examples):
        return list(examples)
    return [examples[i] for i in sorted(random.Random(seed).sample(range(len(examples)), size))]


class Distillation:
    """One run of ``config``; ``client`` answers for a live teacher (``config.teacher`` an LLM spec)."""

    def __init__(
        self, config: DistillConfig, out: Path, client: LLMClient | None = None, progress: bool = True
    ) -> None:
        if config.teacher != RECORDED and config.mode != "finetune" and client is None:
            raise ValueError(f"teacher {config.teacher!r}: an LLM client is needed")
        self.config, self.out, self.client, self.progress = config, Path(out), client, progress

    # -- data ------------------------------------------------------------------------------------------------

    def prepare(self) -> Prepared:
        """Load and sample the examples, and attach the teacher's outputs."""
        config = self.config
        data = load_task(config.task, config.data_root, teacher=config.teacher == RECORDED)
        drawn = _sample(data.train, config.train_size, config.seed)
        order = random.Random(config.seed + 1).sample(drawn, len(drawn))
        n_val = max(1, round(config.validation_fraction * len(order)))
        validation, train = sorted(order[:n_val], key=drawn.index), sorted(order[n_val:], key=drawn.index)
        test = _sample(data.test, config.test_size, 0)  # the same test items whatever the seed
        counts: dict[str, Any] = {"train_drawn": len(drawn), "validation": len(validation), "test": len(test)}
        if config.teacher != RECORDED and config.mode != "finetune":
            assert self.client is not None
            drawn_ids = {e.id for e in drawn}
            shots = pick_shots([e for e in data.train if e.id not in drawn_ids] or data.train, config.shots)
            answers = ask_teacher(self.client, data.task, train + validation, shots, progress=self.progress)
            taught = [e.with_teacher(a.label, a.rationale) for e, a in zip(train + validation, answers, strict=True)]
            train, validation = taught[: len(train)], taught[len(train) :]
            counts["teacher_failures"] = sum(a.failure is not None for a in answers)
            counts["teacher_shots"] = [e.id for e in shots]
            counts["teacher_usage"] = self.client.usage()
        return Prepared(data, train, validation, test, counts)

    def clipped(self, prepared: Prepared, tokenizer) -> Prepared:
        """The same examples with inputs cut to ``max_input_tokens`` of the student's tokenizer."""

        def clip(examples: list[Example]) -> list[Example]:
            return [replace(e, input=clip_text(tokenizer, e.input, self.config.max_input_tokens)) for e in examples]

        return replace(
            prepared, train=clip(prepared.train), validation=clip(prepared.validation), test=clip(prepared.test)
        )

    def consistency_weights(self, prepared: Prepared) -> dict[str, float]:
        """Each training example's consistency score (cross-fitted, cached in the output directory)."""
        path = self.out / "consistency_scores.json"
        if path.is_file():
            return json.loads(path.read_text())
        answers = [answer_target(e, self.config.mode) for e in prepared.train]
        scores = cross_fitted_scores(prepared.train, answers, prepared.data.task, self.config.scorer, self.progress)
        weights = {
            e.id: (None if np.isnan(s) else round(float(s), 6)) for e, s in zip(prepared.train, scores, strict=True)
        }
        outputs.write_json(path, weights)
        return weights

    # -- training --------------------------------------------------------------------------------------------

    def _check_out(self) -> None:
        path = self.out / "config.json"
        mine = self.config.model_dump(mode="json")
        if path.is_file():
            theirs = json.loads(path.read_text())
            try:  # a run written before a setting existed had that setting's default
                theirs = DistillConfig.model_validate(theirs).model_dump(mode="json")
            except ValidationError:
                pass
            if theirs != mine:
                changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise RunMismatch(
                    f"{self.out} holds a run with other settings ({', '.join(changed)}); "
                    "choose another --out or delete it"
                )

    def run(self) -> dict[str, Any]:
        """Train the student and return (and write) ``result.json``."""
        config = self.config
        started = time.perf_counter()
        hf_logging.disable_progress_bar()  # file writes and weight loading: the run shows its own progress
        self._check_out()
        prepared = self.prepare()
        outputs.write_json(self.out / "config.json", config.model_dump(mode="json"))
        student = load_student(config.student, lora_r=config.lora_r, seed=config.seed)
        prepared = self.clipped(prepared, student.tokenizer)
        weights: dict[str, float | None] = {}
        if config.mode == "consistency":
            weights = self.consistency_weights(prepared)
        rows, kept = [], {"answer": 0, "rationale": 0, "filtered": 0, "disagreeing": 0}
        for example in prepared.train:
            if disagrees_with_gold(example, prepared.data.task):
                kept["disagreeing"] += 1
                if config.rationale_filter == "gold":
                    example = replace(example, rationale=None)
            weight = 1.0
            if config.mode == "consistency":
                score = weights.get(example.id)
                weight = 0.0 if score is None or score < config.consistency_threshold else score
                kept["filtered"] += int(bool(example.rationale) and weight == 0.0)
            example_rows = rows_for(example, config.mode, weight)
            if example_rows:
                kept["answer"] += 1
                kept["rationale"] += int(any(r.kind == "explain" or r.rationale for r in example_rows))
                rows.append(
                    [encode_row(student.tokenizer, r, student.seq2seq, config.max_target_tokens) for r in example_rows]
                )
        if not rows:
            raise ValueError(f"{config.task}: no training example has an answer to learn under mode {config.mode!r}")
        trainer = self._trainer(student, prepared, rows)
        last = last_complete_checkpoint(self.out / "checkpoints")
        train_output = trainer.train(resume_from_checkpoint=last)
        validation_accuracy = trainer.answer_accuracy(prepared.validation)
        test_answers = generate_answers(
            trainer.model,  # the best epoch's weights (load_best_model_at_end)
            student.tokenizer,
            [e.input for e in prepared.test],
            student.seq2seq,
            config.answer_tokens,
            16,
            reasons_first=config.mode in REASONS_FIRST,
        )
        self._save_student(trainer, student)
        task = prepared.data.task
        correct = [task.is_correct(a, e) for a, e in zip(test_answers, prepared.test, strict=True)]
        outputs.write_text(
            self.out / "predictions.jsonl",
            "".join(
                json.dumps(
                    {"id": e.id, "input": e.input, "answer": a, "gold": e.label, "correct": c}, ensure_ascii=False
                )
                + "\n"
                for e, a, c in zip(prepared.test, test_answers, correct, strict=True)
            ),
        )
        result = {
            "task": prepared.data.task.name,
            "mode": config.mode,
            "teacher": config.teacher,
            "student": config.student,
            "test_accuracy": round(sum(correct) / len(correct), 4) if correct else None,
            "validation_accuracy": round(validation_accuracy, 4),
            "teacher_test_accuracy": self._teacher_test_accuracy(prepared),
            "data": {
                **prepared.counts,
                "train_used": kept["answer"],
                "with_rationale": kept["rationale"],
                "filtered_by_scorer": kept["filtered"],
                # training rationales whose teacher answer is missing or not the gold label (the teacher's errors)
                "rationales_disagreeing_with_gold": kept["disagreeing"],
                # of those, the ones dropped by rationale_filter="gold"
                "dropped_disagreeing_with_gold": kept["disagreeing"] if config.rationale_filter == "gold" else 0,
                # None outside consistency mode: there are no scores then
                "scorer_check": teacher_error_check(
                    prepared.train, weights, prepared.data.task, config.consistency_threshold
                ),
                "teacher_parse_failures": prepared.data.teacher_parse_failures,
            },
            "loss_coefficients": coefficients(config.mode, config.alpha, config.consistency_weight),
            "training": {
                "steps": train_output.global_step,
                "train_loss": round(train_output.training_loss, 4),
                "resumed_from": Path(last).name if last else None,
                "best_checkpoint": trainer.state.best_model_checkpoint,
                "best_validation_accuracy": trainer.state.best_metric,
                "loss_history": trainer.history[-50:],
                "curve": learning_curve(trainer.state.log_history),
            },
            "seconds": round(time.perf_counter() - started, 1),
            "config": config.model_dump(mode="json"),
            "versions": outputs.versions(("torch", "transformers", "peft", "sentence-transformers")),
        }
        outputs.write_json(self.out / "result.json", result)
        return result

    def _trainer(self, student: Student, prepared: Prepared, rows: list) -> DistillTrainer:
        config = self.config
        args = TrainingArguments(
            output_dir=str(self.out / "checkpoints"),
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=16,
            learning_rate=config.learning_rate,
            lr_scheduler_type="constant_with_warmup" if config.lr_scheduler == "constant" else "linear",
            warmup_steps=config.warmup_steps,
            seed=config.seed,
            data_seed=config.seed,
            eval_strategy="epoch",
            save_strategy="epoch",
            save_total_limit=2,
            load_best_model_at_end=True,
            metric_for_best_model="accuracy",
            greater_is_better=True,
            logging_steps=10,
            report_to=[],
            remove_unused_columns=False,
            disable_tqdm=True,
            use_cpu=not _cuda(),
            bf16=config.bf16,
            save_only_model=False,
        )
        trainer = DistillTrainer(
            model=student.model,
            args=args,
            train_dataset=rows,
            eval_dataset=prepared.validation,  # read by DistillTrainer.evaluate, which scores answers
            data_collator=RowCollator(student.tokenizer.pad_token_id, seq2seq=student.seq2seq),
            processing_class=student.tokenizer,
            coefficients=coefficients(config.mode, config.alpha, config.consistency_weight),
            seq2seq=student.seq2seq,
            task=prepared.data.task,
            mode=config.mode,
            validation=prepared.validation,
            max_new_tokens=config.answer_tokens,
            curve=prepared.test if config.test_curve else (),
        )
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        if self.progress:
            trainer.add_callback(RichProgress(f"{config.task} · {config.mode}"))
        return trainer

    def _save_student(self, trainer: DistillTrainer, student: Student) -> None:
        model = trainer.model
        if self.config.lora_r is not None:
            model = model.merge_and_unload()
        target = self.out / "student"
        scratch = self.out / ".student.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        model.save_pretrained(scratch)
        student.tokenizer.save_pretrained(scratch)
        how = Answering(reasons_first=self.config.mode in REASONS_FIRST, max_new_tokens=self.config.answer_tokens)
        outputs.write_json(scratch / ANSWERING, how.model_dump())
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)

    def _teacher_test_accuracy(self, prepared: Prepared) -> dict[str, Any] | None:
        known = [e for e in prepared.test if e.teacher_label is not None or e.rationale is not None]
        if not known or self.config.teacher != RECORDED:
            return None
        task = prepared.data.task
        hits = sum(task.is_correct(e.teacher_label, e) for e in prepared.test)
        return {
            "accuracy": round(hits / len(prepared.test), 4),
            "items": len(prepared.test),
            "unparsed_counted_wrong": sum(e.teacher_label is None for e in prepared.test),
        }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def distill(config: DistillConfig, out: Path, client: LLMClient | None = None, progress: bool = True) -> dict[str, Any]:
    """Run a distillation (see :class:`Distillation`) and return its ``result.json``."""
    return Distillation(config, out, client, progress).run()
