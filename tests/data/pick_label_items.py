"""Pick the next items to label by hand (tests/data/LABELLING.md), by rule rather than by eye.

    .venv/bin/python tests/data/pick_label_items.py scientific 64 > /tmp/queue.jsonl

Prints, one JSON object a line, the first N items of the shop (`bench/shops.py`: magazine,
beauty or scientific) in sha256(item_id) order that are not labelled yet: the fields the
extractor will be given, with `brand` and `attributes` left for the labeller to fill in.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from shops import DOMAINS, Domain, shop_items

LABELS = Path(__file__).parent / "extraction_labels.jsonl"


def digest(item_id: str) -> bytes:
    return hashlib.sha256(item_id.encode()).digest()


def brand_shown(item_id: str, brand: str | None) -> str | None:
    """The source's brand field, withheld for one item in three (LABELLING.md)."""
    return None if digest(item_id)[1] % 3 == 0 else brand


def main(domain: Domain, count: int) -> None:
    labelled = {json.loads(line)["item_id"] for line in LABELS.read_text().splitlines() if line}
    candidates = [item for item in shop_items(domain) if item.item_id not in labelled]
    candidates.sort(key=lambda item: digest(item.item_id))
    for item in candidates[:count]:
        line = {
            "item_id": item.item_id, "dataset": DOMAINS[domain], "title": item.title,
            "description": item.description, "features": item.features,
            "metadata_brand": brand_shown(item.item_id, item.metadata_brand),
            "source_brand": item.metadata_brand, "brand": None, "attributes": [],
        }  # fmt: skip
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main(cast(Domain, sys.argv[1]), int(sys.argv[2]))
