"""The rows of an item's category path, named the same way by every source."""

from __future__ import annotations

from collections.abc import Iterable

from ingest.clean import clean_text, normalise_name
from kg.records import CategoryRow, ItemCategoryRow, Row

CATEGORY_SEPARATOR = " > "


def category_rows(item_id: str, path: Iterable[str]) -> list[Row]:
    """The categories of a path (root first), each under its parent, and the item's link to the
    last one. The id is the normalised path joined by " > ", so "Music" under "Arts" and under
    "Professional" are two categories."""
    rows: list[Row] = []
    parent_id: str | None = None
    for raw in path:
        name, key = clean_text(raw), normalise_name(raw)
        if not name or not key:
            continue  # an element that was only markup
        category_id = key if parent_id is None else f"{parent_id}{CATEGORY_SEPARATOR}{key}"
        rows.append(CategoryRow(id=category_id, name=name, parent_id=parent_id))
        parent_id = category_id
    if parent_id is not None:
        rows.append(
            ItemCategoryRow(
                item_id=item_id, category_id=parent_id, source="metadata", extractor="metadata"
            )
        )
    return rows
