"""Hyper-parameters chosen on validation, never on test.

Policy: every grid point is fit on `train` (the dataset's training data minus the carved
validation slice) and scored on `valid` with `train` excluded; the best NDCG@10 wins (ties:
the earlier grid point). The winner is then refit once on train + valid — all the data a
model may learn from — and only that refit is ever scored on test, by the caller. Neither
function here takes a test matrix, so tuning cannot see one.
"""

from __future__ import annotations

from dataclasses import dataclass

import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted
from gnn.data import binarise
from gnn.metrics import evaluate

SELECTION_METRIC = "ndcg@10"


@dataclass(frozen=True)
class Trial:
    params: dict[str, float]
    score: float


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, float]
    best_score: float
    trials: list[Trial]


def tune(
    baseline: Baseline,
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    *,
    metric: str = SELECTION_METRIC,
    batch_size: int = 1024,
) -> TuningResult:
    """Fit every grid point on `train`, score each on `valid`; the best by `metric` wins."""
    k = int(metric.split("@")[1])
    trials = []
    for fitted in baseline.fit_grid(train, valid):
        metrics = evaluate(fitted.scorer, valid, train, ks=(k,), batch_size=batch_size)
        trials.append(Trial(fitted.params, metrics[metric]))
    best = max(trials, key=lambda trial: trial.score)  # max keeps the first of equals
    return TuningResult(best.params, best.score, trials)


def tune_and_refit(
    baseline: Baseline,
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    *,
    metric: str = SELECTION_METRIC,
    batch_size: int = 1024,
) -> tuple[Fitted, TuningResult]:
    """Tune on (train, valid), then refit the winner on train + valid."""
    result = tune(baseline, train, valid, metric=metric, batch_size=batch_size)
    return baseline.fit(binarise(train + valid), result.best_params), result
