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
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)


def summed(value: float, device: torch.device) -> float:
    """`value` summed over the processes."""
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item())
