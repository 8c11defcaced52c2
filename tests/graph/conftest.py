from pathlib import Path

import pytest

from mentor.graph import make_synthetic
from tests.conftest import shared_data_root


@pytest.fixture(scope="session")
def data_root() -> Path:
    return shared_data_root("planetoid")


@pytest.fixture(scope="session")
def small_graph():
    return make_synthetic(num_nodes=120, num_classes=3, homophily=0.9, seed=1)
