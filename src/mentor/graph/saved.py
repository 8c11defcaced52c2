"""A trained GNN saved and loaded again, in the spirit of ``save_pretrained`` / ``from_pretrained``.

A model directory (a run's ``model/``) holds

- ``model.safetensors``: the weights. Safetensors holds tensors only: loading it runs no code;
- ``config.json``: everything needed to rebuild and apply them (:class:`ModelConfig`): the backbone and its
  hyper-parameters, the feature spec (encoder and version, or the fitted TF-IDF vocabulary), the class names, a
  fingerprint of the training graph, how the model was trained (augmented texts, pruned edges, pseudo-labels) and
  the versions it was made with;
- ``nodes.safetensors``: a 64-bit hash of each training node's id, so that new nodes can be told apart later;
- ``gate.json`` (a gated run): the gate fitted with this model on the run's calibration answers, and the prompt
  settings and templates it was fitted with (``mentor predict --max-calls`` asks about new nodes through it).

Nothing else there is read: a pickle or ``.pt`` file in the directory is never loaded, and ``torch.load`` is not
used. ``mentor.load(RUN_DIR).predict(graph)`` predicts every node of a graph (new nodes and texts included).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from safetensors import SafetensorError
from safetensors.torch import load as load_weights
from safetensors.torch import save as save_weights
from torch import Tensor, nn

from mentor import outputs
from mentor.errors import DataError
from mentor.graph.backbones import INDUCTIVE, BackboneSpec
from mentor.graph.datasets import load_dataset
from mentor.graph.features.encoder import PACKAGED_ENCODERS, SentenceEncoder
from mentor.graph.features.spec import FeatureSpec
from mentor.graph.predictions import PredictionTable
from mentor.graph.text_graph import TextGraph
from mentor.graph.train import TrainResult
from mentor.readers import json_document

CONFIG, WEIGHTS, GATE, NODES = "config.json", "model.safetensors", "gate.json", "nodes.safetensors"
#: The sub-directory of a run directory that holds its model.
MODEL_DIR = "model"
FORMAT = "mentor-gnn"


class ModelDirError(DataError):
    """A directory that does not hold a model :meth:`SavedModel.load` can load (the message names the file)."""


def _sha256(chunks: list[str] | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(chunks, bytes):
        digest.update(chunks)
    else:
        digest.update(json.dumps(chunks, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


class GraphFingerprint(BaseModel):
    """What identifies a graph: sha256 of its node ids (in order), texts, edges and class names, and of them all."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    nodes: int = Field(ge=0)
    edges: int = Field(ge=0)
    node_ids_sha256: str
    texts_sha256: str | None
    edges_sha256: str
    sha256: str

    @classmethod
    def of(cls, graph: TextGraph) -> GraphFingerprint:
        parts = {
            "node_ids_sha256": _sha256(node_keys(graph)),
            "texts_sha256": None if graph.texts is None else _sha256(list(graph.texts)),
            "edges_sha256": _sha256(graph.edge_index.to(torch.int64).contiguous().numpy().tobytes()),
        }
        whole = _sha256([*(str(v) for v in parts.values()), *graph.class_names])
        return cls(name=graph.name, nodes=graph.num_nodes, edges=graph.num_edges, **parts, sha256=whole)


class Training(BaseModel):
    """How the saved model was trained: by which command (and strategy, round), on what (texts augmented with LLM
    explanations, edges pruned, pseudo-labels: predictions use the graph's own texts and edges), with which
    settings (``config``: optimiser values resolved), and its scores then."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    command: Literal["train", "consult"] = "train"
    strategy: str | None = None
    round: int = Field(default=0, ge=0)
    split: str | None = None
    texts_augmented: int = Field(default=0, ge=0)
    edges_pruned: int = Field(default=0, ge=0)
    pseudo_labels: int = Field(default=0, ge=0)
    config: dict[str, Any] = Field(default_factory=dict)
    best_epoch: int = Field(default=0, ge=0)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)


class ModelConfig(BaseModel):
    """``config.json`` of a saved model."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["mentor-gnn"] = FORMAT
    format_version: Literal[1] = 1
    backbone: BackboneSpec
    features: FeatureSpec
    class_names: list[str] = Field(min_length=1)
    graph: GraphFingerprint
    training: Training = Field(default_factory=Training)
    weights_sha256: str
    nodes_sha256: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.features.dim != self.backbone.in_dim:
            raise ValueError(f"features.dim {self.features.dim} is not backbone.in_dim {self.backbone.in_dim}")
        if len(self.class_names) != self.backbone.num_classes:
            classes = self.backbone.num_classes
            raise ValueError(f"{len(self.class_names)} class names for backbone.num_classes {classes}")
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError("class_names repeats a name")
        return self


