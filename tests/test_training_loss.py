"""A training step's loss (`gnn.train`): taken a chunk of pairs at a time, it has the whole
batch's value and gradient."""

from __future__ import annotations

import pytest
import torch

from gnn import train as training
from gnn.train import TrainConfig, _chunked_loss, _pair_loss


@pytest.mark.parametrize("loss", ["softmax", "bpr"])
def test_the_chunked_loss_has_the_whole_batchs_value_and_gradient(
    loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "LOSS_CHUNK", 3)  # 10 pairs: chunks of 3, 3, 3 and 1
    generator = torch.Generator().manual_seed(0)
    users, positives = (
        torch.randn(10, 6, generator=generator),
        torch.randn(10, 6, generator=generator),
    )
    negatives = torch.randn(4 if loss == "softmax" else 10, 6, generator=generator)
    config = TrainConfig(loss="softmax" if loss == "softmax" else "bpr")
    leaves = [part.clone().requires_grad_() for part in (users, positives, negatives)]
    whole = _pair_loss(leaves[0], leaves[1], leaves[2], config)
    whole.backward()  # type: ignore[no-untyped-call]

    total, gradients = _chunked_loss((users, positives, negatives), config)

    assert total == pytest.approx(float(whole.detach()), rel=1e-5)
    for gradient, leaf in zip(gradients, leaves, strict=True):
        assert leaf.grad is not None and torch.allclose(gradient, leaf.grad, atol=1e-6)


def test_a_share_without_pairs_has_no_loss_and_no_gradient() -> None:
    """A data-parallel process whose share of the last batch is empty still steps (with the
    others) on a zero gradient."""
    users, positives, negatives = torch.empty(0, 6), torch.empty(0, 6), torch.randn(4, 6)
    total, gradients = _chunked_loss((users, positives, negatives), TrainConfig())
    assert total == 0.0
    assert [tuple(gradient.shape) for gradient in gradients] == [(0, 6), (0, 6), (4, 6)]
    assert not gradients[2].any()
