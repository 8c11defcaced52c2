"""Loading a saved GNN never runs code from the run directory: pickles and ``.pt`` files planted in ``model/`` are
never opened, weights come from safetensors only, and a damaged or hand-edited model directory is one line (exit
1, nothing written)."""

import json
import pickle
import shutil

import pytest
import torch
from typer.testing import CliRunner

import mentor
from mentor.cli import app
from mentor.graph import TrainConfig, make_synthetic, train_node_classifier
from mentor.graph.features import FeatureSpec
from mentor.graph.saved import ModelDirError, save_model
from tests.reliability.planted import planted_pickle

runner = CliRunner()


@pytest.fixture(scope="module")
def graph():
    return make_synthetic(num_nodes=60, num_classes=3, homophily=0.9, seed=5)


@pytest.fixture(scope="module")
def trained_run(graph, tmp_path_factory):
    spec, x = FeatureSpec.fit_transform("bow", graph, progress=False)
    result = train_node_classifier(x, graph.edge_index, graph.y, graph.split("random"),
                                   TrainConfig(model="sage", epochs=10), features=spec)  # fmt: skip
    run = tmp_path_factory.mktemp("run")
    save_model(run / "model", result, graph)
    return run, result


@pytest.fixture
def run(trained_run, tmp_path):
    """A fresh copy of the run directory (each test damages its own)."""
    shutil.copytree(trained_run[0], tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def no_unpickling(monkeypatch):
    """Any call to torch.load or an unpickler fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    for target, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(target, name, refuse)


def _predict(run, out):
    return runner.invoke(app, ["predict", str(run), "synthetic:num_nodes=60,seed=5,homophily=0.9", "--out", str(out)])


def _one_line(result, expected):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert expected in result.output, result.output


@pytest.mark.parametrize("name", ["model.pt", "pytorch_model.bin", "model.pkl", "weights.pth", "training_args.bin"])
def test_a_planted_pickle_in_model_is_never_loaded(run, trained_run, graph, tmp_path, no_unpickling, name):
    marker = tmp_path / "code-ran"
    (run / "model" / name).write_bytes(planted_pickle(marker))
    loaded = mentor.load(run)
    assert torch.equal(loaded.predict_proba(graph), trained_run[1].probs)
    assert _predict(run, tmp_path / "p.csv").exit_code == 0
    assert not marker.exists()


def test_a_pickle_in_place_of_the_weights_is_one_line_and_never_run(run, tmp_path, no_unpickling):
    marker = tmp_path / "code-ran"
    (run / "model" / "model.safetensors").write_bytes(planted_pickle(marker))
    _one_line(_predict(run, tmp_path / "p.csv"), "model.safetensors: does not match config.json")
    assert not marker.exists() and not (tmp_path / "p.csv").exists()
    with pytest.raises(ModelDirError):
        mentor.load(run)


def test_a_torch_saved_state_in_place_of_the_weights_is_refused(run, trained_run, tmp_path, no_unpickling):
    weights = run / "model" / "model.safetensors"
    with open(weights, "wb") as handle:
        torch.serialization.save(trained_run[1].model.state_dict(), handle)  # torch.save's zip of pickles
    _rehash(run, weights.read_bytes())  # even when config.json vouches for it
    _one_line(_predict(run, tmp_path / "p.csv"), "model.safetensors: not a safetensors file")


def _rehash(run, data):
    import hashlib

    config = json.loads((run / "model" / "config.json").read_text())
    config["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (run / "model" / "config.json").write_text(json.dumps(config))


def _edit(key, value):
    def edit(run):
        config = json.loads((run / "model" / "config.json").read_text())
        target = config
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value
        (run / "model" / "config.json").write_text(json.dumps(config))

    return edit


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda run: (run / "model" / "model.safetensors").unlink(), "model.safetensors: missing"),
        (lambda run: (run / "model" / "model.safetensors").write_bytes(b"\x00" * 40), "does not match config.json"),
        (lambda run: (run / "model" / "config.json").unlink(), "no saved model here"),
        (lambda run: (run / "model" / "config.json").write_text("{not json"), "config.json, line 1: not valid JSON"),
        (lambda run: (run / "model" / "config.json").write_text("[1, 2]"), "config.json: expected a JSON object"),
        (lambda run: (run / "model" / "config.json").write_text('{"format": "keras"}'), "not a mentor model"),
        (_edit("backbone.name", "resnet"), "field 'backbone.name': Value error, unknown backbone 'resnet'"),
        (_edit("backbone.hparams.hidden", 32), "does not fit config.json's backbone: tensor 'model.convs.0.lin_l"),
        (_edit("backbone.hparams.layers", "two"), "config.json, field 'backbone': cannot build the backbone"),
        (_edit("backbone.in_dim", 7), "is not backbone.in_dim 7"),
        (_edit("class_names", ["a", "a", "b"]), "class_names repeats a name"),
        (_edit("features.vocabulary.token_pattern", "(a+)+$"), "field 'features.vocabulary.token_pattern'"),
        (_edit("training.surprise", 1), "field 'training.surprise': Extra inputs are not permitted"),
        (lambda run: (run / "model" / "gate.json").write_text('"open"'), "gate.json: expected a JSON object"),
    ],
)
def test_a_damaged_model_directory_is_one_line_and_nothing_is_written(run, tmp_path, no_unpickling, damage, expected):
    damage(run)
    _one_line(_predict(run, tmp_path / "p.csv"), expected)
    assert not (tmp_path / "p.csv").exists()


def test_an_encoder_inside_the_run_directory_is_refused(run, tmp_path):
    (run / "model" / "encoder").mkdir()
    _edit("features.kind", "encoder")(run)
    _edit("features.vocabulary", None)(run)
    for key, value in (("encoder", str(run / "model" / "encoder")), ("encoder_identity", "x"), ("normalize", True)):
        _edit(f"features.{key}", value)(run)
    _one_line(_predict(run, tmp_path / "p.csv"), "field 'features.encoder': points into the run directory")
