"""Where mentor keeps things: the cache directory, the default response store and the data root.

Each location is read from an environment variable first, so that a run (or CI) can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path

CACHE_DIR_ENV = "MENTOR_CACHE_DIR"
STORE_ENV = "MENTOR_STORE"
DATA_ROOT_ENV = "MENTOR_DATA_ROOT"


def cache_dir() -> Path:
    """Directory for assembled model files and other reusable artefacts (env ``MENTOR_CACHE_DIR``)."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else user_cache_path("mentor")


def default_store_path() -> Path:
    """The response store used when none is given (env ``MENTOR_STORE``, else ``<cache>/responses.sqlite``)."""
    env = os.environ.get(STORE_ENV)
    return Path(env).expanduser() if env else cache_dir() / "responses.sqlite"


def data_root() -> Path:
    """Root directory of the data sets (env ``MENTOR_DATA_ROOT``, else ``<cache>/data``)."""
    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env).expanduser() if env else cache_dir() / "data"
