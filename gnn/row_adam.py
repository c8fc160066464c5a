"""Adam for embedding tables whose gradients are sparse rows (walk-sampled steps,
`gnn.sampling`): a step updates the rows its gradient has and their moments, and leaves every
other row as it is (lazy Adam, as `torch.optim.SparseAdam`). The moments are a dense table
indexed by row, which costs under two thirds of SparseAdam's sparse-tensor arithmetic; where a
step's gradient has every row, a step is `torch.optim.Adam`'s.

On the CPU one compiled loop (`gnn.compiled`) updates each row's weights and moments where
they lie, in one pass. Tensor operations gather the moments, make eight passes over the copies
and scatter them back: at 16x Beauty's size (a 554k-row table, 224k rows a step;
docs/scale.md) they take 0.21 s a step, the loop 0.03 s. Other devices take them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numba
import numpy as np
import torch

from gnn.compiled import compiled_loop, use_torch_threads


class RowAdam(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        compiled: bool = True,
    ) -> None:
        """`compiled`: update float32 CPU tables with the compiled loop (False: tensor
        operations everywhere, which the tests compare it with)."""
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        self.compiled = compiled

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("RowAdam takes no closure")
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not param.grad.is_sparse:
                    raise ValueError("RowAdam updates sparse row gradients only")
                rows, values = self._rows(param.grad)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    # Both moments of a row side by side: a step reads and writes each of
                    # its rows' moments at one place.
                    state["moments"] = param.new_zeros(len(param), 2, *param.shape[1:])
                state["step"] += 1
                step_size = group["lr"] / (1 - beta1 ** state["step"])
                correction2 = 1 - beta2 ** state["step"]
                update = _update_in_place if self._compilable(param) else _update_by_tensors
                constants = _Constants(step_size, beta1, beta2, group["eps"], correction2)
                update(param, state["moments"], rows, values, constants)

    def _compilable(self, param: torch.Tensor) -> bool:
        return (self.compiled and param.device.type == "cpu" and param.dtype == torch.float32
                and param.is_contiguous())  # fmt: skip

    @staticmethod
    def _rows(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, their summed gradients), each row once. An embedding's sparse gradient over
        sorted distinct rows (`torch.unique`'s) is not marked coalesced, and coalescing 200k
        rows costs 50 ms, so rows already in increasing order are taken as they are."""
        rows, values = grad._indices()[0], grad._values()
        if bool((rows[1:] > rows[:-1]).all()):
            return rows, values
        grad = grad.coalesce()
        return grad.indices()[0], grad.values()


class _Constants(NamedTuple):
    """One step's: Adam's step size (with the first moment's bias correction), betas, eps and
    the second moment's bias correction."""

    step_size: float
    beta1: float
    beta2: float
    eps: float
    correction2: float


def _update_by_tensors(
    param: torch.Tensor, table: torch.Tensor, rows: torch.Tensor, values: torch.Tensor,
    constants: _Constants,
) -> None:  # fmt: skip
    step_size, beta1, beta2, eps, correction2 = constants
    moments = table.index_select(0, rows)
    first, second = moments[:, 0], moments[:, 1]
    first.mul_(beta1).add_(values, alpha=1 - beta1)
    second.mul_(beta2).addcmul_(values, values, value=1 - beta2)
    table.index_copy_(0, rows, moments)
    denominator = second.div_(correction2).sqrt_().add_(eps)
    param.index_add_(0, rows, first.div_(denominator), alpha=-step_size)


def _update_in_place(
    param: torch.Tensor, table: torch.Tensor, rows: torch.Tensor, values: torch.Tensor,
    constants: _Constants,
) -> None:  # fmt: skip
    use_torch_threads()
    width = param[0].numel()
    _adam_rows(param.detach().view(len(param), width).numpy(),
               table.view(len(table), 2, width).numpy(), rows.numpy(),
               values.contiguous().view(len(rows), width).numpy(),
               *(np.float32(value) for value in constants))  # fmt: skip


@compiled_loop
def _adam_rows(
    param: np.ndarray, moments: np.ndarray, rows: np.ndarray, grads: np.ndarray,
    step_size: np.float32, beta1: np.float32, beta2: np.float32, eps: np.float32,
    correction2: np.float32,
) -> None:  # fmt: skip
    for i in numba.prange(len(rows)):  # rows are distinct: no two threads share one
        row, grad = rows[i], grads[i]
        weights, first, second = param[row], moments[row, 0], moments[row, 1]
        for d in range(len(weights)):
            first[d] = beta1 * first[d] + (1 - beta1) * grad[d]
            second[d] = beta2 * second[d] + (1 - beta2) * grad[d] * grad[d]
            weights[d] -= step_size * first[d] / (np.sqrt(second[d] / correction2) + eps)
