"""The extraction step of a load: real spaCy extractor, real SQLite cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.extract.base import BRAND, ItemText, Mention, ReviewText
from ingest.extract.mention_cache import MentionCache
from ingest.extract.spacy_rules import SpacyExtractor
from ingest.extract.stage import ExtractionStage, MetadataExtractor
from ingest.resolve import MIN_CONFIDENCE
from kg.records import AttributeRow, BrandRow, ItemAttributeRow, ItemBrandRow, ReviewMentionRow

ITEMS = [
    ItemText(
        item_id="a1",
        title="GlowCo Rose Face Serum, 1 oz",
        description="A fragrance-free serum for dry skin, made of organic rose oil.",
        metadata_brand="GlowCo",
    ),
    ItemText(
        item_id="a2", title="Glow Co. Night Cream for Sensitive Skin", metadata_brand="GLOWCO"
    ),
    ItemText(item_id="a3", title="Travel Brush", metadata_brand="unknown"),
]
REVIEWS = [
    ReviewText(review_id="r1", item_id="a1", text="Lovely serum, great for dry skin.", rating=5),
    ReviewText(review_id="r2", item_id="a1", text="The smell is awful.", rating=1),
]


class Counting:
    """The real extractor, counting the texts it is asked about."""

    def __init__(self, inner: SpacyExtractor) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_tag = inner.cache_tag  # the same answers, so the same cache entries
        self.texts = 0

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
        self.texts += len(items)
        return self.inner.extract_items(items)

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]:
        self.texts += len(reviews)
        return self.inner.extract_reviews(reviews)


@pytest.fixture(scope="module")
def spacy_extractor() -> SpacyExtractor:
    return SpacyExtractor()


def run(stage: ExtractionStage) -> list[object]:
    for item in ITEMS:
        stage.add_item(item)
    for review in REVIEWS:
        stage.add_review(review)
    return [row for rows in stage.rows() for row in rows]


def test_rows_link_items_and_reviews_to_canonical_entities(
    spacy_extractor: SpacyExtractor,
) -> None:
    rows = run(ExtractionStage([spacy_extractor], batch_size=2))
    brands = [row for row in rows if isinstance(row, BrandRow)]
    assert [brand.id for brand in brands] == ["glowco"]  # "Glow Co." and "GLOWCO" are one brand
    links = {(r.item_id, r.brand_id) for r in rows if isinstance(r, ItemBrandRow)}
    assert links == {("a1", "glowco"), ("a2", "glowco")}  # "unknown" is no brand
    attributes = {row.id for row in rows if isinstance(row, AttributeRow)}
    assert {"skin_type:dry", "skin_type:sensitive"} <= attributes
    has = [row for row in rows if isinstance(row, ItemAttributeRow)]
    assert all(
        row.confidence >= MIN_CONFIDENCE and row.extractor in ("spacy", "rule") for row in has
    )
    sentiments = {(r.review_id, r.attribute_id): r.sentiment for r in rows
                  if isinstance(r, ReviewMentionRow)}  # fmt: skip
    assert sentiments[("r1", "skin_type:dry")] == "positive"
    assert "negative" in {s for (review, _), s in sentiments.items() if review == "r2"}


def test_the_same_input_in_other_batches_gives_the_same_rows(
    spacy_extractor: SpacyExtractor,
) -> None:
    assert run(ExtractionStage([spacy_extractor], batch_size=1)) == run(
        ExtractionStage([spacy_extractor], batch_size=64)
    )


def test_a_rerun_reads_every_answer_from_the_cache(
    spacy_extractor: SpacyExtractor, tmp_path: Path
) -> None:
    counting = Counting(spacy_extractor)
    with MentionCache(tmp_path / "mentions.sqlite") as cache:
        first = run(ExtractionStage([counting], cache))
        assert counting.texts == len(ITEMS) + len(REVIEWS)
        rerun = ExtractionStage([counting], cache)
        assert run(rerun) == first
    assert counting.texts == len(ITEMS) + len(REVIEWS)  # nothing extracted a second time
    assert (rerun.cached, rerun.extracted) == (len(ITEMS) + len(REVIEWS), 0)


def test_an_interrupted_batch_leaves_no_half_entry(
    spacy_extractor: SpacyExtractor, tmp_path: Path
) -> None:
    """A batch is committed whole or not at all: a crash mid-batch (here, an extractor that
    fails) leaves only the batches before it, and a rerun completes the rest."""

    class FailsOnSecondBatch(Counting):
        def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
            if self.texts >= 1:
                raise RuntimeError("killed")
            return super().extract_items(items)

    path = tmp_path / "mentions.sqlite"
    with MentionCache(path) as cache, pytest.raises(RuntimeError):
        run(ExtractionStage([FailsOnSecondBatch(spacy_extractor)], cache, batch_size=1))
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM mentions").fetchone() == (1,)
    with MentionCache(path) as cache:
        resumed = ExtractionStage([spacy_extractor], cache, batch_size=1)
        assert run(resumed) == run(ExtractionStage([spacy_extractor]))
        assert resumed.cached == 1


def test_metadata_only_keeps_the_source_brands() -> None:
    rows = run(ExtractionStage([MetadataExtractor()]))
    assert [(r.item_id, r.brand_id, r.extractor) for r in rows if isinstance(r, ItemBrandRow)] == [
        ("a1", "glowco", "metadata"), ("a2", "glowco", "metadata"),
    ]  # fmt: skip
    assert not [row for row in rows if isinstance(row, AttributeRow | ReviewMentionRow)]
    assert {row.kind for row in MetadataExtractor().extract_items(ITEMS)[0]} == {BRAND}
