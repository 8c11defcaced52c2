"""Assembling a model from part packages: order, checksum, reuse, and clear errors."""

import hashlib
import sys

import pytest

from mentor.llm.models import BuiltinModel, ModelNotAvailable, builtin_model_path, part_files


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three installed 'part packages' holding a file split in pieces, like the real teacher packages."""
    content = bytes(range(256)) * 1000
    pieces = [content[:100_000], content[100_000:200_000], content[200_000:]]
    for i, piece in enumerate(pieces, 1):
        data = tmp_path / "site" / f"fakepart{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("raise ImportError('part packages must not be imported')\n")
        (data / f"part{i:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = BuiltinModel(
        name="fake", description="", filename="fake.gguf", modules=("fakepart1", "fakepart2", "fakepart3"),
        pattern="data/*.bin", sha256=hashlib.sha256(content).hexdigest(), extra="fake",
    )  # fmt: skip
    yield model, content
    for i in range(1, 4):
        sys.modules.pop(f"fakepart{i}", None)


def test_parts_are_concatenated_in_order_checked_and_reused(fake_parts, tmp_path, monkeypatch):
    model, content = fake_parts
    monkeypatch.setitem(__import__("mentor.llm.models").llm.models.BUILTIN_MODELS, "fake", model)
    path = builtin_model_path("fake", tmp_path / "cache")
    assert path.read_bytes() == content
    mtime = path.stat().st_mtime_ns
    assert builtin_model_path("fake", tmp_path / "cache").stat().st_mtime_ns == mtime  # not rebuilt


def test_checksum_mismatch_leaves_nothing_behind(fake_parts, tmp_path, monkeypatch):
    model, _ = fake_parts
    bad = BuiltinModel(**{**model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(__import__("mentor.llm.models").llm.models.BUILTIN_MODELS, "fake", bad)
    with pytest.raises(ModelNotAvailable, match="sha256"):
        builtin_model_path("fake", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_part_package_names_the_install_command(fake_parts):
    model, _ = fake_parts
    missing = BuiltinModel(**{**model.__dict__, "modules": (*model.modules, "fakepart_absent")})
    with pytest.raises(ModelNotAvailable, match=r"fakepart_absent missing.*pip install 'mentor\[fake\]'"):
        part_files(missing)


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ModelNotAvailable, match="local:qwen2.5-1.5b"):
        builtin_model_path("gpt-17")
