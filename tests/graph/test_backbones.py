import pytest
import torch

from mentor.graph import BACKBONES, build_backbone


@pytest.mark.parametrize("name", list(BACKBONES))
def test_forward_backward(name):
    torch.manual_seed(0)
    x, edge_index = torch.randn(30, 8), torch.randint(0, 30, (2, 90))
    model = build_backbone(name, 8, 4, 30)
    out = model(x, edge_index)
    assert out.shape == (30, 4)
    out.logsumexp(-1).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_unknown_backbone():
    with pytest.raises(ValueError, match="expected one of mlp, gcn"):
        build_backbone("h2gcn", 8, 4, 30)
