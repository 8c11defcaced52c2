"""Writing run outputs safely: every file goes to a temporary name and is renamed into place, so an interrupted
run never leaves a half-written file; and the versions a result was produced with."""

from __future__ import annotations

import errno
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``. A name the file system cannot
    hold is an ``OSError`` naming ``path`` itself, not the temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(os.fsencode(path.name)) > os.pathconf(path.parent, "PC_NAME_MAX"):
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600: give the file the mode an ordinary open() would
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: A temporary file of :func:`atomic_write` this much older than now belongs to a run that was killed.
STALE_TMP_S = 60.0


class OutputError(ValueError):
    """An output path that cannot take a run's outputs (checked before any work is done)."""


def prepare_output_dir(path: Path, outputs: Iterable[str] = (), *, option: str = "--out") -> list[str]:
    """Check, before any work, that ``path`` can hold a run's outputs, and remove the temporary files a killed
    run left there. Returns notes for the user: which of ``outputs`` already exist and will be replaced."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: exists and is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write there ({existing} is not a writable directory)")
    notes = []
    if path.is_dir():
        now = time.time()
        for leftover in path.glob(".*.tmp"):
            if leftover.is_file() and now - leftover.stat().st_mtime > STALE_TMP_S:
                leftover.unlink(missing_ok=True)
        replaced = [name for name in outputs if (path / name).exists()]
        if replaced:
            notes.append(f"{path} holds a previous run's {', '.join(replaced)}: this run replaces them")
    return notes


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
