"""The text of each field of an item, as extractors read it and as `Mention` offsets count."""

from __future__ import annotations

import re

from ingest.extract.base import ItemText
from kg.records import SourceField

# A lone surrogate ("\udc80", what decoding bad bytes with "surrogateescape" leaves) cannot be
# encoded, and spaCy's tokenizer raises on it. Replacing each with U+FFFD keeps every offset.
_SURROGATE = re.compile("[\ud800-\udfff]")


def readable(text: str) -> str:
    """`text` with lone surrogates replaced one for one by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


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
    return [(source, readable(text)) for source, text in fields if text and text.strip()]
