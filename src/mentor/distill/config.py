"""Settings of a distillation run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mentor.distill.formats import REASONS_FIRST, Mode
from mentor.distill.scorer import ScorerConfig
from mentor.distill.student import DEFAULT_STUDENT

RECORDED = "recorded"


class DistillConfig(BaseModel):
    """Everything that determines a run's result (with the data and the teacher's answers)."""

    model_config = ConfigDict(frozen=True)
    task: str
    data_root: Path | None = None
    mode: Mode = "step-by-step"
    teacher: str = Field(default=RECORDED, description="'recorded' (outputs in the data) or an LLM spec")
    student: str = DEFAULT_STUDENT
    train_size: int | None = Field(default=None, ge=2, description="training examples drawn (validation included)")
    validation_fraction: float = Field(default=0.1, gt=0, lt=1)
    test_size: int | None = Field(default=None, ge=1, description="test items scored (a fixed sample); all if None")
    epochs: float = Field(default=3, gt=0)
    batch_size: int = Field(default=4, ge=1, description="examples per step (each gives 1–3 rows)")
    learning_rate: float = Field(default=5e-5, gt=0)
    lr_scheduler: Literal["linear", "constant"] = Field(
        default="linear",
        description="linear decay to 0 over the run, or constant (then the model after epoch e of a longer run is "
        "the model of an e-epoch run)",
    )
    warmup_steps: int = Field(default=0, ge=0)
    alpha: float = Field(default=0.5, ge=0, le=1, description="weight of the answer loss; 1 − alpha: rationale")
    consistency_weight: float = Field(default=0.5, ge=0, description="λ, weight of the consistency loss")
    consistency_threshold: float = Field(default=0.5, ge=0, le=1, description="pairs scored below are dropped")
    rationale_filter: Literal["none", "gold"] = Field(
        default="none",
        description="'gold': drop each rationale whose teacher answer disagrees with the training example's gold "
        "label (the example's answer is still learned); examples without a gold label keep theirs",
    )
    max_input_tokens: int = Field(default=256, ge=8)
    max_target_tokens: int = Field(default=128, ge=4)
    max_new_tokens: int = Field(default=48, ge=1)
    lora_r: int | None = Field(default=None, ge=1)
    bf16: bool = Field(default=False, description="bfloat16 mixed-precision training (GPU, or a CPU with AVX512-BF16)")
    shots: int = Field(default=3, ge=0, description="worked examples in a live teacher's prompt")
    seed: int = 0
    test_curve: bool = Field(
        default=False, description="also score the test items after every epoch (reported, never used to choose)"
    )
    scorer: ScorerConfig = ScorerConfig()

    @property
    def answer_tokens(self) -> int:
        """Tokens the student may write when it answers: ``max_new_tokens``, plus a rationale's
        (``max_target_tokens`` and its new line) in the modes that reason first."""
        return self.max_new_tokens + (self.max_target_tokens + 1 if self.mode in REASONS_FIRST else 0)

    @model_validator(mode="after")
    def _teacher_needed(self) -> DistillConfig:
        if self.mode == "finetune" and self.teacher != RECORDED:
            raise ValueError("teacher: mode finetune trains on gold labels only and asks no teacher")
        return self
