"""Writing run outputs safely: every file goes to a temporary name and is renamed into place, so an interrupted
run never leaves a half-written file; and the versions a result was produced with."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, content: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(content, encoding="utf-8"))


def write_json(path: Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def versions(packages: Iterable[str]) -> dict[str, str]:
    """The Python version and those of ``packages`` (``"not installed"`` where missing)."""
    out = {"python": platform.python_version()}
    for package in ("mentor", *packages):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out