@dataclass
class SavedModel:
    """A trained GNN with what is needed to apply it to a graph (``config``), and the gate of a gated run."""

    config: ModelConfig
    model: nn.Module
    gate: dict[str, Any] | None = None
    nodes: Tensor | None = None  # sorted 64-bit hashes of the training nodes' ids (None: not saved)

    # -- making and saving --------------------------------------------------------------------------------------

    @classmethod
    def from_training(cls, result: TrainResult, graph: TextGraph, *, features: FeatureSpec | None = None,
                      fingerprint: GraphFingerprint | None = None, training: Training | None = None,
                      gate: dict[str, Any] | None = None) -> SavedModel:  # fmt: skip
        """The model of ``result``, trained on ``graph`` (``fingerprint``: of the graph as the user gave it, where
        the run changed ``graph``'s texts or edges) with features made by ``features`` (default
        ``result.features``)."""
        features = features or result.features
        if features is None or result.backbone is None:
            raise ValueError("saving a model needs its feature spec and backbone (train_node_classifier sets them)")
        config = ModelConfig(
            backbone=result.backbone,
            features=features,
            class_names=list(graph.class_names),
            graph=fingerprint or GraphFingerprint.of(graph),
            training=training or training_record(result),
            weights_sha256=_sha256(_serialised(result.model)),
            versions=outputs.versions(("torch", "torch-geometric", "safetensors", "scikit-learn")),
        )
        return cls(config=config, model=result.model, gate=gate, nodes=id_hashes(node_keys(graph)).sort().values)

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors``, ``nodes.safetensors`` and ``gate.json`` (or remove stale ones) and, last,
        ``config.json`` into ``directory``. Each file is written atomically; ``config.json`` names the sha256 of
        both tensor files, so a model directory left half-replaced by a killed run is refused when loaded, not
        silently mixed."""
        directory = Path(directory)
        data = _serialised(self.model)
        update: dict[str, Any] = {"weights_sha256": _sha256(data)}
        outputs.atomic_write(directory / WEIGHTS, lambda tmp: Path(tmp).write_bytes(data))
        if self.nodes is not None:
            nodes = save_weights({"id_hash": self.nodes.contiguous()})
            outputs.atomic_write(directory / NODES, lambda tmp: Path(tmp).write_bytes(nodes))
            update["nodes_sha256"] = _sha256(nodes)
        else:
            (directory / NODES).unlink(missing_ok=True)
            update["nodes_sha256"] = None
        config = self.config.model_copy(update=update)
        if self.gate is not None:
            outputs.write_json(directory / GATE, self.gate)
        else:
            (directory / GATE).unlink(missing_ok=True)
        outputs.write_json(directory / CONFIG, config.model_dump(mode="json"))
        self.config = config
        return directory

    # -- loading ------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> SavedModel:
        """The model saved in ``path``: a run directory (its ``model/``) or a model directory. Reads
        ``config.json``, ``gate.json`` and ``model.safetensors`` only; every problem is a :class:`ModelDirError`
        naming the file."""
        directory = model_directory(path)
        config = _read_config(directory / CONFIG)
        _check_encoder(config, directory)
        weights = directory / WEIGHTS
        if not weights.is_file():
            problem = "missing" if not weights.exists() else "not a file"
            raise ModelDirError(f"{problem} (the model's weights, in safetensors format)", file=weights)
        data = weights.read_bytes()
        if _sha256(data) != config.weights_sha256:
            raise ModelDirError(f"does not match {CONFIG} (its weights_sha256): the weights were changed or belong "
                                "to another model", file=weights)  # fmt: skip
        model = _build(config, data, weights)
        nodes = _read_nodes(directory / NODES, config)
        gate = None
        if (directory / GATE).exists():
            gate = json_document(directory / GATE)
            if not isinstance(gate, dict):
                raise ModelDirError(f"expected a JSON object, got {type(gate).__name__}", file=directory / GATE)
        return cls(config=config, model=model, gate=gate, nodes=nodes)

    # -- predicting ---------------------------------------------------------------------------------------------

    def check(self, graph: TextGraph) -> None:
        """Raise a :class:`DataError` when this model cannot predict ``graph``: other classes, a repeated node id,
        or (LINKX) nodes other than its training graph's. Cheap: call it before making features."""
        where = graph.source or graph.name
        names = self.config.class_names
        if list(graph.class_names) != names:
            missing = [n for n in names if n not in graph.class_names]
            extra = [n for n in graph.class_names if n not in names]
            parts = (
                f"missing {_listed(missing)}" if missing else "",
                f"not the model's {_listed(extra)}" if extra else "",
            )
            how = "; ".join(part for part in parts if part)
            raise DataError(f"the graph's classes are not the model's ({how or 'in another order'}): the model has "
                            f"{_listed(names)}; list them, in that order, in the graph's classes.txt",
                            file=where)  # fmt: skip
        if graph.node_ids:
            repeated = [node for node, count in Counter(graph.node_ids).items() if count > 1]
            if repeated:
                raise DataError(f"node id {repeated[0]!r} appears more than once", file=where, field="id")
        fingerprint = GraphFingerprint.of(graph)
        trained_on = self.config.graph
        same_nodes = (fingerprint.nodes, fingerprint.node_ids_sha256) == (trained_on.nodes, trained_on.node_ids_sha256)
        if not self.config.backbone.inductive and not same_nodes:
            raise DataError(
                f"the model is {self.config.backbone.name}, whose adjacency branch has one input per node of its "
                f"training graph ({trained_on.nodes} nodes): it predicts those nodes only, and this graph has "
                f"{'other' if fingerprint.nodes == trained_on.nodes else fingerprint.nodes} nodes; to predict new "
                f"nodes, train with --model {', '.join(INDUCTIVE)}", file=where)  # fmt: skip

    @torch.no_grad()
    def predict_proba(self, graph: TextGraph | str | Path, *, encoder: SentenceEncoder | None = None,
                      progress: bool = False, x: Tensor | None = None) -> Tensor:  # fmt: skip
        """``[nodes, classes]`` class probabilities of every node of ``graph`` (a :class:`TextGraph`, or a data
        set name or graph directory for :func:`~mentor.graph.datasets.load_dataset`): the GNN alone, no LLM.
        ``x``: the graph's features, where the caller already made them with ``config.features.transform``."""
        graph = _graph(graph)
        self.check(graph)
        if x is None:
            x = self.config.features.transform(graph, encoder=encoder, progress=progress)
        self.model.eval()
        return F.softmax(self.model(x, graph.edge_index), dim=-1)

    def predict(self, graph: TextGraph | str | Path, *, encoder: SentenceEncoder | None = None,
                progress: bool = False) -> PredictionTable:  # fmt: skip
        """The predictions table of ``graph`` (:mod:`mentor.graph.predictions`; ``.frame`` is a DataFrame): every
        node's label and confidence by the GNN (source ``gnn``; no label of the graph is used, no LLM is asked)."""
        graph = _graph(graph)
        return PredictionTable.from_probs(graph, self.predict_proba(graph, encoder=encoder, progress=progress))

    def new_nodes(self, graph: TextGraph) -> Tensor:
        """A boolean mask of ``graph``'s nodes whose id the training graph did not have (by id: a node whose text
        or edges changed is not new)."""
        if self.nodes is None:
            raise ModelDirError(f"the model has no {NODES} (saved by an older mentor): it cannot tell new nodes from "
                                "its training nodes; train or consult again to save one")  # fmt: skip
        return ~torch.isin(id_hashes(node_keys(graph)), self.nodes)

    def notes(self, graph: TextGraph) -> list[str]:
        """What a user should know about predicting ``graph`` with this model (nothing that stops it)."""
        training, notes = self.config.training, []
        changed = [f"{n} {what}" for n, what in ((training.texts_augmented, "node texts augmented with LLM "
                   "explanations"), (training.edges_pruned, "edges pruned")) if n]  # fmt: skip
        if changed:
            notes.append(f"the model was trained with {' and '.join(changed)}; predictions use the graph's own texts "
                         "and edges")  # fmt: skip
        if GraphFingerprint.of(graph).sha256 == self.config.graph.sha256:
            notes.append("this is the model's training graph (same nodes, texts and edges)")
        elif self.nodes is not None:
            new = int(self.new_nodes(graph).sum())
            notes.append(f"{new} of the graph's {graph.num_nodes} nodes are new (ids the training graph did not have)")
        for package, version in self.config.features.versions.items():
            here = outputs.versions((package,))[package]
            if here != version:
                notes.append(f"features: {package} {here} here, {version} when the model was trained (features may "
                             "differ slightly)")  # fmt: skip
        return notes


