"""GNN backbones from PyTorch Geometric, selected by name, with their usual hyper-parameters as defaults.

Every backbone maps ``(x, edge_index) -> logits`` and uses dropout (so MC-dropout uncertainty applies to all).
H2GCN is not part of PyG; ``linkx`` (LINKX, Lim et al. 2021), the heterophily model PyG does provide, stands in.

A backbone may also take the graph as it aggregates fastest, prepared once per graph by :meth:`Backbone.structure`
(GCN: its normalised adjacency as a sparse CSR matrix; GraphSAGE: the CSR adjacency): the same outputs, without
re-deriving them every forward pass. ``hops`` (the layers of message passing) tells mini-batch training how many
hops of neighbours a node's output needs (:mod:`mentor.graph.sampling`); ``None`` where it is not sampled.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor, nn
from torch_geometric.nn import APPNP, GCN2Conv, MixHopConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GAT, GCN, LINKX, MLP, GraphSAGE

from mentor.graph.adjacency import csr_adjacency, is_prepared


class Backbone(nn.Module):
    """The base of every backbone: ``forward(x, structure)`` with ``structure`` an ``edge_index`` or what
    :meth:`structure` prepared from it."""

    #: Message-passing layers: the hops of neighbours one node's output depends on (``None``: not sampled).
    hops: int | None = None
    #: Whether it sums weighted messages over its prepared structure (GCN), so that a sampled subset of a node's
    #: neighbours must be rescaled to estimate the full sum; a mean (GraphSAGE) or attention needs no rescaling.
    sums_neighbours: bool = False

    def structure(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """The graph as this backbone aggregates it fastest (here: ``edge_index`` itself)."""
        return edge_index


class _MLP(Backbone):
    """Structure-free baseline: node features only."""

    hops = 0

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 64, layers: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.mlp = MLP(in_channels=in_dim, hidden_channels=hidden, out_channels=num_classes, num_layers=layers,
                       dropout=dropout, norm=None)  # fmt: skip

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.mlp(x)


class _APPNPNet(Backbone):
    """Predict then propagate (Gasteiger et al. 2019): an MLP followed by personalised-PageRank propagation."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 64, K: int = 10, alpha: float = 0.1,  # noqa: N803
                 dropout: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        self.mlp = MLP(in_channels=in_dim, hidden_channels=hidden, out_channels=num_classes, num_layers=2,
                       dropout=dropout, norm=None)  # fmt: skip
        self.propagate = APPNP(K=K, alpha=alpha)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.propagate(self.mlp(x), edge_index)


class _GCNII(Backbone):
    """GCNII (Chen et al. 2020): deep GCN with initial residual and identity mapping (PyG ``GCN2Conv``)."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 64, layers: int = 16, alpha: float = 0.1,
                 theta: float = 0.5, dropout: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        self.lin_in = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList(
            GCN2Conv(hidden, alpha=alpha, theta=theta, layer=i + 1, cached=False) for i in range(layers)
        )
        self.lin_out = nn.Linear(hidden, num_classes)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = x0 = F.relu(self.lin_in(x))
        for conv in self.convs:
            x = F.dropout(x, self.dropout, self.training)
            x = F.relu(conv(x, x0, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.lin_out(x)


class _MixHop(Backbone):
    """MixHop (Abu-El-Haija et al. 2019): mixes 0-, 1- and 2-hop aggregations (PyG ``MixHopConv``)."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 60, powers: tuple[int, ...] = (0, 1, 2),
                 dropout: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        width = hidden * len(powers)
        self.conv1 = MixHopConv(in_dim, hidden, powers=list(powers))
        self.norm1 = nn.BatchNorm1d(width)
        self.conv2 = MixHopConv(width, hidden, powers=list(powers))
        self.norm2 = nn.BatchNorm1d(width)
        self.lin = nn.Linear(width, num_classes)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.norm1(self.conv1(x, edge_index)))
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.norm2(self.conv2(x, edge_index)))
        x = F.dropout(x, self.dropout, self.training)
        return self.lin(x)


