"""A pickle with a payload, planted where mentor must never unpickle anything."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any


class Planted:
    """Unpickling this creates ``marker``: proof that code from a data file, run directory or model ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def planted_pickle(marker: Path) -> bytes:
    """The bytes of a pickle whose loading creates ``marker``."""
    return pickle.dumps(Planted(marker))