def save_model(directory: str | Path, result: TrainResult, graph: TextGraph, **options: Any) -> SavedModel:
    """Save ``result``'s model, trained on ``graph``, into ``directory`` (``options``: see
    :meth:`SavedModel.from_training`)."""
    saved = SavedModel.from_training(result, graph, **options)
    saved.save(directory)
    return saved


def load_model(path: str | Path) -> SavedModel:
    """:meth:`SavedModel.load`."""
    return SavedModel.load(path)


def model_directory(path: str | Path) -> Path:
    """The model directory of ``path``: ``path/model`` for a run directory, else ``path`` itself."""
    path = Path(path)
    if not path.is_dir():
        problem = "no such directory" if not path.exists() else "not a directory"
        raise ModelDirError(f"{problem} (expected a run directory with a model/, or a model directory)", file=path)
    if (path / MODEL_DIR / CONFIG).exists() or not (path / CONFIG).exists():
        path = path / MODEL_DIR
    if not (path / CONFIG).is_file():
        raise ModelDirError(f"no saved model here (expected {CONFIG}; `mentor train --out` and `mentor consult --out` "
                            "save one)", file=path)  # fmt: skip
    return path


def training_record(result: TrainResult, **fields: Any) -> Training:
    """A :class:`Training` for ``result``: its settings, best epoch and scores (``fields``: the rest)."""
    config = result.config.model_dump(mode="json") if result.config is not None else {}
    return Training(config=config, best_epoch=result.best_epoch, metrics=result.metrics, **fields)


