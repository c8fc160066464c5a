"""Loops compiled with numba, for the per-row work of walk-sampled training steps (the walks'
draws, RowAdam's update) that tensor operations can only do in several passes over gathered
copies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import torch

# Threads over the loop's iterations. error_model="numpy": a division by zero gives inf, as in
# torch; Python's model would check each division, which keeps loops from being vectorised.
# cache: compiled once a machine (in __pycache__, or numba's user-wide cache where that is
# read-only), not once a process.
compiled_loop: Callable[[Callable[..., Any]], Callable[..., Any]] = numba.njit(
    parallel=True, error_model="numpy", cache=True
)


def use_torch_threads() -> None:
    """Run compiled loops on as many threads as torch's (data-parallel processes on the CPU
    share the cores, `gnn.distributed`)."""
    most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # fixed at import
    numba.set_num_threads(min(torch.get_num_threads(), most))
