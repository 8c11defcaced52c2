"""Node classification with model selection on the validation split (never on test): full-batch, or in
mini-batches of training nodes with their sampled neighbourhoods (:mod:`mentor.graph.sampling`) for large graphs.

Either way the graph is prepared once (:meth:`~mentor.graph.backbones.Backbone.structure`), and validation and the
returned probabilities come from whole-graph forward passes, so they are exact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sklearn.metrics import f1_score
from torch import Tensor, nn
from torch_geometric import seed_everything

from mentor.graph.adjacency import csr_adjacency, is_prepared
from mentor.graph.backbones import OPTIMISER_DEFAULTS, SAMPLED, BackboneSpec
from mentor.graph.sampling import NeighbourSampler, Subgraph
from mentor.graph.text_graph import Split

if TYPE_CHECKING:
    from mentor.graph.features.spec import FeatureSpec


def _fanout(value: int) -> int:
    if value == 0 or value < -1:
        raise ValueError(f"fanout must be a positive number of neighbours or -1 (all of them), got {value}")
    return value


#: Neighbours sampled per node and hop in mini-batch training (-1: all of them).
Fanout = Annotated[int, AfterValidator(_fanout)]


def _device(value: str) -> str:
    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"expected a torch device such as cpu, cuda, cuda:1 or mps, got {value!r}") from None
    return value


#: A torch device by name.
Device = Annotated[str, AfterValidator(_device)]


def available_device(name: str) -> torch.device:
    """``name`` as a torch device, or a ``ValueError`` saying why this machine does not have it."""
    device = torch.device(_device(name))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: torch {torch.__version__} sees no CUDA GPU here (a CPU-only build, no "
                         "GPU, or no driver); train on cpu or install torch with CUDA")  # fmt: skip
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: torch sees no Apple GPU (MPS) here")
    return device


class TrainConfig(BaseModel):
    """Training settings; ``None`` means the backbone's usual value (see ``OPTIMISER_DEFAULTS``)."""

    model_config = ConfigDict(frozen=True)
    model: str = "gcn"
    epochs: int = Field(default=500, ge=1, description="optimiser steps: full-batch epochs, or mini-batches")
    patience: int = Field(default=100, ge=1, description="stop after this many epochs without improvement")
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    hidden: int | None = Field(default=None, ge=1)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    seed: int = 0
    unvalidated_epochs: int = Field(
        default=200, ge=1, description="epochs trained when no validation node can select one (the last is kept)"
    )
    batch_size: int | None = Field(
        default=None, ge=1, description="mini-batch training: training nodes per step (None: full-batch)"
    )
    fanout: Fanout = Field(default=10, description="mini-batch: neighbours sampled per node and hop (-1: all)")
    validate_every: int | None = Field(
        default=None, ge=1, description="epochs between validations (None: 1 full-batch, 10 in mini-batches)"
    )
    device: Device = Field(default="cpu", description="where the GNN trains (cpu, cuda, cuda:1, mps); "
                           "the trained model and its probabilities come back on the CPU")  # fmt: skip


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


