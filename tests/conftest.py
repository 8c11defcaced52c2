"""Shared fixtures: an isolated mentor cache per test session, and a response store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Assembled models and memo files go to a throw-away cache, never the user's."""
    cache = tmp_path_factory.mktemp("mentor-cache")
    old = os.environ.get("MENTOR_CACHE_DIR")
    os.environ["MENTOR_CACHE_DIR"] = str(cache)
    os.environ.pop("MENTOR_STORE", None)
    yield cache
    if old is None:
        os.environ.pop("MENTOR_CACHE_DIR", None)
    else:
        os.environ["MENTOR_CACHE_DIR"] = old


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "responses.sqlite"


def shared_data_root(required: str) -> Path:
    """The shared real data sets (CI: ../shared/datasets), or a skip naming what is missing."""
    root = Path(os.environ.get("MENTOR_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    if not (root / required).is_dir():
        pytest.skip(f"{required} not found under {root} (set MENTOR_DATA_ROOT)")
    return root