def node_keys(graph: TextGraph) -> list[str]:
    """Each node's id as text: the data files' ids (``graph.node_ids``), else the row index."""
    return [str(i) for i in graph.node_ids] if graph.node_ids else [str(i) for i in range(graph.num_nodes)]


def id_hashes(keys: list[str]) -> Tensor:
    """A 64-bit hash (BLAKE2b) of each node id, as an int64 tensor (collisions: about 1 in 10^7 for 10^6 ids)."""
    digests = b"".join(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest() for key in keys)
    return torch.frombuffer(bytearray(digests), dtype=torch.int64) if keys else torch.zeros(0, dtype=torch.int64)


# -- pieces -----------------------------------------------------------------------------------------------------


def _read_nodes(path: Path, config: ModelConfig) -> Tensor | None:
    """The training nodes' id hashes from ``nodes.safetensors`` (``None`` where an older model has none)."""
    if config.nodes_sha256 is None and not path.exists():
        return None
    if not path.is_file():
        raise ModelDirError(f"missing: {CONFIG} names it (nodes_sha256)", file=path)
    data = path.read_bytes()
    if _sha256(data) != config.nodes_sha256:
        raise ModelDirError(f"does not match {CONFIG} (its nodes_sha256): the file was changed or belongs to "
                            "another model", file=path)  # fmt: skip
    try:
        state = load_weights(data)
    except SafetensorError as error:
        raise ModelDirError(f"not a safetensors file ({' '.join(str(error).split())})"[:300], file=path) from None
    hashes = state.get("id_hash")
    if hashes is None or hashes.dtype != torch.int64 or hashes.dim() != 1 or hashes.numel() != config.graph.nodes:
        raise ModelDirError(f"expected one int64 tensor 'id_hash' of {config.graph.nodes} node-id hashes", file=path)
    return hashes.sort().values


