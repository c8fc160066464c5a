"""Pick the next items to label by hand (tests/data/LABELLING.md), by rule rather than by eye.

    .venv/bin/python tests/data/pick_label_items.py scientific 64 > /tmp/queue.jsonl

Prints, one JSON object a line, the first N items of the dataset in sha256(item_id) order that
are not labelled yet and have text: the fields the extractor will be given, with `brand` and
`attributes` left for the labeller to fill in. Datasets: magazine (data/sample's Amazon 2018
metadata, cleaned as the loader cleans it), beauty (Amazon 2014 Beauty titles) and scientific
(Amazon 2018 Industrial & Scientific titles), the last two from ../shared/data.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.records import Rejected
from ingest.sources.amazon2018.load import item_text
from ingest.sources.amazon2018.read import read_products

LABELS = Path(__file__).parent / "extraction_labels.jsonl"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DATASETS = {
    "magazine": "Magazine_Subscriptions",
    "beauty": "Beauty_2014",
    "scientific": "Scientific_2018",
}


def digest(item_id: str) -> bytes:
    return hashlib.sha256(item_id.encode()).digest()


def brand_shown(item_id: str, brand: str | None) -> str | None:
    """The source's brand field, withheld for one item in three (LABELLING.md)."""
    return None if digest(item_id)[1] % 3 == 0 else brand


def magazine() -> Iterator[dict[str, Any]]:
    for product in read_products(Path("data/sample/meta_Magazine_Subscriptions.json.gz")):
        if isinstance(product, Rejected):
            continue
        text = item_text(product)
        yield {
            "item_id": text.item_id, "title": text.title, "description": text.description,
            "features": text.features, "source_brand": text.metadata_brand,
        }  # fmt: skip


def tsv(path: Path, brand_column: str, missing: str) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE):
            brand = row[brand_column].strip()
            yield {
                "item_id": row["item_id"], "title": row["title"].strip() or None,
                "description": None, "features": [],
                "source_brand": None if brand in ("", missing) else brand,
            }  # fmt: skip


def items(dataset: str) -> Iterator[dict[str, Any]]:
    if dataset == "magazine":
        return magazine()
    if dataset == "beauty":
        return tsv(SHARED / "amazon-beauty-2014-seq-text" / "items.tsv.gz", "brand", "unknown")
    return tsv(SHARED / "amazon2018-scientific-text" / "items.tsv.gz", "brand", "")


def main(dataset: str, count: int) -> None:
    labelled = {json.loads(line)["item_id"] for line in LABELS.read_text().splitlines() if line}
    seen: set[str] = set()
    candidates = []
    for item in items(dataset):
        if item["item_id"] in labelled | seen or not (item["title"] or item["description"]):
            continue
        seen.add(item["item_id"])
        candidates.append(item)
    candidates.sort(key=lambda item: digest(item["item_id"]))
    for item in candidates[:count]:
        source_brand = item.pop("source_brand")
        line = {
            "item_id": item["item_id"], "dataset": DATASETS[dataset], **item,
            "metadata_brand": brand_shown(item["item_id"], source_brand),
            "source_brand": source_brand, "brand": None, "attributes": [],
        }  # fmt: skip
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
