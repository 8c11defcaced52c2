"""Backends: the one place that knows how to reach a particular kind of model."""

from pathlib import Path

from mentor.llm.backends.base import Backend, BackendError, MissingAPIKey, RawCompletion
from mentor.llm.backends.endpoint import http_identity, remembered_identity, resolve
from mentor.llm.config import LLMConfig
from mentor.llm.models import BUILTIN_MODELS, ModelNotAvailable, builtin_model_path, file_identity


def openai_endpoint(config: LLMConfig) -> str:
    """The base URL an ``openai:`` spec talks to, as shown and stored: without user-info or query."""
    return resolve(config.base_url).url


def describe(config: LLMConfig) -> tuple[str, str, str]:
    """(model name, endpoint, identity) of ``config.llm``, without loading or contacting the model.

    The identity is what makes two answers interchangeable: a built-in model's pinned sha256, a GGUF file's
    sha256; for an HTTP model ``--llm-identity`` when given, else the served model's name with the fingerprint
    its server reports (see :mod:`mentor.llm.backends.endpoint`). That fingerprint is settled by asking the
    server (:meth:`Backend.resolve_identity`); here, without asking, it is the one last seen at this endpoint,
    or none. The identity is part of every response-store key.
    """
    spec = config.spec
    if spec.backend == "openai":
        endpoint = resolve(config.base_url)
        known = config.identity or remembered_identity(spec.target, endpoint) or http_identity(spec.target)
        return spec.target, endpoint.url, known
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


__all__ = ["Backend", "BackendError", "MissingAPIKey", "RawCompletion", "describe", "make_backend", "openai_endpoint"]
