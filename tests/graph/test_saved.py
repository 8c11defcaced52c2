"""A trained GNN saved and loaded again (:mod:`mentor.graph.saved`): the same predictions on the training graph,
features made again for new texts (the TF-IDF vocabulary re-applied, only new texts encoded), and clear errors
where a graph cannot be predicted."""

import json

import pytest
import torch
from safetensors.torch import load_file

import mentor
from mentor.errors import DataError
from mentor.graph import BACKBONES, TrainConfig, load_dataset, make_synthetic, train_node_classifier
from mentor.graph.features import FeatureSpec, SentenceEncoder
from mentor.graph.saved import GraphFingerprint, SavedModel, save_model, training_record
from tests.graph.test_predictions import write_graph


def _train(graph, kind="bow", model="gcn", encoder=None, epochs=15):
    spec, x = FeatureSpec.fit_transform(kind, graph, encoder=encoder, progress=False)
    config = TrainConfig(model=model, epochs=epochs, patience=epochs)
    return train_node_classifier(x, graph.edge_index, graph.y, graph.split("random"), config,
                                 num_classes=graph.num_classes, features=spec)  # fmt: skip


def _grown(graph, new=10):
    """``graph`` with ``new`` nodes added at the end, each joined to two old nodes, with texts of their own."""
    grown = graph.copy()
    n = graph.num_nodes
    grown.texts = [*graph.texts, *(f"a new page about {graph.class_names[i % 3]} number {i}" for i in range(new))]
    grown.node_ids = [*(graph.node_ids or map(str, range(n))), *(f"new-{i}" for i in range(new))]
    pairs = torch.tensor([[n + i, u] for i in range(new) for u in (i, 2 * i + 1)]).t()
    grown.data.edge_index = torch.cat([graph.edge_index, pairs, pairs.flip(0)], dim=1)
    grown.data.y = torch.cat([graph.y, torch.full((new,), -1)])
    grown.data.num_nodes = n + new
    grown.splits = {}
    return grown


@pytest.fixture(scope="module")
def graph():
    return make_synthetic(num_nodes=90, num_classes=3, homophily=0.85, seed=2)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_predicts_its_training_graph_exactly_after_loading(graph, tmp_path, name):
    result = _train(graph, model=name)
    save_model(tmp_path, result, graph)
    loaded = SavedModel.load(tmp_path)
    assert torch.equal(loaded.predict_proba(graph), result.probs)
    assert not loaded.model.training
    saved = load_file(tmp_path / "model.safetensors")
    assert saved.keys() == result.model.state_dict().keys()


def test_the_config_says_how_to_rebuild_and_apply_the_model(graph, tmp_path):
    result = _train(graph, model="gat")
    save_model(tmp_path, result, graph, training=training_record(result, split="random"))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["backbone"] == {"name": "gat", "in_dim": result.backbone.in_dim, "num_classes": 3,
                                  "hparams": {"hidden": 64, "layers": 2, "dropout": 0.5, "heads": 8}}  # fmt: skip
    features = config["features"]
    assert features["kind"] == "bow" and features["dim"] == config["backbone"]["in_dim"]
    assert len(features["vocabulary"]["terms"]) == len(features["vocabulary"]["idf"]) == features["dim"]
    assert features["vocabulary"]["stop_words"] == "english" and features["vocabulary"]["lowercase"] is True
    assert config["class_names"] == graph.class_names
    assert config["graph"]["sha256"] == GraphFingerprint.of(graph).sha256 and config["graph"]["nodes"] == 90
    assert config["training"]["config"]["lr"] == 0.005 and config["training"]["split"] == "random"
    assert {"mentor", "torch", "torch-geometric", "safetensors"} <= set(config["versions"])
    assert not (tmp_path / "gate.json").exists()


def test_the_bow_vocabulary_is_reapplied_to_new_texts_not_refitted(graph):
    result = _train(graph)
    grown = _grown(graph)
    x = result.features.transform(grown)
    refitted = FeatureSpec.fit_transform("bow", grown, progress=False)[1]
    assert torch.equal(x[: graph.num_nodes], result.features.transform(graph))
    assert x.size(1) == result.features.dim and not torch.equal(x[: graph.num_nodes], refitted[: graph.num_nodes])


def test_a_graph_with_new_nodes_is_predicted_and_only_new_texts_are_encoded(graph, tmp_path):
    encoder = SentenceEncoder("minilm", cache_path=tmp_path / "emb.sqlite")
    result = _train(graph, kind="minilm", encoder=encoder)
    save_model(tmp_path / "model", result, graph)
    saved = mentor.load(tmp_path)  # the run directory: its model/
    grown = _grown(graph)
    table = saved.predict(grown, encoder=encoder)
    assert encoder.encoded_last == 10
    assert len(table) == 100 and table.frame["id"].tolist()[-10:] == [f"new-{i}" for i in range(10)]
    assert set(table.frame["source"]) == {"gnn"} and set(table.frame["label"]) <= set(graph.class_names)


