"""Full-batch node classification with model selection on the validation split (never on test)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import f1_score
from torch import Tensor, nn
from torch_geometric import seed_everything

from mentor.graph.backbones import OPTIMISER_DEFAULTS, BackboneSpec
from mentor.graph.text_graph import Split

if TYPE_CHECKING:
    from mentor.graph.features.spec import FeatureSpec


class TrainConfig(BaseModel):
    """Training settings; ``None`` means the backbone's usual value (see ``OPTIMISER_DEFAULTS``)."""

    model_config = ConfigDict(frozen=True)
    model: str = "gcn"
    epochs: int = Field(default=500, ge=1)
    patience: int = Field(default=100, ge=1, description="stop after this many epochs without improvement")
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    hidden: int | None = Field(default=None, ge=1)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    seed: int = 0
    unvalidated_epochs: int = Field(
        default=200, ge=1, description="epochs trained when no validation node can select one (the last is kept)"
    )


@dataclass
class TrainResult:
    """The selected model (best validation accuracy), its metrics per split and class probabilities; how it was
    built and trained (``backbone``, ``config`` with the optimiser's values resolved) and, where the caller gave
    it, how its input features were made (``features``): what :mod:`mentor.graph.saved` saves with it."""

    model: nn.Module
    metrics: dict[str, dict[str, float]]
    probs: Tensor
    best_epoch: int
    epochs_run: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    backbone: BackboneSpec | None = None
    config: TrainConfig | None = None
    features: FeatureSpec | None = None

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs_run, 1)

    def summary(self) -> dict[str, Any]:
        flat = {
            f"{part}_{name}": round(value, 4) for part, values in self.metrics.items() for name, value in values.items()
        }
        return {**flat, "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "seconds": round(self.seconds, 3)}  # fmt: skip


def mask_metrics(predictions: Tensor, y: Tensor, mask: Tensor) -> dict[str, float] | None:
    """Accuracy and macro-F1 of ``predictions`` on the nodes in ``mask`` (``None`` when it is empty)."""
    if not bool(mask.any()):
        return None
    truth, guess = y[mask].numpy(), predictions[mask].numpy()
    return {
        "acc": float((truth == guess).mean()),
        "macro_f1": float(f1_score(truth, guess, average="macro", zero_division=0)),
    }


def evaluate(probs: Tensor, y: Tensor, split: Split) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 on each part of ``split``."""
    predictions = probs.argmax(-1)
    scores = {part: mask_metrics(predictions, y, split.mask(part)) for part in ("train", "val", "test")}
    return {part: values for part, values in scores.items() if values is not None}


@dataclass(frozen=True)
class PseudoLabels:
    """Extra training targets for nodes without a training label: ``labels[i]`` for ``nodes[i]``, with a loss
    weight ``weights[i]`` in (0, 1] (a training label weighs 1)."""

    nodes: Tensor
    labels: Tensor
    weights: Tensor

    def __post_init__(self) -> None:
        if not (self.nodes.shape == self.labels.shape == self.weights.shape and self.nodes.dim() == 1):
            raise ValueError("pseudo-label nodes, labels and weights must be 1-D tensors of one length")


def train_node_classifier(
    x: Tensor,
    edge_index: Tensor,
    y: Tensor,
    split: Split,
    config: TrainConfig | None = None,
    pseudo: PseudoLabels | None = None,
    num_classes: int | None = None,
    features: FeatureSpec | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``split.train`` (and ``pseudo``, which may not touch training or validation
    nodes); keep the epoch with the best validation accuracy (ties: lower validation loss), or, where the split
    has no validation node (few labels, all of them training), train ``config.unvalidated_epochs`` epochs and
    keep the last. Seeded: the same
    inputs and seed give the same model on CPU. ``num_classes`` defaults to ``y.max() + 1``; ``features`` (how
    ``x`` was made) is kept in the result, to be saved with the model."""  # fmt: skip
    config = config or TrainConfig()
    validated = bool(split.val.any())
    seed_everything(config.seed)
    num_classes = num_classes or int(y.max()) + 1
    hparams = {k: v for k, v in (("hidden", config.hidden), ("dropout", config.dropout)) if v is not None}
    backbone = BackboneSpec.resolve(config.model, x.size(1), num_classes, x.size(0), **hparams)
    model = backbone.build()
    defaults = OPTIMISER_DEFAULTS[backbone.name]
    config = config.model_copy(update={
        "lr": config.lr if config.lr is not None else defaults["lr"],
        "weight_decay": config.weight_decay if config.weight_decay is not None else defaults["weight_decay"],
        "hidden": backbone.hparams.get("hidden"), "dropout": backbone.hparams.get("dropout"),
    })  # fmt: skip
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    train_idx, val_idx = split.train.nonzero().view(-1), split.val.nonzero().view(-1)
    y_train, y_val = y[train_idx], y[val_idx]
    weights: Tensor | None = None
    if pseudo is not None and pseudo.nodes.numel():
        if bool((split.train | split.val)[pseudo.nodes].any()):
            raise ValueError("pseudo-labels may not be given to training or validation nodes")
        train_idx = torch.cat([train_idx, pseudo.nodes])
        y_train = torch.cat([y_train, pseudo.labels])
        weights = torch.cat([torch.ones(y_train.numel() - pseudo.nodes.numel()), pseudo.weights.float()])
    best = (-1.0, float("inf"))
    best_state: dict[str, Tensor] = {}
    best_epoch, since_best, history = 0, 0, []
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, (config.epochs if validated else config.unvalidated_epochs) + 1):
        model.train()
        optimiser.zero_grad()
        logits = model(x, edge_index)[train_idx]
        if weights is None:
            loss = F.cross_entropy(logits, y_train)
        else:
            loss = (F.cross_entropy(logits, y_train, reduction="none") * weights).sum() / weights.sum()
        loss.backward()
        optimiser.step()
        if not validated:
            history.append({"epoch": epoch, "train_loss": loss.item(), "val_loss": None, "val_acc": None})
            best_epoch = epoch
            continue
        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)[val_idx]
            val_loss = float(F.cross_entropy(logits, y_val))
            val_acc = float((logits.argmax(-1) == y_val).float().mean())
        history.append({"epoch": epoch, "train_loss": loss.item(), "val_loss": val_loss, "val_acc": val_acc})
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best, best_epoch, since_best = (val_acc, val_loss), epoch, 0
            best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    seconds = time.perf_counter() - started
    if validated:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        probs = F.softmax(model(x, edge_index), dim=-1)
    return TrainResult(model=model, metrics=evaluate(probs, y, split), probs=probs, best_epoch=best_epoch,
                       epochs_run=epoch, seconds=seconds, history=history, backbone=backbone, config=config,
                       features=features)  # fmt: skip
