"""A small shop, in every row kind `kg.write` takes, for tests that need a populated graph."""

from __future__ import annotations

from kg.records import (
    AttributeRow,
    BrandRow,
    CategoryRow,
    InteractionRow,
    ItemAttributeRow,
    ItemBrandRow,
    ItemCategoryRow,
    ItemLinkRow,
    ItemRow,
    ReviewMentionRow,
    ReviewRow,
    UserRow,
)
from kg.write import GraphWriter

USERS = [UserRow(id="u1", name="Ann"), UserRow(id="u2"), UserRow(id="u3")]
ITEMS = [
    ItemRow(
        id="i1", title="Rose face serum", description="Hydrating serum for dry skin", price=19.5
    ),
    ItemRow(id="i2", title="Vitamin C cream", price=24.0),
    ItemRow(id="i3", title="Travel brush"),
]
BRANDS = [BrandRow(id="glowco", name="GlowCo"), BrandRow(id="brushly", name="Brushly")]
CATEGORIES = [
    CategoryRow(id="beauty", name="Beauty"),
    CategoryRow(id="skin-care", name="Skin Care", parent_id="beauty"),
]
ATTRIBUTES = [
    AttributeRow(id="dry skin", name="dry skin", kind="skin_type", surface_forms=["dry skin"]),
    AttributeRow(id="vitamin c", name="vitamin C", kind="ingredient", surface_forms=["Vit C"]),
]
REVIEWS = [ReviewRow(id="r1", user_id="u1", item_id="i1", rating=5, ts=1_500_000_000,
                     text="Lovely on dry skin")]  # fmt: skip
INTERACTIONS = [
    InteractionRow(user_id="u1", item_id="i1", kind="purchase", ts=1_500_000_000, rating=5,
                   split="train"),
    InteractionRow(user_id="u1", item_id="i2", kind="view", ts=1_500_000_100, split="test"),
    InteractionRow(user_id="u2", item_id="i2", kind="purchase", ts=1_500_000_200),
    InteractionRow(user_id="u3", item_id="i3", kind="click", ts=1_500_000_300, weight=0.5),
]  # fmt: skip
ITEM_LINKS = [
    ItemLinkRow(source_id="i1", target_id="i2", type="ALSO_BOUGHT"),
    ItemLinkRow(source_id="i2", target_id="i1", type="ALSO_VIEWED"),
    ItemLinkRow(source_id="i1", target_id="i3", type="BOUGHT_TOGETHER"),
]
ITEM_BRANDS = [
    ItemBrandRow(item_id="i1", brand_id="glowco", source="metadata", extractor="metadata"),
    ItemBrandRow(item_id="i3", brand_id="brushly", source="title", extractor="spacy",
                 confidence=0.8),
]  # fmt: skip
ITEM_CATEGORIES = [
    ItemCategoryRow(item_id="i1", category_id="skin-care", source="metadata", extractor="metadata"),
    ItemCategoryRow(item_id="i2", category_id="skin-care", source="metadata", extractor="metadata"),
]
ITEM_ATTRIBUTES = [
    ItemAttributeRow(item_id="i1", attribute_id="dry skin", source="description",
                     sources=["description", "title"], extractor="rule",
                     extractors=["rule", "spacy"], confidence=0.9, mentions=3),
    ItemAttributeRow(item_id="i2", attribute_id="vitamin c", source="title", extractor="spacy"),
]  # fmt: skip
REVIEW_MENTIONS = [
    ReviewMentionRow(review_id="r1", attribute_id="dry skin", sentiment="positive",
                     source="review", extractor="rule", confidence=0.7),
]  # fmt: skip

# What the shop above holds once written.
EXPECTED_NODES = {"User": 3, "Item": 3, "Brand": 2, "Category": 2, "Attribute": 2, "Review": 1,
                  "Entity": 0}  # fmt: skip
EXPECTED_RELATIONSHIPS = {
    "INTERACTED": 4, "WROTE": 1, "REVIEWS": 1, "MENTIONS": 1, "HAS_BRAND": 2, "IN_CATEGORY": 2,
    "SUBCATEGORY_OF": 1, "HAS_ATTRIBUTE": 2, "ALSO_BOUGHT": 1, "ALSO_VIEWED": 1,
    "BOUGHT_TOGETHER": 1, "RELATED": 0,
}  # fmt: skip


def write_shop(writer: GraphWriter) -> None:
    writer.users(USERS)
    writer.items(ITEMS)
    writer.brands(BRANDS)
    writer.categories(CATEGORIES)
    writer.attributes(ATTRIBUTES)
    writer.reviews(REVIEWS)
    writer.interactions(INTERACTIONS)
    writer.item_links(ITEM_LINKS)
    writer.item_brands(ITEM_BRANDS)
    writer.item_categories(ITEM_CATEGORIES)
    writer.item_attributes(ITEM_ATTRIBUTES)
    writer.review_mentions(REVIEW_MENTIONS)
