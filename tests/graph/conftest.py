import os
from pathlib import Path

import pytest

from mentor.graph import make_synthetic


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real data sets (CI: ../shared/datasets); tests using it skip when it is absent."""
    root = Path(os.environ.get("MENTOR_DATA_ROOT", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
    if not (root / "planetoid").is_dir():
        pytest.skip(f"real data sets not found under {root} (set MENTOR_DATA_ROOT)")
    return root


@pytest.fixture(scope="session")
def small_graph():
    return make_synthetic(num_nodes=120, num_classes=3, homophily=0.9, seed=1)
