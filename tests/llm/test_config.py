import pytest

from mentor.llm import LLMConfig, parse_spec
from mentor.llm.backends import describe
from mentor.llm.models import BUILTIN_MODELS


@pytest.mark.parametrize(
    ("spec", "backend", "target", "is_path"),
    [
        ("local:qwen2.5-1.5b", "local", "qwen2.5-1.5b", False),
        ("local:/models/x.gguf", "local", "/models/x.gguf", True),
        ("local:x.gguf", "local", "x.gguf", True),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", False),
    ],
)
def test_specs(spec, backend, target, is_path):
    parsed = parse_spec(spec)
    assert (parsed.backend, parsed.target, parsed.is_path) == (backend, target, is_path)


@pytest.mark.parametrize("spec", ["qwen", "hf:x", "local:", "openai: "])
def test_bad_specs_explain_the_forms(spec):
    with pytest.raises(ValueError, match="expected local:NAME"):
        parse_spec(spec)


def test_identity_of_builtin_is_its_pinned_checksum_without_loading():
    model, endpoint, identity = describe(LLMConfig(llm="local:qwen2.5-1.5b"))
    assert (model, endpoint) == ("qwen2.5-1.5b", "local")
    assert identity == f"gguf:{BUILTIN_MODELS['qwen2.5-1.5b'].sha256}"


def test_identity_of_http_model_includes_the_endpoint():
    a = describe(LLMConfig(llm="openai:m", base_url="http://127.0.0.1:1/v1/"))[2]
    b = describe(LLMConfig(llm="openai:m", base_url="http://127.0.0.1:2/v1"))[2]
    assert a == "openai:m@http://127.0.0.1:1/v1" and a != b


def test_missing_gguf_path_is_named(tmp_path):
    with pytest.raises(Exception, match="no such GGUF file"):
        describe(LLMConfig(llm=f"local:{tmp_path}/missing.gguf"))
