"""Every loader on synthetic data and, when present, on the real shared files."""

import pytest
import torch

from mentor.graph import DatasetNotFound, load_dataset, make_synthetic


def _check(graph, nodes, edges, classes):
    assert (graph.num_nodes, graph.num_edges, graph.num_classes) == (nodes, edges, classes)
    ei = graph.edge_index
    assert not bool((ei[0] == ei[1]).any()), "self-loops"
    reverse = set(map(tuple, ei.flip(0).t().tolist()))
    assert reverse == set(map(tuple, ei.t().tolist())), "not undirected"


def test_cora_with_texts_public_and_random_split(data_root):
    graph = load_dataset("cora", data_root)
    _check(graph, 2708, 5278, 7)
    assert len(graph.texts) == 2708 and all(graph.texts)
    assert graph.split("public").sizes() == {"train": 140, "val": 500, "test": 1000}
    assert graph.split("random").sizes() == {"train": 1625, "val": 542, "test": 541}
    assert graph.class_names[3] == "Neural_Networks"
    assert graph.describe()["edge_homophily"] == pytest.approx(0.81, abs=0.005)


@pytest.mark.parametrize(
    ("name", "nodes", "edges"), [("cornell", 191, 274), ("texas", 187, 280), ("wisconsin", 265, 459)]
)
def test_webkb_with_page_text(data_root, name, nodes, edges):
    graph = load_dataset(name, data_root)
    _check(graph, nodes, edges, 5)
    assert set(graph.class_names) == {"course", "faculty", "project", "staff", "student"}
    assert graph.edge_homophily() < 0.3  # heterophilic
    sizes = graph.split("random").sizes()
    assert sum(sizes.values()) == nodes and sizes["train"] == round(0.6 * nodes)


def test_feature_only_originals(data_root):
    cora = load_dataset("planetoid:Cora", data_root)
    assert cora.texts is None and cora.data.x.shape == (2708, 1433)
    cornell = load_dataset("webkb:Cornell", data_root)
    assert cornell.num_nodes == 183 and cornell.data.x.shape[1] == 1703
    assert {f"geom-gcn-{i}" for i in range(10)} <= set(cornell.splits)


def test_random_split_is_seeded(data_root):
    a, b, c = (load_dataset("cornell", data_root, seed=s).split("random") for s in (0, 0, 1))
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, c.train)


def test_synthetic_controls_homophily_classes_and_noise():
    low = make_synthetic(num_nodes=400, num_classes=4, homophily=0.1, seed=0)
    high = make_synthetic(num_nodes=400, num_classes=4, homophily=0.9, seed=0)
    assert low.num_classes == 4 and low.edge_homophily() < 0.25 and high.edge_homophily() > 0.8
    noisy = make_synthetic(num_nodes=400, label_noise=0.3, seed=0)
    flipped = float((noisy.y != noisy.data.true_y).float().mean())
    assert 0.2 < flipped < 0.4
    again = make_synthetic(num_nodes=400, label_noise=0.3, seed=0)
    assert again.texts == noisy.texts and torch.equal(again.edge_index, noisy.edge_index)


def test_synthetic_options_by_name():
    graph = load_dataset("synthetic:num_nodes=90,num_classes=2,homophily=0.5")
    assert graph.num_nodes == 90 and graph.num_classes == 2


def test_missing_files_name_the_file_and_the_setting(tmp_path):
    with pytest.raises(DatasetNotFound, match=r"cora_text_planetoid_order.jsonl.*MENTOR_DATA_ROOT"):
        load_dataset("cora", tmp_path)
    with pytest.raises(DatasetNotFound, match=r"Cornell.csv"):
        load_dataset("cornell", tmp_path)


def test_unknown_name_lists_the_choices(tmp_path):
    with pytest.raises(ValueError, match="expected one of: cora"):
        load_dataset("imagenet", tmp_path)
