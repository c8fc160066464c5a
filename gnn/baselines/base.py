"""What every baseline is: a hyper-parameter grid and a `fit` that returns a scorer."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import scipy.sparse as sp

from gnn.metrics import Scorer

Params = Mapping[str, float]
Grid = Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class Fitted:
    """A fitted scorer and the hyper-parameters it used, including any chosen while fitting
    (LightGCN's early-stopped epoch count), so a refit can reproduce it."""

    scorer: Scorer
    params: dict[str, float]


class Baseline(ABC):
    """A recommender fit on a binary user x item CSR matrix; side data goes to `__init__`."""

    name: ClassVar[str]

    def __init__(self, grid: Grid | None = None) -> None:
        self.grid: Grid = dict(grid if grid is not None else self.default_grid())

    @classmethod
    def default_grid(cls) -> Grid:
        """The hyper-parameter values tried on validation; empty when there are none."""
        return {}

    @abstractmethod
    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        """Fit on `train`; `valid` is given only while tuning (for early stopping)."""

    def grid_points(self) -> list[dict[str, float]]:
        names = list(self.grid)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def fit_grid(self, train: sp.csr_matrix, valid: sp.csr_matrix) -> Iterator[Fitted]:
        """One fit per grid point, lazily; overridden where points share expensive work."""
        for params in self.grid_points():
            yield self.fit(train, params, valid)
