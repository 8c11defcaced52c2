"""The consistency scorer: how well does an explanation support an answer?

A small cross-encoder (MiniLM by default, with a fresh two-way head) reads ``input + answer`` against the
explanation. It is trained by mentor on the teacher's own outputs: positives are teacher answers with their own
explanations, negatives the same explanations paired with another answer: another label or another choice of
the item, and for free-form and arithmetic answers another example's answer (see :class:`ScorerConfig` for the
near-miss negatives of arithmetic answers, which measured worse). Its score is P(consistent) in [0, 1].
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging as hf_logging

from mentor.distill.tasks import Example, Task
from mentor.distill.trainer import RichProgress

Negatives = Literal["auto", "near-miss", "other-example"]


class ScorerConfig(BaseModel):
    """How the scorer is trained."""

    model_config = ConfigDict(frozen=True)
    base: str = Field(default="minilm", description="'minilm' (packaged) or any Hugging Face encoder")
    epochs: float = Field(default=2, gt=0)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=5e-5, gt=0)
    max_length: int = Field(default=256, ge=16)
    folds: int = Field(default=2, ge=2, description="cross-fitting: a pair is never scored by a scorer that saw it")
    negatives: Negatives = Field(
        default="auto",
        description="'near-miss': a wrong answer of the same form (Task.near_misses), else another example's; "
        "'other-example': always another example's answer; 'auto': near misses where the task's "
        "scorer_near_misses says so (not for arithmetic: see bench/distill_scorer.py)",
    )
    answer_first: bool = Field(
        default=False,
        description="read 'Answer: a' before the input, so that truncating a long input cannot cut the answer",
    )
    seed: int = 0


@dataclass(frozen=True)
class Pair:
    """An input, an answer and an explanation; ``consistent`` is the training target (1 or 0)."""

    input: str
    answer: str
    explanation: str
    consistent: int = 1


def _other_answer(
    example: Example, task: Task, pool: Sequence[str], rng: random.Random, negatives: Negatives
) -> str | None:
    own = example.teacher_label or ""
    near = negatives == "near-miss" or (negatives == "auto" and task.scorer_near_misses)
    others = task.near_misses(own, example) if near else []
    if not others:
        others = [c for c in rng.sample(list(pool), min(len(pool), 8)) if not task.same(c, own)]
    return rng.choice(others) if others else None


def training_pairs(examples: Sequence[Example], task: Task, seed: int = 0, negatives: Negatives = "auto") -> list[Pair]:
    """A positive and a negative pair for each example that has a teacher answer and explanation (see
    :class:`ScorerConfig` for ``negatives``)."""
    usable = [e for e in examples if e.teacher_label and e.rationale]
    pool = sorted({e.teacher_label for e in usable if e.teacher_label})
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for example in usable:
        assert example.teacher_label is not None and example.rationale is not None
        pairs.append(Pair(example.input, task.canonical(example.teacher_label), example.rationale, 1))
        other = _other_answer(example, task, pool, rng, negatives)
        if other is not None:
            pairs.append(Pair(example.input, task.canonical(other), example.rationale, 0))
    return pairs


class ConsistencyScorer:
    """A trained cross-encoder that scores (input, answer, explanation) triples."""

    def __init__(self, model: torch.nn.Module, tokenizer, max_length: int = 256, answer_first: bool = False) -> None:
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length
        self.answer_first = answer_first

    def _first(self, pair: Pair) -> str:
        if self.answer_first:
            return f"Answer: {pair.answer}\n{pair.input}"
        return f"{pair.input}\nAnswer: {pair.answer}"

    def _encode(self, pairs: Sequence[Pair]) -> list[dict]:
        encoded = self.tokenizer(
            [self._first(p) for p in pairs],
            [p.explanation for p in pairs],
            truncation="longest_first",  # an explanation longer than max_length is cut too, not an error
            max_length=self.max_length,
        )
        return [{**{k: v[i] for k, v in encoded.items()}, "labels": p.consistent} for i, p in enumerate(pairs)]

    @classmethod
    def fit(
        cls, pairs: Sequence[Pair], config: ScorerConfig | None = None, progress: bool = False
    ) -> ConsistencyScorer:
        """Train a scorer on labelled pairs (see :func:`training_pairs`)."""
        config = config or ScorerConfig()
        if len({p.consistent for p in pairs}) < 2:
            raise ValueError("the scorer needs both consistent and inconsistent pairs to learn from")
        path = _base_path(config.base)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        torch.manual_seed(config.seed)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the new head is meant to be untrained: no load report for it
        try:
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, trust_remote_code=False)
        finally:
            hf_logging.set_verbosity(verbosity)
        scorer = cls(model, tokenizer, config.max_length, config.answer_first)
        with tempfile.TemporaryDirectory() as scratch:
            args = TrainingArguments(
                output_dir=scratch,
                num_train_epochs=config.epochs,
                per_device_train_batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                warmup_steps=0.1,
                seed=config.seed,
                save_strategy="no",
                report_to=[],
                logging_strategy="no",
                disable_tqdm=True,
                use_cpu=not torch.cuda.is_available(),
            )
            trainer = Trainer(
                model=model,
                args=args,
                train_dataset=scorer._encode(pairs),
                data_collator=DataCollatorWithPadding(tokenizer),
            )
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
            if progress:
                trainer.add_callback(RichProgress("training consistency scorer"))
            trainer.train()
        scorer.model = trainer.model.eval()
        return scorer

    @torch.no_grad()
    def score(self, pairs: Sequence[Pair], batch_size: int = 64) -> np.ndarray:
        """P(consistent) for each pair."""
        out: list[np.ndarray] = []
        collate = DataCollatorWithPadding(self.tokenizer)
        device = next(self.model.parameters()).device
        for start in range(0, len(pairs), batch_size):
            batch = collate(
                [
                    {k: v for k, v in row.items() if k != "labels"}
                    for row in self._encode(pairs[start : start + batch_size])
                ]
            )
            logits = self.model(**{k: v.to(device) for k, v in batch.items()}).logits
            out.append(torch.softmax(logits.float(), -1)[:, 1].cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path, max_length: int = 256, answer_first: bool = False) -> ConsistencyScorer:
        return cls(
            AutoModelForSequenceClassification.from_pretrained(directory, trust_remote_code=False),
            AutoTokenizer.from_pretrained(directory, trust_remote_code=False),
            max_length,
            answer_first,
        )


def _base_path(base: str) -> str:
    if base == "minilm":
        from mentor.graph.features.encoder import packaged_encoder_path

        return str(packaged_encoder_path("minilm"))
    return base


def cross_fitted_scores(
    examples: Sequence[Example],
    answers: Sequence[str | None],
    task: Task,
    config: ScorerConfig | None = None,
    progress: bool = False,
) -> np.ndarray:
    """P(``answers[i]`` is supported by ``examples[i].rationale``), each from a scorer trained on the other folds'
    teacher outputs, so that no score comes from a scorer that saw the pair. NaN where there is nothing to score."""
    config = config or ScorerConfig()
    scores = np.full(len(examples), np.nan)
    order = np.random.default_rng(config.seed).permutation(len(examples))
    folds = np.array_split(order, config.folds)
    for k, held_out in enumerate(folds):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != k])
        scorer = ConsistencyScorer.fit(
            training_pairs([examples[i] for i in rest], task, config.seed + k, config.negatives), config, progress
        )
        targets = [i for i in held_out if examples[i].rationale and answers[i]]
        # answers in one form: gold and teacher answers can be written differently (SVAMP)
        pairs = [
            Pair(examples[i].input, task.canonical(answers[i] or ""), examples[i].rationale or "") for i in targets
        ]
        scores[targets] = scorer.score(pairs)
    return scores


def teacher_error_check(
    examples: Sequence[Example], scores: dict[str, float | None], task: Task, threshold: float
) -> dict[str, float | int | None] | None:
    """How well the scores single out rationales whose teacher answer was wrong, on examples with a gold label.

    When the student learns gold answers, a rationale written for a wrong teacher answer should score low: this
    reports how many of those (and of the right ones) fell below ``threshold``, and the AUC of the score for
    telling right from wrong (0.5: no better than chance). None when no example has both answers and a score."""
    from sklearn.metrics import roc_auc_score

    known = [
        e for e in examples if e.label is not None and e.teacher_label is not None and scores.get(e.id) is not None
    ]
    if not known:
        return None
    right = np.array([bool(task.is_correct(e.teacher_label, e)) for e in known])
    values = np.array([scores[e.id] for e in known], dtype=float)
    low = values < threshold
    both = 0 < right.sum() < len(right)
    return {
        "scored": len(known),
        "teacher_wrong": int((~right).sum()),
        "teacher_wrong_filtered": int((low & ~right).sum()),
        "teacher_right_filtered": int((low & right).sum()),
        "auc_right_vs_wrong": round(float(roc_auc_score(right, values)), 4) if both else None,
    }
