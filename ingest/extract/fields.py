"""The text of each field of an item, as extractors read it and as `Mention` offsets count."""

from __future__ import annotations

from ingest.extract.base import ItemText
from kg.records import SourceField


def item_fields(item: ItemText) -> list[tuple[SourceField, str]]:
    """(field, text) for every non-blank field: features joined by newlines, details as
    "key: value" lines."""
    details = "\n".join(
        f"{key.strip().rstrip(':')}: {value}" for key, value in item.details.items()
    )
    fields: list[tuple[SourceField, str | None]] = [
        ("title", item.title),
        ("description", item.description),
        ("features", "\n".join(item.features)),
        ("details", details),
    ]
    return [(source, text) for source, text in fields if text and text.strip()]
