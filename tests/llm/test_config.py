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


def test_identity_of_http_model_does_not_depend_on_where_the_server_listens():
    a = describe(LLMConfig(llm="openai:m", base_url="http://127.0.0.1:1/v1/"))
    b = describe(LLMConfig(llm="openai:m", base_url="http://localhost:2/v1"))
    assert a == ("m", "http://127.0.0.1:1/v1", "openai:m") and b[2] == a[2]


def test_identity_can_be_named():
    config = LLMConfig(llm="openai:m", base_url="http://127.0.0.1:1/v1", identity="qwen2.5-7b-q4")
    assert describe(config)[2] == "qwen2.5-7b-q4"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"llm": "local:qwen2.5-1.5b", "identity": "x"}, "openai: models only"),
        ({"llm": "openai:m", "identity": "two\nlines"}, "one line"),
        ({"llm": "openai:m", "base_url": "127.0.0.1:8000/v1"}, "expected http"),
        ({"llm": "openai:m", "api_key_env": " "}, "name an environment variable"),
    ],
)
def test_bad_http_settings_are_refused(overrides, problem):
    with pytest.raises(ValueError, match=problem):
        LLMConfig(**overrides)


def test_credentials_in_the_base_url_are_not_part_of_the_endpoint():
    config = LLMConfig(llm="openai:m", base_url="https://alice:sk-0123456789abcdef@host.example:8443/v1/?api-key=Q")
    model, endpoint, identity = describe(config)
    assert endpoint == "https://host.example:8443/v1" and identity == "openai:m"
    assert "sk-0123456789abcdef" not in repr(config)


def test_missing_gguf_path_is_named(tmp_path):
    with pytest.raises(Exception, match="no such GGUF file"):
        describe(LLMConfig(llm=f"local:{tmp_path}/missing.gguf"))
