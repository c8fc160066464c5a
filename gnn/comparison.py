"""The simple models our GNN is measured against, on the same split through the same evaluator:
each baseline is tuned on validation (never on test), refit on train + valid, then tested once,
as `gnn.tuning` does it. `kgrec train` runs the quick set beside the model it trains;
`bench/accuracy.py` runs them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gnn.baselines import EASE, ItemKNN, KGEase, LightGCN, MostPopular, RP3Beta, TextProfile
from gnn.baselines.base import Baseline
from gnn.dataset import ITEM_LINKS, VIA_RELATED, RecDataset
from gnn.metrics import evaluate
from gnn.tuning import tune_and_refit

TEXT_ONLY = "text-only (MiniLM profile)"
KG_EASE_ALPHAS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class BaselineResult:
    test: dict[str, float]
    cold: dict[str, float] | None  # test over the cold items, when the split has them
    params: dict[str, float]  # picked on validation
    valid_ndcg10: float  # the picked point's validation NDCG@10
    seconds: float


@dataclass(frozen=True)
class Comparison:
    results: dict[str, BaselineResult]
    skipped: dict[str, str]  # baseline -> why it could not run on this data

    def best(self) -> str:
        """The baseline with the best test NDCG@10."""
        return max(self.results, key=lambda name: self.results[name].test["ndcg@10"])


def baselines(
    data: RecDataset, *, full: bool
) -> tuple[dict[str, Callable[[float], Baseline]], dict[str, str]]:
    """(each baseline that applies to `data`, built from EASE's tuned lambda, which KG-EASE
    reuses so it tunes only alpha; the ones that do not, with the reason). `full` adds the
    slower ones (RP3beta, KG-EASE over shared related products, LightGCN)."""
    links = data.interactions.item_links
    link_matrices = links if isinstance(links, dict) else {}
    direct = {name: link_matrices[name] for name in ITEM_LINKS if name in link_matrices}
    vectors = data.features["item"][: data.n_items].numpy()
    built: dict[str, Callable[[float], Baseline]] = {
        "MostPopular": lambda _: MostPopular(),
        "ItemKNN": lambda _: ItemKNN(),
        "EASE": lambda _: EASE(),
    }
    if full:
        built["RP3beta"] = lambda _: RP3Beta()
    skipped: dict[str, str] = {}
    no_links = "the shop has no item-item links (also_bought, also_viewed, bought_together)"
    if any(matrix.nnz for matrix in direct.values()):
        built["KG-EASE (direct links)"] = lambda l2: KGEase(
            direct, grid={"l2": (l2,), "alpha": KG_EASE_ALPHAS}
        )
    else:
        skipped["KG-EASE (direct links)"] = no_links
    if full:
        related = link_matrices.get(VIA_RELATED)
        name = "KG-EASE (+ via related products)"
        if related is not None and related.nnz:
            built[name] = lambda l2: KGEase(
                {**direct, VIA_RELATED: related}, grid={"l2": (l2,), "alpha": KG_EASE_ALPHAS}
            )
        else:
            skipped[name] = "the shop's items share no related products"
    built[TEXT_ONLY] = lambda _: TextProfile(vectors)
    if full:
        built["LightGCN"] = lambda _: LightGCN()
    return built, skipped


def compare(
    data: RecDataset,
    *,
    full: bool = False,
    on_result: Callable[[str, BaselineResult], None] | None = None,
) -> Comparison:
    """Tune, refit and test every baseline that applies to `data` (EASE first: its lambda is
    KG-EASE's)."""
    inter = data.interactions
    built, skipped = baselines(data, full=full)
    results: dict[str, BaselineResult] = {}
    ease_l2 = float(np.nan)
    for name, build in built.items():
        began = time.perf_counter()
        fitted, tuning = tune_and_refit(build(ease_l2), inter.train, inter.valid)
        cold = None
        if inter.cold_items is not None:
            cold = dict(evaluate(fitted.scorer, inter.test, inter.train_full,
                                 relevant_items=inter.cold_items))  # fmt: skip
        results[name] = BaselineResult(
            dict(evaluate(fitted.scorer, inter.test, inter.train_full)), cold,
            dict(tuning.best_params), tuning.best_score, time.perf_counter() - began,
        )  # fmt: skip
        if name == "EASE":
            ease_l2 = float(tuning.best_params["l2"])
        if on_result:
            on_result(name, results[name])
    return Comparison(results, skipped)