def test_given_features_are_the_graphs_own(graph, tmp_path):
    with_x = graph.copy()
    with_x.data.x = torch.randn(graph.num_nodes, 12, generator=torch.Generator().manual_seed(0))
    result = _train(with_x, kind="given")
    saved = SavedModel.from_training(result, with_x)
    assert torch.equal(saved.predict_proba(with_x), result.probs)
    with pytest.raises(DataError, match="no given features, and the model's features are made from the graph's"):
        saved.predict_proba(graph)


def test_other_classes_are_a_clear_error(graph):
    saved = SavedModel.from_training(_train(graph), graph)
    other = graph.copy()
    other.class_names = [*graph.class_names[:2], "gardening"]
    with pytest.raises(DataError, match="missing 'cooking'; not the model's 'gardening'") as error:
        saved.predict(other)
    assert "\n" not in str(error.value)
    reordered = graph.copy()
    reordered.class_names = list(reversed(graph.class_names))
    with pytest.raises(DataError, match=r"in another order\): the model has 'sports', 'music', 'cooking'"):
        saved.predict(reordered)


def test_a_repeated_node_id_is_a_clear_error(graph):
    saved = SavedModel.from_training(_train(graph), graph)
    repeated = graph.copy()
    repeated.node_ids = [str(i) for i in range(graph.num_nodes)]
    repeated.node_ids[5] = "3"
    with pytest.raises(DataError, match="node id '3' appears more than once"):
        saved.predict(repeated)


def test_linkx_predicts_its_training_nodes_and_names_the_backbones_for_new_ones(graph):
    result = _train(graph, model="linkx")
    saved = SavedModel.from_training(result, graph)
    assert torch.equal(saved.predict_proba(graph), result.probs)
    expected = (r"linkx, whose adjacency branch .* \(90 nodes\).* this graph has 100 nodes; to predict new nodes, "
                r"train with --model mlp, gcn, sage, gat, appnp, gcnii, mixhop")  # fmt: skip
    with pytest.raises(DataError, match=expected):
        saved.check(_grown(graph))


def test_a_missing_encoder_is_a_clear_error(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _train(graph)
    spec = FeatureSpec(kind="encoder", dim=result.features.dim, encoder=str(tmp_path / "gone"),
                       encoder_identity=f"{tmp_path / 'gone'}|norm=True", normalize=True)  # fmt: skip
    with pytest.raises(DataError, match=r"^the model's features need the sentence encoder '.*gone', which cannot be"):
        spec.transform(graph, encoder=SentenceEncoder(str(tmp_path / "gone"), cache_path=tmp_path / "e.sqlite"))


def test_a_plain_file_graph_with_hostile_ids_round_trips(tmp_path):
    write_graph(tmp_path / "g", num_nodes=60)
    graph = load_dataset(str(tmp_path / "g"))
    result = _train(graph)
    save_model(tmp_path / "run" / "model", result, graph)
    table = mentor.load(tmp_path / "run").predict(str(tmp_path / "g"))
    assert table.frame["id"].tolist() == graph.node_ids
    assert table.frame["gnn_label"].tolist() == [graph.class_names[c] for c in result.probs.argmax(-1).tolist()]


def test_new_nodes_are_told_by_id_not_by_position_or_text(graph, tmp_path):
    result = _train(graph)
    save_model(tmp_path, result, graph)
    loaded = SavedModel.load(tmp_path)
    assert not loaded.new_nodes(graph).any()
    grown = _grown(graph)
    assert loaded.new_nodes(grown).nonzero().view(-1).tolist() == list(range(graph.num_nodes, grown.num_nodes))
    grown.texts = [f"changed {t}" for t in grown.texts]  # a node whose text changed is not new
    shuffled = grown.copy()
    shuffled.node_ids = list(reversed(grown.node_ids))  # nor is an old node at another position
    assert int(loaded.new_nodes(shuffled).sum()) == 10
    assert any("10 of the graph's 100 nodes are new" in note for note in loaded.notes(grown))


def test_a_changed_nodes_file_is_refused_and_a_model_without_one_still_predicts(graph, tmp_path):
    result = _train(graph)
    save_model(tmp_path, result, graph)
    nodes = tmp_path / "nodes.safetensors"
    original = nodes.read_bytes()
    nodes.write_bytes(original[:-8] + bytes(8))
    with pytest.raises(DataError, match="nodes.safetensors: does not match config.json"):
        SavedModel.load(tmp_path)
    # a model saved before nodes.safetensors existed: predicts, but cannot tell new nodes
    nodes.unlink()
    config = json.loads((tmp_path / "config.json").read_text())
    del config["nodes_sha256"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    older = SavedModel.load(tmp_path)
    assert torch.equal(older.predict_proba(graph), result.probs)
    with pytest.raises(DataError, match="has no nodes.safetensors"):
        older.new_nodes(graph)
