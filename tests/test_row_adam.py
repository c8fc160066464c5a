"""RowAdam (`gnn.row_adam`): Adam on the rows a sparse gradient has, the other rows and their
moments left as they are."""

from __future__ import annotations

import pytest
import torch

from gnn.row_adam import RowAdam


def rows_gradient(rows: list[int], values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.tensor([rows]), values, shape, check_invariants=True)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop", "tensor operations"])
def test_a_gradient_with_every_row_steps_as_adam_does(compiled: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(5, 3, generator=generator)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    row_adam = RowAdam([ours], lr=0.1, compiled=compiled)
    adam = torch.optim.Adam([theirs], lr=0.1)
    for _ in range(4):
        gradient = torch.randn(5, 3, generator=generator)
        ours.grad = rows_gradient([4, 0, 2, 1, 3, 0], torch.cat([gradient[[4, 0, 2, 1, 3]],
                                  torch.zeros(1, 3)]), (5, 3))  # fmt: skip
        theirs.grad = gradient
        row_adam.step()
        adam.step()
    torch.testing.assert_close(ours.detach(), theirs.detach())


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop", "tensor operations"])
def test_rows_outside_the_gradient_stay_as_they_are(compiled: bool) -> None:
    start = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    table = torch.nn.Parameter(start.clone())
    optimiser = RowAdam([table], lr=0.1, compiled=compiled)
    for rows in ([1, 4], [4, 5]):
        table.grad = rows_gradient(rows, torch.ones(2, 2), (6, 2))
        optimiser.step()
    torch.testing.assert_close(table.detach()[[0, 2, 3]], start[[0, 2, 3]])
    assert not torch.allclose(table.detach()[[1, 4, 5]], start[[1, 4, 5]])
    # Rows that were never in a gradient have no moments either.
    assert optimiser.state[table]["moments"][[0, 2, 3]].abs().sum() == 0


def test_the_compiled_loop_steps_as_the_tensor_operations_do() -> None:
    """Many rows of a wide table, several steps, so that the loop's threads share the rows and
    the bias corrections change from step to step."""
    generator = torch.Generator().manual_seed(2)
    start = torch.randn(5000, 64, generator=generator)
    tables = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    optimisers = [RowAdam([tables[0]], lr=0.01), RowAdam([tables[1]], lr=0.01, compiled=False)]
    for _ in range(5):
        rows = torch.randperm(5000, generator=generator)[:3000].sort().values
        values = torch.randn(3000, 64, generator=generator)
        for table, optimiser in zip(tables, optimisers, strict=True):
            table.grad = rows_gradient(rows.tolist(), values, (5000, 64))
            optimiser.step()
    torch.testing.assert_close(tables[0].detach(), tables[1].detach())
    torch.testing.assert_close(optimisers[0].state[tables[0]]["moments"],
                               optimisers[1].state[tables[1]]["moments"])  # fmt: skip
    assert not torch.equal(tables[0].detach(), start)


def test_a_dense_gradient_is_refused() -> None:
    table = torch.nn.Parameter(torch.zeros(3, 2))
    table.grad = torch.ones(3, 2)
    with pytest.raises(ValueError, match="sparse row gradients only"):
        RowAdam([table]).step()
