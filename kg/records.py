"""Typed rows that `kg.write` accepts: one pydantic model per node or relationship kind.

Rows are validated before any is sent, so a bad row is reported by position and id instead of
failing deep inside a transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kg.names import item_name

Id = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Text = Annotated[str, StringConstraints(max_length=1_000_000)]

InteractionKind = Literal["view", "click", "cart", "purchase", "rate"]
Split = Literal["train", "valid", "test"]
ItemLinkType = Literal["ALSO_BOUGHT", "ALSO_VIEWED", "BOUGHT_TOGETHER"]
SourceField = Literal["title", "description", "features", "details", "review", "metadata"]
Extractor = Literal["spacy", "rule", "llm", "metadata", "discovered"]
Sentiment = Literal["positive", "negative", "neutral"]

INTERACTION_KINDS: tuple[InteractionKind, ...] = get_args(InteractionKind)
SPLITS: tuple[Split, ...] = get_args(Split)


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserRow(Row):
    id: Id
    name: Name | None = None


class ItemRow(Row):
    id: Id
    title: Text | None = None
    description: Text | None = None
    # The display name (`kg.names.item_name`): a loader that knows the item's brand and
    # category passes it; without one, it comes from the title or description.
    name: Name | None = None
    price: float | None = Field(None, ge=0)
    # The item's text vector (search's semantic half); `kgrec train` writes it in bulk, the
    # API with each item it adds.
    text_embedding: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("name") is not None:
            return data
        # Wrong types are left for the field validation to report.
        title, description = (text if isinstance(text := data.get(key), str) else None
                              for key in ("title", "description"))  # fmt: skip
        return {**data, "name": item_name(title, description)}


class BrandRow(Row):
    id: Id
    name: Name
    surface_forms: list[Name] = Field(default_factory=list)  # every spelling seen, kept


class CategoryRow(Row):
    id: Id
    name: Name
    parent_id: Id | None = None  # -> (:Category)-[:SUBCATEGORY_OF]->(:Category {id: parent_id})


class AttributeRow(Row):
    id: Id
    name: Name
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    surface_forms: list[Name] = Field(default_factory=list)


def review_id(user_id: str, item_id: str, ts: int | None) -> str:
    """The id of a review that has none of its own: "<user>:<item>:<ts>", the same for every
    way in (a source file, a table, the API), so one review arriving twice is one node."""
    return ":".join((user_id, item_id, *([] if ts is None else [str(ts)])))


class ReviewRow(Row):
    """A review: (:User)-[:WROTE]->(:Review)-[:REVIEWS]->(:Item)."""

    id: Id
    user_id: Id
    item_id: Id
    rating: float | None = Field(None, ge=0, le=5)
    ts: int | None = Field(None, ge=0)
    text: Text | None = None


class InteractionRow(Row):
    """One event at a time (unix seconds); the same (user, item, kind, ts) written again is the
    same relationship."""

    user_id: Id
    item_id: Id
    kind: InteractionKind
    ts: int = Field(ge=0)
    rating: float | None = Field(None, ge=0, le=5)
    weight: float = Field(1.0, ge=0)
    split: Split | None = None


class ItemLinkRow(Row):
    source_id: Id
    target_id: Id
    type: ItemLinkType


class Provenance(Row):
    """Where an extracted relationship came from: every source field and extractor that found
    it, the best mention's confidence, source and extractor (for readers that show one), and
    the number of mentions. One row holds all that is known of a (start, end) pair."""

    source: SourceField
    extractor: Extractor
    sources: list[SourceField] = Field(default_factory=list, validate_default=True)
    extractors: list[Extractor] = Field(default_factory=list, validate_default=True)
    confidence: float = Field(1.0, ge=0, le=1)
    mentions: int = Field(1, ge=1)

    @field_validator("sources", "extractors")
    @classmethod
    def _sorted_with_the_best(cls, values: list[str], info: ValidationInfo) -> list[str]:
        """Sorted, unique, and holding the best mention's own (a row of one mention may leave
        the lists out)."""
        best = info.data.get(str(info.field_name).removesuffix("s"))
        return sorted({*values, *([best] if best else [])})


class ItemBrandRow(Provenance):
    item_id: Id
    brand_id: Id


class ItemCategoryRow(Provenance):
    item_id: Id
    category_id: Id


class ItemAttributeRow(Provenance):
    item_id: Id
    attribute_id: Id


class ReviewMentionRow(Provenance):
    review_id: Id
    attribute_id: Id
    sentiment: Sentiment


# A knowledge graph of entities around the items (a shop's own, or Freebase-style triples).
RelatedLabel = Literal["Item", "Entity"]
MAX_RELATION_CHARS = 256
Relation = Annotated[str, StringConstraints(min_length=1, max_length=MAX_RELATION_CHARS)]


class EntityRow(Row):
    """Anything a fact names that is not an item (a director, a genre); the name is optional."""

    id: Id
    name: Name | None = None


class RelatedRow(Row):
    """One fact: (head)-[:RELATED {relation}]->(tail), each end an Item or an Entity. Two
    relations between the same pair are two relationships."""

    head_id: Id
    head_label: RelatedLabel
    relation: Relation
    tail_id: Id
    tail_label: RelatedLabel
