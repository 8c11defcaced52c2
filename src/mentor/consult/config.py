"""Settings of a consultation run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConsultConfig(BaseModel):
    """Everything that determines a run's result (with the data and the LLM's answers)."""

    model_config = ConfigDict(frozen=True)
    dataset: str
    data_root: Path | None = None
    model: str = "gcn"
    features: str = "minilm"
    split: str | None = Field(default=None, description="default: public if the data set has it, else random")
    seed: int = 0
    rounds: int = Field(default=2, ge=1)
    max_calls: int | None = Field(default=None, ge=1, description="LLM answers over all rounds")
    fraction: float = Field(default=0.1, gt=0, le=1, description="training nodes consulted per round")
    select: Literal["uncertainty", "random"] = "uncertainty"
    uncertainty: Literal["variance", "entropy", "margin"] = "variance"
    mc_passes: int = Field(default=20, ge=2)
    augment: bool = True
    prune: bool = True
    prune_threshold: float = Field(default=0.1, ge=-1, le=1)
    show_gnn_prediction: bool = True
    show_neighbour_labels: bool = True
    node_text_chars: int = Field(default=1500, ge=50)
    neighbour_text_chars: int = Field(default=200, ge=20)
    max_prompt_tokens: int = Field(default=1500, ge=200)
    templates: Path | None = None
    epochs: int = Field(default=500, ge=1)
    patience: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _features_with_text(self) -> ConsultConfig:
        if self.features == "given":
            raise ValueError(
                "features: consultation changes node texts, so features must come from them (minilm, bow…)"
            )
        return self

    def calls_per_round(self, num_train: int) -> list[int]:
        """Consultations planned in each round."""
        if self.max_calls is not None:
            base, extra = divmod(self.max_calls, self.rounds)
            return [base + (1 if r < extra else 0) for r in range(self.rounds)]
        per_round = max(1, round(self.fraction * num_train))
        return [per_round] * self.rounds
