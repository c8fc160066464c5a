"""What the processes of data-parallel training (`gnn.distributed`) do together at each step;
outside such training (no process group) one process is the whole world."""

from __future__ import annotations

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """This process's rank and how many train together; (0, 1) outside data-parallel
    training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def sum_gradients(model: torch.nn.Module) -> None:
    """Every parameter's gradient summed over the processes (each one's loss is its share of
    the batch's mean, so the sum is the whole batch's gradient)."""
    for parameter in model.parameters():
        if parameter.grad is None:
            continue
        if parameter.grad.is_sparse:
            parameter.grad = summed_sparse(parameter.grad)
        else:
            dist.all_reduce(parameter.grad)


def summed_sparse(grad: torch.Tensor) -> torch.Tensor:
    """A sparse row gradient (of an embedding) summed over the processes: all-reduce needs
    dense tensors, and a dense one would cost every row at every step, so each process's
    rows are gathered instead (padded to the most any process has) and added up."""
    grad = grad.coalesce()
    rows, values = grad.indices()[0], grad.values()
    world = dist.get_world_size()
    counts = [torch.zeros(1, dtype=torch.long, device=rows.device) for _ in range(world)]
    dist.all_gather(counts, torch.tensor([len(rows)], device=rows.device))
    most = int(max(counts))
    padded_rows, padded_values = rows.new_zeros(most), values.new_zeros((most, *values.shape[1:]))
    padded_rows[: len(rows)], padded_values[: len(rows)] = rows, values
    all_rows = [torch.empty_like(padded_rows) for _ in range(world)]
    all_values = [torch.empty_like(padded_values) for _ in range(world)]
    dist.all_gather(all_rows, padded_rows)
    dist.all_gather(all_values, padded_values)
    kept = [int(count) for count in counts]
    indices = torch.cat([part[:n] for part, n in zip(all_rows, kept, strict=True)])
    summed = torch.cat([part[:n] for part, n in zip(all_values, kept, strict=True)])
    return torch.sparse_coo_tensor(indices.unsqueeze(0), summed, grad.shape).coalesce()


def summed(value: float, device: torch.device) -> float:
    """`value` summed over the processes."""
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item())
