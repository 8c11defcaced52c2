"""Settings of a consultation run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from mentor.graph.train import Device, Fanout

Strategy = Literal["gated", "login"]
#: gated: training labels per class (on average) at or below which a graph has *few labels*, and what changes then.
FEW_LABELS_PER_CLASS = 10
FEW_LABEL_TEACHING = 0.5

#: Defaults per strategy. Gated prompts are blind (no GNN prediction, no training labels), so they do not depend on
#: the seed or the GNN and the response store answers each node once for every run; they show the node's text
#: alone within 384 tokens and ask for the label only (no explanation: nothing uses one), which on WebKB costs a
#: third of the LLM seconds of neighbourhood prompts with explanations at the same teacher accuracy and gated gain
#: (``bench/llm_seconds.py``, docs/benchmarks.md). LOGIN's loop keeps its neighbourhood prompts and augmentation.
_STRATEGY_DEFAULTS: dict[str, dict[str, object]] = {
    "gated": {"show_gnn_prediction": False, "show_neighbour_labels": False, "context": "text",
              "max_prompt_tokens": 384, "augment": False},
    "login": {"show_gnn_prediction": True, "show_neighbour_labels": True, "context": "neighbourhood",
              "max_prompt_tokens": 600, "augment": True},
}  # fmt: skip


class ConsultConfig(BaseModel):
    """Everything that determines a run's result (with the data and the LLM's answers).

    ``strategy="gated"`` (see :mod:`mentor.consult.gated`) asks about nodes without a training label, gated by a
    rule calibrated on validation nodes; ``strategy="login"`` (:mod:`mentor.consult.loop`) is LOGIN's loop over
    training nodes.
    """

    model_config = ConfigDict(frozen=True)
    dataset: str
    data_root: Path | None = None
    strategy: Strategy = "gated"
    model: str = "gcn"
    features: str = "minilm"
    split: str | None = Field(default=None, description="default: public if the data set has it, else random")
    seed: int = 0
    rounds: int = Field(default=2, ge=1)
    max_calls: int | None = Field(default=None, ge=1, description="LLM answers over all rounds")
    fraction: float = Field(default=0.1, gt=0, le=1, description="login: training nodes consulted per round")
    budget: float = Field(default=0.1, gt=0, le=1, description="gated: LLM calls as a share of the graph's nodes, "
                          "calibration included (max_calls overrides)")  # fmt: skip
    calibration: float = Field(default=0.4, gt=0, le=1,
                               description="gated: share of the budget spent on validation nodes")  # fmt: skip
    min_gain: int = Field(default=2, ge=1, description="gated: calibration nodes the gate must gain to open")
    combine: Literal["pool", "route"] = Field(
        default="pool",
        description="gated: pool (GNN and LLM distributions pooled with weights fitted on calibration nodes) | "
        "route (the LLM's label where GNN confidence <= tau and LLM confidence >= kappa)",
    )
    cascade: bool = Field(default=True, description="gated: an accepted node's prediction is the combined one")
    teach: bool = Field(default=True, description="gated: accepted answers become pseudo-labels; retrain")
    selection: Literal["not-worse", "improve"] = Field(
        default="not-worse",
        description="gated: keep a retrained GNN unless validation falls by more than the margin (not-worse), "
        "or only if it rises by more than the margin (improve)",
    )
    selection_margin: float = Field(default=0.02, ge=0, le=1, description="gated: see selection")
    teaching: float | None = Field(
        default=None, ge=0, le=1,
        description="gated: share of each round's calls spent on representative nodes (k-means centres of "
        "neighbourhood-averaged features among the nodes not yet asked), whose answers teach the GNN; the rest go "
        "to the least confident nodes; None: 0.5 with few labels (at most 10 training labels per class), else 0",
    )  # fmt: skip
    teach_min_confidence: float = Field(
        default=0.0, ge=0, le=1,
        description="gated: an accepted answer becomes a pseudo-label only where the gate's combined probability of "
        "its label is at least this (it is weighted by that probability); 0: every accepted answer",
    )  # fmt: skip
    select: Literal["uncertainty", "random"] = "uncertainty"
    uncertainty: Literal["variance", "entropy", "margin"] = "variance"
    mc_passes: int = Field(default=20, ge=2)
    augment: bool | None = Field(
        default=None,
        description="add an accepted (gated) or right (login) answer's explanation to the node's text; None: "
        "gated no, login yes",
    )
    prune: bool = True
    prune_threshold: float = Field(default=0.1, ge=-1, le=1)
    show_gnn_prediction: bool | None = Field(default=None, description="None: False for gated, True for login")
    show_neighbour_labels: bool | None = Field(default=None, description="None: False for gated, True for login")
    node_text_chars: int = Field(default=1000, ge=50)
    neighbour_text_chars: int = Field(default=150, ge=20)
    max_prompt_tokens: int | None = Field(default=None, ge=100, description="None: gated 384, login 600")
    token_count: Literal["estimate", "exact"] = Field(
        default="exact",
        description="how max_prompt_tokens is counted: estimate (4 characters a token) or exact (the teacher's "
        "tokenizer: the GGUF's vocabulary, or the endpoint's tokenize route; the estimate where it has none)",
    )
    context: Literal["neighbourhood", "similar", "text"] | None = Field(
        default=None,
        description="what a prompt shows besides the node's text: neighbourhood (1- and 2-hop texts within the "
        "token budget), similar (the similar_k most similar nodes within two hops) or text (the node's text "
        "alone); None: gated text, login neighbourhood",
    )
    similar_k: int = Field(default=3, ge=1, description="context similar: neighbours shown")
    explain: bool | None = Field(
        default=None,
        description="ask for an explanation beside the label; None: only where it is used (augment on)",
    )
    templates: Path | None = None
    class_descriptions: Path | None = Field(
        default=None, description="a classes file (name, tab, description per line) whose descriptions prompts show"
    )
    epochs: int = Field(default=500, ge=1)
    patience: int = Field(default=100, ge=1)
    batch_size: PositiveInt | Literal["auto", "full"] = Field(
        default="auto", description="training nodes per mini-batch step | full | auto (mini-batches on large graphs)"
    )
    fanout: Fanout = Field(default=10, description="mini-batch: neighbours sampled per node and hop (-1: all)")
    device: Device = Field(default="cpu", description="where the GNN trains (cpu, cuda, cuda:1, mps)")

    @model_validator(mode="before")
    @classmethod
    def _prompt_defaults(cls, values: object) -> object:
        if isinstance(values, dict):
            defaults = _STRATEGY_DEFAULTS.get(values.get("strategy", "gated"), {})
            values = {**values, **{k: v for k, v in defaults.items() if values.get(k) is None}}
        return values

    @model_validator(mode="after")
    def _features_with_text(self) -> ConsultConfig:
        if self.features == "given":
            raise ValueError(
                "features: consultation changes node texts, so features must come from them (minilm, bow…)"
            )
        return self

    @property
    def explains(self) -> bool:
        """Whether answers carry an explanation: as set, else only where one is used (text augmentation)."""
        return bool(self.augment) if self.explain is None else self.explain

    def teaching_share(self, labels_per_class: float) -> float:
        """gated: the share of a round's calls that goes to representative nodes (``teaching``, or its default for
        a graph with ``labels_per_class`` training labels per class)."""
        if self.teaching is not None:
            return self.teaching
        return FEW_LABEL_TEACHING if labels_per_class <= FEW_LABELS_PER_CLASS else 0.0

    def budget_calls(self, num_nodes: int) -> int:
        """gated: the LLM calls a run may make (calibration included)."""
        return self.max_calls if self.max_calls is not None else max(1, round(self.budget * num_nodes))

    def calls_per_round(self, num_train: int) -> list[int]:
        """login: consultations planned in each round."""
        if self.max_calls is not None:
            base, extra = divmod(self.max_calls, self.rounds)
            return [base + (1 if r < extra else 0) for r in range(self.rounds)]
        per_round = max(1, round(self.fraction * num_train))
        return [per_round] * self.rounds
