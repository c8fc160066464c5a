"""RowAdam (`gnn.row_adam`): Adam on the rows a sparse gradient has, the other rows and their
moments left as they are."""

from __future__ import annotations

import pytest
import torch

from gnn.row_adam import RowAdam


def rows_gradient(rows: list[int], values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.tensor([rows]), values, shape, check_invariants=True)


def test_a_gradient_with_every_row_steps_as_adam_does() -> None:
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(5, 3, generator=generator)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    row_adam, adam = RowAdam([ours], lr=0.1), torch.optim.Adam([theirs], lr=0.1)
    for _ in range(4):
        gradient = torch.randn(5, 3, generator=generator)
        ours.grad = rows_gradient([4, 0, 2, 1, 3, 0], torch.cat([gradient[[4, 0, 2, 1, 3]],
                                  torch.zeros(1, 3)]), (5, 3))  # fmt: skip
        theirs.grad = gradient
        row_adam.step()
        adam.step()
    torch.testing.assert_close(ours.detach(), theirs.detach())


def test_rows_outside_the_gradient_stay_as_they_are() -> None:
    start = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    table = torch.nn.Parameter(start.clone())
    optimiser = RowAdam([table], lr=0.1)
    for rows in ([1, 4], [4, 5]):
        table.grad = rows_gradient(rows, torch.ones(2, 2), (6, 2))
        optimiser.step()
    torch.testing.assert_close(table.detach()[[0, 2, 3]], start[[0, 2, 3]])
    assert not torch.allclose(table.detach()[[1, 4, 5]], start[[1, 4, 5]])
    # Rows that were never in a gradient have no moments either.
    assert optimiser.state[table]["moments"][[0, 2, 3]].abs().sum() == 0


def test_a_dense_gradient_is_refused() -> None:
    table = torch.nn.Parameter(torch.zeros(3, 2))
    table.grad = torch.ones(3, 2)
    with pytest.raises(ValueError, match="sparse row gradients only"):
        RowAdam([table]).step()
