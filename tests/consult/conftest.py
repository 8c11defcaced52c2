import pytest

from mentor.graph import make_synthetic


@pytest.fixture
def graph():
    """Homophilic synthetic graph whose texts carry their node id, so prompts can be traced back."""
    g = make_synthetic(num_nodes=150, num_classes=3, homophily=0.7, seed=4)
    g.texts = [f"{text} (doc {i})" for i, text in enumerate(g.texts)]
    return g
