"""The three shops the extraction labels come from, read as the loader reads them.

- magazine: data/sample's Amazon 2018 Magazine Subscriptions metadata (title, description,
  feature bullets, brand field), cleaned by the amazon2018 loader's own `item_text`;
- beauty: Amazon 2014 Beauty titles and brand field (../shared/data/amazon-beauty-2014-seq-text);
- scientific: Amazon 2018 Industrial & Scientific titles and brand field
  (../shared/data/amazon2018-scientific-text), a shop nothing was tuned on before labelling.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ingest.extract.base import ItemText
from ingest.records import Rejected
from ingest.sources.amazon2018.load import item_text
from ingest.sources.amazon2018.read import read_products

Domain = Literal["magazine", "beauty", "scientific"]
DOMAINS: dict[Domain, str] = {  # domain -> the `dataset` of its labels
    "magazine": "Magazine_Subscriptions",
    "beauty": "Beauty_2014",
    "scientific": "Scientific_2018",
}
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MAGAZINE_META = ROOT / "data" / "sample" / "meta_Magazine_Subscriptions.json.gz"
BEAUTY_ITEMS = SHARED / "amazon-beauty-2014-seq-text" / "items.tsv.gz"
SCIENTIFIC_ITEMS = SHARED / "amazon2018-scientific-text" / "items.tsv.gz"


def shop_items(domain: Domain) -> Iterator[ItemText]:
    """Every item of the shop with text, first occurrence of each id, in file order."""
    seen: set[str] = set()
    for item in _read(domain):
        if item.item_id not in seen and (item.title or item.description or item.features):
            seen.add(item.item_id)
            yield item


def _read(domain: Domain) -> Iterator[ItemText]:
    if domain == "magazine":
        for product in read_products(MAGAZINE_META):
            if not isinstance(product, Rejected):
                yield item_text(product)
    elif domain == "beauty":
        yield from _titles(BEAUTY_ITEMS, missing="unknown")
    else:
        yield from _titles(SCIENTIFIC_ITEMS, missing="")


def _titles(path: Path, missing: str) -> Iterator[ItemText]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE):
            brand = row["brand"].strip()
            yield ItemText(
                item_id=row["item_id"],
                title=row["title"].strip() or None,
                metadata_brand=None if brand in ("", missing) else brand,
                category=row["categories"].strip() or None,
            )
