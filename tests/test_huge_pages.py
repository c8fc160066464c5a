"""`kgrec` turns PyTorch's transparent huge pages on (`kg.settings.prefer_huge_pages`) before
anything imports torch, and keeps a user's own THP_MEM_ALLOC_ENABLE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# A 64 MB tensor, then the process's anonymous memory in huge pages (kB).
ALLOCATE = """
from kg.settings import prefer_huge_pages
prefer_huge_pages()
import torch
table = torch.ones(2**24)
rollup = open("/proc/self/smaps_rollup").read().splitlines()
print(next(int(line.split()[1]) for line in rollup if line.startswith("AnonHugePages")))
"""


def huge_kb(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", ALLOCATE], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(done.stdout.split()[-1])


def test_kgrec_imports_no_torch_before_it_sets_huge_pages() -> None:
    imports = "import sys, kg.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", imports], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "False"


@pytest.mark.skipif(
    not THP_MODE.exists() or "[madvise]" not in THP_MODE.read_text(),
    reason="the kernel's transparent huge pages are not in madvise mode",
)
def test_torch_tensors_get_huge_pages_unless_the_user_said_no() -> None:
    env = {key: value for key, value in os.environ.items() if key != "THP_MEM_ALLOC_ENABLE"}
    assert huge_kb(env) >= 32 * 1024
    assert huge_kb({**env, "THP_MEM_ALLOC_ENABLE": "0"}) == 0
