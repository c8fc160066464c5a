"""A scent needs a scent context: the same word names a fragrance in a body lotion ("Kiwi Pear
Body Lotion") and an ingredient or a shape elsewhere ("Tea Tree Oil & Cinnamon" toothpaste,
a "Pear shaped" funnel). A scent term counts where the item's own text speaks of scent
("scented", "fragrance", "aroma", "unscented") or where its product type does: at least
`MIN_CUED_ITEMS` items of its category do (perfumes, candles, body lotions), read from the
shop's own text. Items without a category share one: a shop that never speaks of scent has
no scents.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Set

from ingest.extract.base import ItemText, Mention
from ingest.extract.fields import item_fields

SCENT = "scent"
CUES = re.compile(
    r"(?i)\b(?:un)?(?:scent(?:s|ed)?|fragran(?:ce|ces|ced|t)|aromas?|aromatic|smells?|"
    r"perfumed?|colognes?|eau de)\b"
)
MIN_CUED_ITEMS = 2


def cued(item: ItemText) -> bool:
    """Whether the item's own text or category speaks of scent."""
    texts = [text for _, text in item_fields(item)] + [item.category or ""]
    return any(CUES.search(text) for text in texts)


def scented(
    items: Mapping[str, list[Mention]], cued_items: Set[str], categories: Mapping[str, str | None]
) -> dict[str, list[Mention]]:
    """Every item's mentions less the scents said without a scent context."""
    per_category = Counter(categories.get(item_id) for item_id in cued_items)
    return {
        item_id: mentions
        if item_id in cued_items or per_category[categories.get(item_id)] >= MIN_CUED_ITEMS
        else [m for m in mentions if m.kind != SCENT]
        for item_id, mentions in items.items()
    }