def _loss(logits: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
    """Cross-entropy, weighted per node where ``weights`` are given (a weighted mean)."""
    if weights is None:
        return F.cross_entropy(logits, targets)
    return (F.cross_entropy(logits, targets, reduction="none") * weights).sum() / weights.sum()


#: Validations in mini-batch training come every this many steps (a whole-graph forward pass each).
MINIBATCH_VALIDATE_EVERY = 10
#: Graphs of at least this many nodes train in mini-batches unless told otherwise (``batch_size="auto"``).
MINIBATCH_FROM_NODES = 100_000
#: Training nodes per mini-batch where the size is chosen automatically.
DEFAULT_BATCH_SIZE = 1024

#: How a user sets mini-batch training: a number of training nodes per step, ``"full"`` or ``"auto"``.
BatchSetting = int | Literal["auto", "full"]


def resolve_batch_size(setting: BatchSetting, num_nodes: int, model: str) -> int | None:
    """The batch size a setting gives on a graph of ``num_nodes`` (``None``: full-batch): ``"auto"`` is
    :data:`DEFAULT_BATCH_SIZE` from :data:`MINIBATCH_FROM_NODES` nodes on for a backbone that samples, else
    full-batch."""
    if setting == "full":
        return None
    if setting == "auto":
        return DEFAULT_BATCH_SIZE if num_nodes >= MINIBATCH_FROM_NODES and model.lower() in SAMPLED else None
    return int(setting)


def parse_batch_setting(text: str) -> BatchSetting:
    """``--batch-size`` as typed: ``auto``, ``full`` or a positive number of training nodes per step."""
    if text in ("auto", "full"):
        return text  # type: ignore[return-value]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"expected auto, full or a positive number of training nodes per step, got {text!r}")
    return int(text)


def batch_stream(count: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Positions ``0..count-1`` in batches of ``batch_size``, pass after pass, each pass in a new random order (the
    last batch of a pass may be smaller)."""
    while True:
        yield from torch.randperm(count, generator=generator).split(batch_size)


@dataclass
class _Placed:
    """What training reads, on the device it trains on (the sampler keeps its CPU copies)."""

    device: torch.device
    x: Tensor
    structure: Tensor
    train_idx: Tensor
    y_train: Tensor
    val_idx: Tensor
    y_val: Tensor
    weights: Tensor | None

    def __post_init__(self) -> None:
        for name in ("x", "structure", "train_idx", "y_train", "val_idx", "y_val", "weights"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(self.device))


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
    device = available_device(config.device)
    hparams = {k: v for k, v in (("hidden", config.hidden), ("dropout", config.dropout)) if v is not None}
    backbone = BackboneSpec.resolve(config.model, x.size(1), num_classes, x.size(0), **hparams)
    model = backbone.build().to(device)
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
    structure = model.structure(edge_index, x.size(0))
    on = _Placed(device, x, structure, train_idx, y_train, val_idx, y_val, weights)
    batches: Iterator[tuple[Tensor, Subgraph]] | None = None
    if config.batch_size is not None:
        if model.hops is None:
            raise ValueError(f"mini-batch training samples a fixed number of hops; {backbone.name} has none (use "
                             f"one of {', '.join(SAMPLED)}, or full-batch)")  # fmt: skip
        generator = torch.Generator().manual_seed(config.seed)
        adjacency = structure if is_prepared(structure) else csr_adjacency(edge_index, x.size(0))
        sampler = NeighbourSampler(adjacency, [config.fanout] * model.hops, generator, rescale=model.sums_neighbours)
        batches = ((batch, sampler.sample(train_idx[batch]))
                   for batch in batch_stream(train_idx.numel(), config.batch_size, generator))  # fmt: skip
    every = config.validate_every or (1 if batches is None else MINIBATCH_VALIDATE_EVERY)
    config = config.model_copy(update={"validate_every": every})
    last = config.epochs if validated else config.unvalidated_epochs
    best = (-1.0, float("inf"))
    best_state: dict[str, Tensor] = {}
    best_epoch, history = 0, []
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, last + 1):
        model.train()
        optimiser.zero_grad()
        if batches is None:
            loss = _loss(model(on.x, on.structure)[on.train_idx], on.y_train, on.weights)
        else:
            batch, subgraph = next(batches)
            logits = model(on.x[subgraph.nodes.to(device)], subgraph.adjacency.to(device))[: subgraph.batch_size]
            batch = batch.to(device)
            loss = _loss(logits, on.y_train[batch], None if on.weights is None else on.weights[batch])
        loss.backward()
        optimiser.step()
        if not validated:
            history.append({"epoch": epoch, "train_loss": loss.item(), "val_loss": None, "val_acc": None})
            best_epoch = epoch
            continue
        if epoch % every and epoch != last:
            continue
        model.eval()
        with torch.no_grad():
            logits = model(on.x, on.structure)[on.val_idx]
            val_loss = float(F.cross_entropy(logits, on.y_val))
            val_acc = float((logits.argmax(-1) == on.y_val).float().mean())
        history.append({"epoch": epoch, "train_loss": loss.item(), "val_loss": val_loss, "val_acc": val_acc})
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best, best_epoch = (val_acc, val_loss), epoch
            best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    seconds = time.perf_counter() - started
    if validated:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        probs = F.softmax(model(on.x, on.structure), dim=-1).cpu()
    model.to("cpu")
    return TrainResult(model=model, metrics=evaluate(probs, y, split), probs=probs, best_epoch=best_epoch,
                       epochs_run=epoch, seconds=seconds, history=history, backbone=backbone, config=config,
                       features=features)  # fmt: skip
