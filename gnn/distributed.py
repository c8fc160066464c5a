"""Data-parallel training: `kgrec train --nproc N` runs `gnn.train.train` in N processes with
torch.distributed (NCCL with one GPU a process when there are enough, else gloo on the CPUs).

Every process holds the whole model and graph and takes its share of every batch (pairs
rank, rank + N, ...); each step sums the shares' gradients (`gnn.collective`), and each share's
loss is divided by the whole batch's size, so the step is the one a single process takes on the
whole batch, up to the order of float additions. Negatives are drawn from one seeded generator
in lockstep, so every process draws the same ones. Validation, the blend's tuning and the refit
run alike in every process on identical parameters, so all reach the same decisions without
talking; process 0's result is returned. What it buys is memory and compute per device for the
batch's share, not the graph's: the full-graph propagation runs in every process."""

from __future__ import annotations

import os
import tempfile
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
    gpus = resolve_device(config.device) == "cuda" and torch.cuda.device_count() >= world
    if gpus:
        torch.cuda.set_device(rank)  # "cuda" is this process's own GPU from here on
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # share the cores
    dist.init_process_group("nccl" if gpus else "gloo", rank=rank, world_size=world)
    try:
        # Fewer GPUs than processes: all of them train on the CPUs.
        config = config if gpus else replace(config, device="cpu")
        result = train(dataset, config, epochs.put if rank == 0 else None)
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()
