"""Backends: the one place that knows how to reach a particular kind of model."""

import os
from pathlib import Path

from mentor.llm.backends.base import Backend, BackendError, RawCompletion
from mentor.llm.config import LLMConfig
from mentor.llm.models import BUILTIN_MODELS, ModelNotAvailable, builtin_model_path, file_identity


def openai_endpoint(config: LLMConfig) -> str:
    """The base URL an ``openai:`` spec talks to (as the ``openai`` client resolves it)."""
    return (config.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")


def describe(config: LLMConfig) -> tuple[str, str, str]:
    """(model name, endpoint, identity) of ``config.llm``, without loading or contacting the model.

    The identity is what makes two answers interchangeable: a built-in model's pinned sha256, a GGUF file's
    sha256, or an endpoint and model name. It is part of every response-store key.
    """
    spec = config.spec
    if spec.backend == "openai":
        endpoint = openai_endpoint(config)
        return spec.target, endpoint, f"openai:{spec.target}@{endpoint}"
    if spec.is_path:
        path = Path(spec.target).expanduser()
        if not path.is_file():
            raise ModelNotAvailable(f"--llm {spec}: no such GGUF file: {path}")
        return path.stem, "local", f"gguf:{file_identity(path)}"
    if spec.target not in BUILTIN_MODELS:
        builtin_model_path(spec.target)  # raises with the list of known names
    return spec.target, "local", f"gguf:{BUILTIN_MODELS[spec.target].sha256}"


def make_backend(config: LLMConfig) -> Backend:
    """The backend for ``config.llm``."""
    if config.spec.backend == "openai":
        from mentor.llm.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config)
    from mentor.llm.backends.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(config)


__all__ = ["Backend", "BackendError", "RawCompletion", "describe", "make_backend", "openai_endpoint"]