class _BasicGNN(Backbone):
    """Adapter for PyG's ``BasicGNN`` models (GCN, GraphSAGE, GAT)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.hops = model.num_layers

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.model(x, edge_index)


class _SAGE(_BasicGNN):
    """GraphSAGE; prepared, its graph is the CSR adjacency (mean aggregation by a sparse product)."""

    def structure(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        return csr_adjacency(edge_index, num_nodes)


class _GCN(_BasicGNN):
    """GCN (Kipf & Welling 2017). Its convolutions take the normalised adjacency (self-loops added where missing,
    D^-1/2 (A + I) D^-1/2) as :meth:`structure` prepares it once; given an ``edge_index``, it is prepared on the spot,
    which is what PyG's ``GCNConv`` does on every call."""

    sums_neighbours = True

    def structure(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        if is_prepared(edge_index):
            return edge_index
        edges, weights = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
        return csr_adjacency(edges, num_nodes, weights)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.model(x, self.structure(edge_index, x.size(0)))


class _LINKX(Backbone):
    """LINKX (Lim et al. 2021): separate MLPs on features and adjacency rows; built for heterophily."""

    def __init__(self, in_dim: int, num_classes: int, num_nodes: int, hidden: int = 64, layers: int = 1,
                 dropout: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        self.model = LINKX(num_nodes=num_nodes, in_channels=in_dim, hidden_channels=hidden,
                           out_channels=num_classes, num_layers=layers, dropout=dropout)  # fmt: skip

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.model(x, edge_index)


def _basic(cls: Callable[..., nn.Module], adapter: type[_BasicGNN] = _BasicGNN, fixed: dict[str, Any] | None = None,
           **defaults: Any) -> Callable[..., nn.Module]:  # fmt: skip
    """A builder of PyG model ``cls`` with ``defaults`` (hyper-parameters, saved with the model) and ``fixed``
    options (how ``adapter`` feeds it, not saved)."""

    def build(in_dim: int, num_classes: int, hidden: int = 64, layers: int = 2, dropout: float = 0.5,
              **kwargs: Any) -> nn.Module:  # fmt: skip
        options = {**defaults, **kwargs, **(fixed or {})}
        return adapter(cls(in_channels=in_dim, hidden_channels=hidden, num_layers=layers, out_channels=num_classes,
                           dropout=dropout, **options))  # fmt: skip

    build.defaults = defaults  # type: ignore[attr-defined]  # read by backbone_hparams
    return build


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "mlp": _MLP,
    "gcn": _basic(GCN, _GCN, fixed={"normalize": False}),  # _GCN normalises the adjacency once, not per call
    "sage": _basic(GraphSAGE, _SAGE),
    "gat": _basic(GAT, heads=8),
    "appnp": _APPNPNet,
    "gcnii": _GCNII,
    "mixhop": _MixHop,
    "linkx": _LINKX,
}

#: Learning rate and weight decay usually used with each backbone on these benchmarks.
OPTIMISER_DEFAULTS: dict[str, dict[str, float]] = {
    "mlp": {"lr": 0.01, "weight_decay": 5e-4},
    "gcn": {"lr": 0.01, "weight_decay": 5e-4},
    "sage": {"lr": 0.01, "weight_decay": 5e-4},
    "gat": {"lr": 0.005, "weight_decay": 5e-4},
    "appnp": {"lr": 0.01, "weight_decay": 5e-4},
    "gcnii": {"lr": 0.01, "weight_decay": 5e-4},
    "mixhop": {"lr": 0.01, "weight_decay": 5e-4},
    "linkx": {"lr": 0.01, "weight_decay": 1e-3},
}


#: Backbones that train in mini-batches (a fixed number of message-passing hops to sample).
SAMPLED = ("mlp", "gcn", "sage", "gat")

#: Backbones whose weights do not depend on the training graph's size, so they predict nodes added later. LINKX's
#: adjacency branch has one input per training node: it predicts those nodes only.
INDUCTIVE = tuple(name for name in BACKBONES if name != "linkx")


def build_backbone(name: str, in_dim: int, num_classes: int, num_nodes: int, **hparams: Any) -> Backbone:
    """A fresh, randomly initialised backbone (seed torch first for reproducibility)."""
    key = name.lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(BACKBONES)}")
    if key == "linkx":
        hparams.setdefault("num_nodes", num_nodes)
    try:
        return cast(Backbone, BACKBONES[key](in_dim, num_classes, **hparams))
    except TypeError as error:
        raise ValueError(f"model {name!r}: {error}") from None


def backbone_hparams(name: str, num_nodes: int, **given: Any) -> dict[str, Any]:
    """Every hyper-parameter ``name`` is built with: its defaults, overridden by ``given`` (tuples as lists, so
    that the result is plain JSON)."""
    builder = BACKBONES[name.lower()]
    resolved = {
        key: param.default
        for key, param in inspect.signature(builder).parameters.items()
        if key not in ("in_dim", "num_classes") and param.default is not inspect.Parameter.empty
    }
    resolved.update(getattr(builder, "defaults", {}))
    if name.lower() == "linkx":
        resolved["num_nodes"] = num_nodes
    resolved.update(given)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in resolved.items()}


#: A hyper-parameter value as JSON holds it.
HParam = bool | int | float | str | list[int] | None


class BackboneSpec(BaseModel):
    """A backbone and every hyper-parameter it is built with: enough to build it again (and load its weights)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    in_dim: int = Field(ge=1)
    num_classes: int = Field(ge=1)
    hparams: dict[str, HParam] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in BACKBONES:
            raise ValueError(f"unknown backbone {value!r}; expected one of {', '.join(BACKBONES)}")
        return value

    @classmethod
    def resolve(cls, name: str, in_dim: int, num_classes: int, num_nodes: int, **given: Any) -> BackboneSpec:
        """The spec of ``build_backbone(name, in_dim, num_classes, num_nodes, **given)``, defaults filled in."""
        if name.lower() not in BACKBONES:
            raise ValueError(f"unknown model {name!r}; expected one of {', '.join(BACKBONES)}")
        return cls(name=name.lower(), in_dim=in_dim, num_classes=num_classes,
                   hparams=backbone_hparams(name, num_nodes, **given))  # fmt: skip

    @property
    def inductive(self) -> bool:
        """Whether the model predicts nodes its training graph did not have (see :data:`INDUCTIVE`)."""
        return self.name in INDUCTIVE

    def build(self) -> Backbone:
        """A fresh, randomly initialised backbone of this spec (seed torch first for reproducibility)."""
        hparams = dict(self.hparams)
        num_nodes = hparams.pop("num_nodes", 0)  # linkx's only
        return build_backbone(self.name, self.in_dim, self.num_classes, num_nodes, **hparams)  # type: ignore[arg-type]


__all__ = [
    "BACKBONES",
    "Backbone",
    "INDUCTIVE",
    "OPTIMISER_DEFAULTS",
    "BackboneSpec",
    "backbone_hparams",
    "build_backbone",
]
