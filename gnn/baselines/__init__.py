"""Baselines measured with the same split and evaluator as the GNN; one module each.

`resolve("ease")` returns the class for a name (PyG's resolver style).
"""

from __future__ import annotations

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.baselines.ease import EASE
from gnn.baselines.item_knn import ItemKNN
from gnn.baselines.kg_ease import KGEase
from gnn.baselines.lightgcn import LightGCN
from gnn.baselines.most_popular import MostPopular
from gnn.baselines.rp3beta import RP3Beta
from gnn.baselines.text_profile import TextProfile

BASELINES: dict[str, type[Baseline]] = {
    cls.name: cls for cls in (MostPopular, ItemKNN, EASE, RP3Beta, KGEase, TextProfile, LightGCN)
}


def resolve(name: str) -> type[Baseline]:
    try:
        return BASELINES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}") from None


__all__ = [
    "BASELINES",
    "EASE",
    "Baseline",
    "Fitted",
    "Grid",
    "ItemKNN",
    "KGEase",
    "LightGCN",
    "MostPopular",
    "Params",
    "RP3Beta",
    "TextProfile",
    "resolve",
]