def _serialised(model: nn.Module) -> bytes:
    """The model's weights (its state dict) in safetensors format."""
    state = {name: value.detach().cpu().contiguous().clone() for name, value in model.state_dict().items()}
    return save_weights(state, metadata={"format": "pt"})


def _read_config(path: Path) -> ModelConfig:
    document = json_document(path)
    if not isinstance(document, dict):
        raise ModelDirError(f"expected a JSON object, got {type(document).__name__}", file=path)
    if document.get("format") != FORMAT:
        raise ModelDirError(f'not a mentor model (expected "format": "{FORMAT}")', file=path, field="format")
    try:
        return ModelConfig.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        got = first["input"]
        shown = f" (got {got!r:.60})" if got is None or isinstance(got, str | int | float) else ""
        raise ModelDirError(f"{first['msg']}{shown}", file=path, field=field) from None


def _check_encoder(config: ModelConfig, directory: Path) -> None:
    """An encoder that is a path into the run directory is refused: a sentence-transformers directory names the
    modules it is built from, so loading one from a run directory could run code from it."""
    encoder = config.features.encoder
    run = directory.parent if directory.name == MODEL_DIR else directory
    if encoder is None or encoder in PACKAGED_ENCODERS:
        return
    path = Path(encoder).expanduser()
    if path.exists() and path.resolve().is_relative_to(run.resolve()):
        raise ModelDirError("points into the run directory: a model's encoder is installed or named, never loaded "
                            "from a run directory", file=directory / CONFIG, field="features.encoder")  # fmt: skip


def _build(config: ModelConfig, data: bytes, weights: Path) -> nn.Module:
    """The backbone of ``config`` with the weights ``data`` (read from ``weights``): the tensors' names and shapes
    are checked against a backbone built on the meta device (nothing allocated) before the real one is built."""
    try:
        state = load_weights(data)
    except SafetensorError as error:
        raise ModelDirError(f"not a safetensors file ({' '.join(str(error).split())})"[:300], file=weights) from None
    try:
        with torch.device("meta"):
            expected = {name: tuple(t.shape) for name, t in config.backbone.build().state_dict().items()}
    except (ValueError, TypeError, RuntimeError) as error:
        raise ModelDirError(f"cannot build the backbone ({' '.join(str(error).split())})"[:300],
                            file=weights.with_name(CONFIG), field="backbone") from None  # fmt: skip
    found = {name: tuple(tensor.shape) for name, tensor in state.items()}
    if found != expected:
        what = (sorted(set(found) ^ set(expected)) or [n for n in expected if found[n] != expected[n]])[0]
        detail = (f"has shape {list(found[what])}, the backbone needs {list(expected[what])}"
                  if what in found and what in expected else "is missing" if what in expected
                  else "is not in the backbone")  # fmt: skip
        raise ModelDirError(f"does not fit {CONFIG}'s backbone: tensor {what!r} {detail}", file=weights)
    model = config.backbone.build()
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def _graph(graph: TextGraph | str | Path) -> TextGraph:
    return graph if isinstance(graph, TextGraph) else load_dataset(str(graph))


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


__all__ = ["MODEL_DIR", "GraphFingerprint", "ModelConfig", "ModelDirError", "SavedModel", "Training", "id_hashes",
           "load_model", "model_directory", "node_keys", "save_model", "training_record"]  # fmt: skip
