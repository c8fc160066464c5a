"""The contract between extractors and the rest of ingestion.

Every extractor (spaCy + rules, LLM) turns item texts and review texts into `Mention`s: a
surface form found in one field of the source text, of one kind, with where it came from.
`ingest.resolve` then merges mentions into canonical Brand/Attribute ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from kg.records import Extractor as ExtractorName
from kg.records import Sentiment, SourceField

# Kinds an extractor may emit. "brand" becomes a Brand node; every other kind an Attribute
# with that `kind`. Domain-specific kinds (magazines have topics, beauty has skin types) are
# all listed here so downstream code and labels share one vocabulary.
BRAND = "brand"
ATTRIBUTE_KINDS = (
    "material", "colour", "size", "ingredient", "scent", "skin_type", "hair_type", "use",
    "audience", "topic", "format", "feature",
)  # fmt: skip
MENTION_KINDS = (BRAND, *ATTRIBUTE_KINDS)


class ItemText(BaseModel):
    """The text fields of one item, cleaned (no HTML)."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    title: str | None = None
    description: str | None = None
    features: list[str] = Field(default_factory=list)
    details: dict[str, str] = Field(default_factory=dict)
    metadata_brand: str | None = None  # the source's own brand field, if any
    category: str | None = None  # the source's category path: discovery compares within it


class ReviewText(BaseModel):
    model_config = ConfigDict(frozen=True)

    review_id: str
    item_id: str
    text: str
    rating: float | None = None


class Mention(BaseModel):
    """One entity found in one field. `start`/`end` are character offsets into that field's
    text (features joined by "\\n"); None only when the extractor cannot say."""

    model_config = ConfigDict(frozen=True)

    kind: str
    text: str = Field(min_length=1)
    source: SourceField
    extractor: ExtractorName
    confidence: float = Field(1.0, ge=0, le=1)
    start: int | None = None
    end: int | None = None
    sentiment: Sentiment | None = None  # review aspects only


class EntityExtractor(Protocol):
    """What ingestion needs from an extractor. Batches in, one list of mentions per input."""

    name: str

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]: ...

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]: ...
