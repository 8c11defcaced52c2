"""No code runs from a data file or a model directory: Planetoid's raw pickles are read by a restricted unpickler
(and still give exactly what PyG's reader gives), and models that name their own code are refused."""

import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from torch_geometric.datasets import Planetoid
from torch_geometric.io.planetoid import read_file
from typer.testing import CliRunner

from mentor.cli import app
from mentor.errors import DataError
from mentor.graph.datasets.planetoid_raw import SafePlanetoid, read_raw_file
from tests.conftest import shared_data_root
from tests.reliability.planted import planted_pickle

runner = CliRunner()
RAW_PICKLES = ("x", "tx", "allx", "y", "ty", "ally", "graph")


def _cora_root(tmp_path):
    source = shared_data_root("planetoid/Cora/raw")
    root = tmp_path / "data"
    shutil.copytree(source / "planetoid" / "Cora" / "raw", root / "planetoid" / "Cora" / "raw")
    if (source / "cora_text").is_dir():
        shutil.copytree(source / "cora_text", root / "cora_text")
    return root


@pytest.mark.parametrize("dataset", ["planetoid:Cora", "cora"])
@pytest.mark.parametrize("name", RAW_PICKLES)
def test_a_pickle_planted_among_the_raw_files_is_refused_and_never_run(tmp_path, monkeypatch, dataset, name):
    root = _cora_root(tmp_path)
    if dataset == "cora" and not (root / "cora_text").is_dir():
        pytest.skip("cora_text not in the shared data root")
    marker = tmp_path / "code-ran"
    planted = root / "planetoid" / "Cora" / "raw" / f"ind.cora.{name}"
    planted.write_bytes(planted_pickle(marker))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    monkeypatch.setenv("MENTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # PyG's progress lines show, as outside the tests
    result = runner.invoke(app, ["data", "describe", dataset, "--data-root", str(root)])
    assert not marker.exists()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    raw = root / "planetoid" / "Cora" / "raw"
    assert f"{raw / planted.name}: holds something other than the Planetoid arrays" in result.output
    assert "(it refers to io.open); it was not loaded" in result.output
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("x", [1, 2], "holds a list, not the 2-D numeric array expected"),
        ("y", np.array([[1, "a"]], dtype=object), "holds a ndarray, not the 2-D numeric array expected"),
        ("graph", {0: "1"}, "holds a dict, not the dict of neighbour lists expected"),
    ],
)
def test_raw_files_holding_the_wrong_things_are_refused(tmp_path, name, value, message):
    (tmp_path / f"ind.cora.{name}").write_bytes(pickle.dumps(value, protocol=4))
    with pytest.raises(DataError, match=rf"ind.cora.{name}: {message}"):
        read_raw_file(str(tmp_path), "cora", name)
    (tmp_path / f"ind.cora.{name}").write_bytes(pickle.dumps(value, protocol=4)[:-5])
    with pytest.raises(DataError, match=rf"ind.cora.{name}: is not a readable Planetoid file"):
        read_raw_file(str(tmp_path), "cora", name)


def test_every_real_raw_file_reads_as_pyg_reads_it():
    root = shared_data_root("planetoid")
    files = sorted(p for p in (root / "planetoid").glob("*/raw/ind.*.*") if p.name.split(".", 2)[2] in RAW_PICKLES)
    assert files
    for path in files:
        _, prefix, name = path.name.split(".", 2)
        safe, stock = read_raw_file(str(path.parent), prefix, name), read_file(str(path.parent), prefix, name)
        assert safe == stock if name == "graph" else torch.equal(safe, stock), path


@pytest.mark.parametrize("name", ["Cora", "CiteSeer", "PubMed"])
def test_the_safe_planetoid_equals_pyg_planetoid(tmp_path, name):
    raw = shared_data_root(f"planetoid/{name}/raw") / "planetoid" / name / "raw"
    if not (raw / f"ind.{name.lower()}.allx").is_file():
        pytest.skip(f"{raw} is incomplete (PyG would download the rest)")
    for copy in ("safe", "stock"):
        shutil.copytree(raw, tmp_path / copy / name / "raw")
    safe, stock = SafePlanetoid(str(tmp_path / "safe"), name)[0], Planetoid(str(tmp_path / "stock"), name)[0]
    assert safe.num_nodes == stock.num_nodes and torch.equal(safe.edge_index, stock.edge_index)
    for key in ("x", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(safe[key], stock[key]), key


def _model_with_own_code(directory, marker):
    """A model directory whose config names Python files that would create ``marker`` when imported."""
    directory.mkdir()
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    (directory / "configuration_planted.py").write_text(
        code + "from transformers import PretrainedConfig\n\n\nclass PlantedConfig(PretrainedConfig):\n"
        "    model_type = 'planted'\n"
    )
    (directory / "modeling_planted.py").write_text(code)
    auto_map = {"AutoConfig": "configuration_planted.PlantedConfig"}
    for auto in ("AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification", "AutoTokenizer"):
        auto_map[auto] = "modeling_planted.PlantedModel"
    (directory / "config.json").write_text(json.dumps({"model_type": "planted", "auto_map": auto_map}))
    return directory


def _load_student(path):
    from mentor.distill.student import load_student

    load_student(str(path))


def _load_scorer(path):
    from mentor.distill.scorer import ConsistencyScorer

    ConsistencyScorer.load(path)


def _load_encoder(path):
    from mentor.graph.features.encoder import SentenceEncoder

    SentenceEncoder(str(path), cache_path=path.parent / "embeddings.sqlite").encode(["a text"], progress=False)


@pytest.mark.parametrize("load", [_load_student, _load_scorer, _load_encoder], ids=["student", "scorer", "encoder"])
def test_a_model_directory_with_its_own_code_is_refused_without_asking(tmp_path, monkeypatch, load):
    marker = tmp_path / "code-ran"
    directory = _model_with_own_code(tmp_path / "model", marker)
    # Were the code run, transformers would copy it here (not into the user's cache).
    monkeypatch.setattr("transformers.dynamic_module_utils.HF_MODULES_CACHE", str(tmp_path / "modules"), raising=False)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "y")  # a user who says yes
    with pytest.raises(ValueError, match="custom code"):
        load(directory)
    assert not marker.exists() and not asked
