"""``mentor.graph``: text-attributed graphs, text features, PyG backbones, training and uncertainty."""

from mentor.errors import DataError, DatasetNotFound
from mentor.graph.backbones import BACKBONES, build_backbone
from mentor.graph.datasets import load_dataset, make_synthetic
from mentor.graph.features import SentenceEncoder, node_features
from mentor.graph.splits import random_split
from mentor.graph.text_graph import Split, TextGraph
from mentor.graph.train import PseudoLabels, TrainConfig, TrainResult, evaluate, train_node_classifier
from mentor.graph.uncertainty import mc_dropout_probs, select_uncertain, uncertainty_scores
from mentor.graph.validate import validate

__all__ = [
    "BACKBONES",
    "DataError",
    "DatasetNotFound",
    "PseudoLabels",
    "SentenceEncoder",
    "Split",
    "TextGraph",
    "TrainConfig",
    "TrainResult",
    "build_backbone",
    "evaluate",
    "load_dataset",
    "make_synthetic",
    "mc_dropout_probs",
    "node_features",
    "random_split",
    "select_uncertain",
    "train_node_classifier",
    "uncertainty_scores",
    "validate",
]
