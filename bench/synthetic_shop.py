"""Realistic synthetic shops of any size, written as Amazon Review Data 2018 files (the reviews
and metadata `kgrec ingest amazon2018` reads), for measuring how kgrec's costs grow.

What makes them realistic enough for that: a three-level category tree; brands that each make
items in a few leaf categories, with brand sizes following a power law; titles and descriptions
from each leaf's own words (so text search and the text encoder see shop-like text); item
popularity following a power law (Zipf exponent 1, as in Amazon's review counts); each shopper
buying mostly within a few leaves they like, reviews in time order with ratings skewed to 4-5
and text naming aspects ("the scent", "the price"); also_buy links to popular items of the
same leaf. Beauty 2014's 5-core counts are the unit: `SyntheticShop(scale=4)` has 4x its items,
users and reviews.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# Beauty 2014 5-core: items, users, reviews (PGPR/CAFE split, train + test).
BEAUTY_ITEMS, BEAUTY_USERS, BEAUTY_REVIEWS = 12_101, 22_363, 198_502
ROOTS, CHILDREN, LEAVES = 6, 5, 4  # category tree: 6 x 5 x 4 = 120 leaves
LIKED_LEAVES = 3  # leaves a shopper buys from most
OUTSIDE = 0.15  # share of a shopper's purchases outside their leaves
ALSO_BUY = 5
START_TS = 1_400_000_000
SYLLABLES = ["ka", "lo", "mi", "ra", "ve", "su", "to", "ne", "pi", "da", "fo", "gu", "ze", "ly"]
QUALITIES = ["gentle", "strong", "light", "rich", "fresh", "compact", "durable", "soft",
             "precise", "natural", "classic", "advanced", "travel", "daily", "pro"]  # fmt: skip
ASPECTS = ["scent", "texture", "price", "packaging", "size", "quality", "colour", "finish",
           "grip", "battery", "smell", "feel", "shipping", "value", "design"]  # fmt: skip
OPINIONS = {5: "love the {} of this", 4: "the {} is good", 3: "the {} is okay",
            2: "not happy with the {}", 1: "the {} is terrible"}  # fmt: skip
RATINGS, RATING_SHARES = [1, 2, 3, 4, 5], [0.05, 0.06, 0.12, 0.25, 0.52]


def word(rng: np.random.Generator, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES, size=syllables))


@dataclass(frozen=True)
class SyntheticShop:
    scale: float
    seed: int = 0

    @property
    def counts(self) -> tuple[int, int, int]:
        """(items, users, reviews) at this scale."""
        return (round(BEAUTY_ITEMS * self.scale), round(BEAUTY_USERS * self.scale),
                round(BEAUTY_REVIEWS * self.scale))  # fmt: skip

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write `<directory>/Synthetic_5.json.gz` and `meta_Synthetic.json.gz`; their paths."""
        rng = np.random.default_rng(self.seed)
        n_items, n_users, n_reviews = self.counts
        directory.mkdir(parents=True, exist_ok=True)
        roots = [word(rng, 2).title() for _ in range(ROOTS)]
        children = [[word(rng, 2).title() for _ in range(CHILDREN)] for _ in roots]
        leaves = [(root, child, f"{word(rng, 3).title()} {child.lower()}")
                  for root, named in zip(roots, children, strict=True)
                  for child in named for _ in range(LEAVES)]  # fmt: skip
        leaf_words = [[word(rng, 3) for _ in range(8)] for _ in leaves]
        leaf_of = rng.integers(len(leaves), size=n_items)
        n_brands = max(n_items // 25, 10)
        brand_share = zipf(n_brands, 1.1)
        brand_names = [f"{word(rng, 2).title()}{word(rng, 1)}" for _ in range(n_brands)]
        brand_of = rng.choice(n_brands, size=n_items, p=brand_share)
        popularity = zipf(n_items, 1.0)[rng.permutation(n_items)]  # popular items anywhere
        asins = [f"S{n:09d}" for n in range(n_items)]
        by_leaf = [np.flatnonzero(leaf_of == leaf) for leaf in range(len(leaves))]
        leaf_draw = [Draw(members, popularity[members]) for members in by_leaf]
        anywhere = Draw(np.arange(n_items), popularity)
        meta = directory / "meta_Synthetic.json.gz"
        with gzip.open(meta, "wt") as out:
            for item in range(n_items):
                leaf, words = leaf_of[item], leaf_words[leaf_of[item]]
                kind, detail = rng.choice(words, size=2, replace=False)
                quality = rng.choice(QUALITIES)
                title = f"{brand_names[brand_of[item]]} {quality} {kind} {detail} {item % 97}"
                also = np.unique(leaf_draw[leaf](rng, ALSO_BUY))
                record = {
                    "asin": asins[item], "title": title, "brand": brand_names[brand_of[item]],
                    "category": ["Synthetic", *leaves[leaf]],
                    "description": [f"A {quality} {kind} for {detail}. Made with care; "
                                    f"{rng.choice(ASPECTS)} you will notice."],
                    "also_buy": [asins[m] for m in also if m != item],
                    "price": f"${rng.gamma(2.0, 12.0):.2f}",
                }  # fmt: skip
                out.write(json.dumps(record) + "\n")
        reviews = directory / "Synthetic_5.json.gz"
        per_user = spread(n_reviews, n_users, rng)
        with gzip.open(reviews, "wt") as out:
            for user in range(n_users):
                liked = rng.choice(len(leaves), size=LIKED_LEAVES, replace=False)
                count = int(per_user[user])
                outside = rng.random(2 * count) < OUTSIDE  # twice: popular items repeat
                picked = [int(anywhere(rng, 1)[0]) if away
                          else int(leaf_draw[rng.choice(liked)](rng, 1)[0])
                          for away in outside]  # fmt: skip
                ts = START_TS + int(rng.integers(0, 10**8))
                for item in list(dict.fromkeys(picked))[:count]:  # one review per user and item
                    rating = int(rng.choice(RATINGS, p=RATING_SHARES))
                    ts += int(rng.integers(3_600, 30 * 86_400))
                    text = OPINIONS[rating].format(rng.choice(ASPECTS))
                    record = {"reviewerID": f"U{user:09d}", "asin": asins[item],
                              "overall": float(rating), "unixReviewTime": ts,
                              "reviewText": f"{text}. {rng.choice(QUALITIES)} enough.",
                              "summary": text.capitalize()}  # fmt: skip
                    out.write(json.dumps(record) + "\n")
        return reviews, meta


class Draw:
    """Draws among `members` with chances proportional to `weights` (by inverse CDF: a draw
    costs a binary search, not a pass over the members)."""

    def __init__(self, members: NDArray[np.int64], weights: NDArray[np.float64]) -> None:
        self.members = members
        self.cdf = np.cumsum(weights) / weights.sum()

    def __call__(self, rng: np.random.Generator, n: int) -> NDArray[np.int64]:
        at = np.minimum(np.searchsorted(self.cdf, rng.random(n)), len(self.members) - 1)
        drawn: NDArray[np.int64] = self.members[at]
        return drawn


def zipf(n: int, exponent: float) -> NDArray[np.float64]:
    """Shares of n ranks falling as rank^-exponent."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    shares: NDArray[np.float64] = weights / weights.sum()
    return shares


def spread(total: int, users: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Reviews per user: at least 5 (a 5-core shop), the rest geometric, summing to ~total."""
    extra = max(total / users - 5, 0.1)
    counts: NDArray[np.int64] = 5 + rng.geometric(1 / (extra + 1), size=users) - 1
    return counts
