"""Data-parallel training: `kgrec train --nproc N` runs `gnn.train.train` in N processes with
torch.distributed (NCCL with one GPU a process when there are enough, else gloo on the CPUs).

Every process holds the whole model and graph and takes its share of every batch (pairs
rank, rank + N, ...); each step sums the shares' gradients (`gnn.collective`), and each share's
loss is divided by the whole batch's size, so the step is the one a single process takes on the
whole batch, up to the order of float additions. Negatives are drawn from one seeded generator
in lockstep, so every process draws the same ones. Validation, the blend's tuning and the refit
run alike in every process on identical parameters, so all reach the same decisions without
talking; process 0's result is returned. What it buys is memory and compute per device for the
batch's share, not the graph's: the full-graph propagation runs in every process.

Across machines, torchrun starts the processes instead (`train_in_torchrun`): each reads the
graph and trains its share the same way, and rank 0 saves the model."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.multiprocessing.spawn import ProcessContext, spawn

from gnn.dataset import RecDataset
from gnn.text import resolve_device
from gnn.train import EpochCallback, EpochLog, TrainConfig, TrainResult, train
from kg.provision import free_port


def train_data_parallel(
    dataset: RecDataset, config: TrainConfig, nproc: int, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """`train(dataset, config)` in `nproc` processes on this machine; process 0's result.
    `on_epoch` hears each epoch as process 0 ends it."""
    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1, not {nproc}")
    if nproc == 1:
        return train(dataset, config, on_epoch)
    context = mp.get_context("spawn")
    epochs = context.SimpleQueue()
    with tempfile.TemporaryDirectory(prefix="kgrec-ddp-") as folder:
        out = Path(folder) / "result.pt"
        workers: ProcessContext = spawn(  # type: ignore[no-untyped-call]
            _worker, args=(nproc, free_port(), dataset, config, out, epochs),
            nprocs=nproc, join=False,
        )  # fmt: skip
        while not workers.join(timeout=0.2):  # raises, naming the rank, if one fails
            _relay(epochs, on_epoch)
        _relay(epochs, on_epoch)
        result: TrainResult = torch.load(out, weights_only=False)
    return result


def _relay(epochs: mp.SimpleQueue[EpochLog], on_epoch: EpochCallback | None) -> None:
    while not epochs.empty():
        log = epochs.get()
        if on_epoch is not None:
            on_epoch(log)


def torchrun_rank() -> int | None:
    """This process's rank when torchrun (or another torchelastic launcher) started it, which
    sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT; else
    None."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return None
    return int(os.environ["RANK"])


def train_in_torchrun(
    dataset: RecDataset, config: TrainConfig, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """This process's part of `train(dataset, config)` in a torchrun launch, on one machine or
    many (`torchrun --nnodes M --nproc-per-node N ...`); every process ends with the same
    result. `on_epoch` hears the epochs on rank 0."""
    env = os.environ
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    local = int(env.get("LOCAL_RANK", rank)), int(env.get("LOCAL_WORLD_SIZE", world))
    with _process_group(rank, world, *local, config) as joined:
        return train(dataset, joined, on_epoch if rank == 0 else None)


@contextmanager
def _process_group(
    rank: int, world: int, local_rank: int, local_world: int, config: TrainConfig
) -> Iterator[TrainConfig]:
    """In the process group (MASTER_ADDR and MASTER_PORT set): the config to train with, on
    this process's own GPU when the machine has one for each of its processes (NCCL), else on
    its share of the CPUs (gloo)."""
    gpus = resolve_device(config.device) == "cuda" and torch.cuda.device_count() >= local_world
    if gpus:
        torch.cuda.set_device(local_rank)  # "cuda" is this process's own GPU from here on
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))  # share the cores
    dist.init_process_group("nccl" if gpus else "gloo", rank=rank, world_size=world)
    try:
        # Fewer GPUs than processes: all of them train on the CPUs.
        yield config if gpus else replace(config, device="cpu")
    finally:
        dist.destroy_process_group()


def _worker(
    rank: int,
    world: int,
    port: int,
    dataset: RecDataset,
    config: TrainConfig,
    out: Path,
    epochs: mp.SimpleQueue[EpochLog],
) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    with _process_group(rank, world, rank, world, config) as joined:
        result = train(dataset, joined, epochs.put if rank == 0 else None)
        if rank == 0:
            torch.save(result, out)
