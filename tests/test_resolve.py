"""Entity resolution: normal forms, near-duplicate merging, stable ids, surface forms and the
provenance of the rows it produces."""

from __future__ import annotations

import random

import pytest

from ingest.extract.base import BRAND, Mention
from ingest.resolve import item_rows, normal_form, resolve, review_rows, similar
from kg.records import Extractor, Sentiment, SourceField


def mention(
    text: str,
    kind: str = BRAND,
    source: SourceField = "description",
    extractor: Extractor = "rule",
    confidence: float = 0.8,
    start: int | None = 0,
    sentiment: Sentiment | None = None,
) -> Mention:
    return Mention(
        kind=kind, text=text, source=source, extractor=extractor, confidence=confidence,
        start=start, end=None if start is None else start + len(text), sentiment=sentiment,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("surface", "kind", "expected"),
    [
        ("HEARST MAGAZINES", BRAND, "hearst magazines"),  # case
        ("Hearst Magazines, Inc.", BRAND, "hearst magazines"),  # punctuation, legal form
        ("Condé Nast Publications", BRAND, "conde nast"),  # accents, publisher suffix
        ("Cond&eacute; Nast", BRAND, "conde nast"),  # HTML entity
        ("Bonnier Corpiration", BRAND, "bonnier"),  # a misspelt legal form
        ("M.A.C", BRAND, "mac"),
        ("L'Oréal Paris", BRAND, "loreal paris"),
        ("The Economist", BRAND, "economist"),
        ("Fashion &amp; Style", "topic", "fashion style"),
        ("Riding Tips", "feature", "riding tip"),  # plurals
        ("Stories", "feature", "story"),
        ("Movies", "topic", "movie"),
        ("Women", "audience", "woman"),
        ("News", "topic", "news"),  # not a plural
        ("Frizz-Ease", "feature", "frizz ease"),
        ("6 Ounce", "size", "6 oz"),  # units
        ("6 oz.", "size", "6 oz"),
        ("6oz", "size", "6 oz"),
        ("1.69 Fl. Oz", "size", "1.69 fl oz"),
        ("0.50 oz", "size", "0.5 oz"),
        ("Pack of 6", "size", "6 pack"),
        ("Anti-Aging", "use", "anti aging"),  # an alias folds to its gazetteer term
        ("antiaging", "use", "anti aging"),
        ("Dry Skin", "skin_type", "dry"),  # the head word of a type
        ("?!", "topic", ""),
    ],
)
def test_normal_form(surface: str, kind: str, expected: str) -> None:
    assert normal_form(surface, kind) == expected


def test_similar_forms_keep_their_numbers() -> None:
    assert similar("hearst magazine", "hearst magazines")
    assert not similar("16 oz", "6 oz")
    assert not similar("man", "men")  # too short to merge on one letter


def test_near_duplicates_become_one_entity_with_every_surface_form() -> None:
    resolution = resolve(
        [
            mention("Conde Nast"),
            mention("Condé Nast Publications"),
            mention("CONDE NAST", source="title"),
            mention("Hearst Magazines"),
            mention("Hearst Magazine"),
            mention("Hearst Magazines"),
        ]
    )
    brands = {row.id: row.name for row in resolution.brand_rows()}
    assert brands == {"conde nast": "CONDE NAST", "hearst magazines": "Hearst Magazines"}
    assert resolution.surface_forms["conde nast"] == (
        "CONDE NAST",
        "Conde Nast",
        "Condé Nast Publications",
    )
    assert resolution.surface_forms["hearst magazines"] == ("Hearst Magazine", "Hearst Magazines")


def test_attributes_keep_kind_in_id_and_surface_forms() -> None:
    resolution = resolve(
        [
            mention("Riding Tips", "feature"),
            mention("riding tips", "feature"),
            mention("6 Ounce", "size"),
            mention("6 oz.", "size"),
            mention("16 oz", "size"),
            mention("Travel", "topic"),
            mention("travel", "use"),  # same word, another kind: another entity
        ]
    )
    rows = {row.id: row for row in resolution.attribute_rows()}
    assert set(rows) == {
        "feature:riding tip",
        "size:6 oz",
        "size:16 oz",
        "topic:travel",
        "use:travel",
    }
    assert rows["size:6 oz"].surface_forms == ["6 Ounce", "6 oz."]
    assert rows["feature:riding tip"].surface_forms == ["Riding Tips", "riding tips"]
    assert (rows["use:travel"].kind, rows["topic:travel"].kind) == ("use", "topic")


def test_nothing_comparable_resolves_to_nothing() -> None:
    punctuation = mention("?!", "topic")
    resolution = resolve([punctuation])
    assert resolution.attribute_rows() == []
    assert resolution.of(punctuation) is None


def test_ids_are_stable_across_runs_and_input_order() -> None:
    mentions = [
        mention(text, kind)
        for text, kind in [
            ("Conde Nast", BRAND), ("Condé Nast Publications", BRAND), ("Cond Nast", BRAND),
            ("Hearst Magazine", BRAND), ("Hearst Magazines", BRAND), ("Meredith", BRAND),
            ("Riding Tips", "feature"), ("riding tip", "feature"), ("Recipes", "feature"),
            ("6 Ounce", "size"), ("6 oz", "size"), ("Travel", "topic"), ("Movies", "topic"),
        ]
    ] * 2  # fmt: skip
    first = resolve(mentions)
    for seed in range(5):
        shuffled = mentions.copy()
        random.Random(seed).shuffle(shuffled)
        again = resolve(shuffled)
        assert again.brand_rows() == first.brand_rows()
        assert again.attribute_rows() == first.attribute_rows()
        assert dict(again.canonical) == dict(first.canonical)
    # The most frequent normal form names a cluster; a tie goes to the first in sort order.
    assert {row.id for row in first.brand_rows()} == {"conde nast", "hearst magazine", "meredith"}


def test_item_rows_carry_provenance() -> None:
    mentions = [
        mention("Hearst Magazines", source="metadata", extractor="metadata", confidence=0.9,
                start=None),
        mention("Hearst Magazines Inc", source="title", extractor="spacy", confidence=0.7),
        mention("Hearst", source="description", extractor="spacy", confidence=0.6),
        mention("Riding Tips", "feature", extractor="spacy", confidence=0.6, start=40),
        mention("riding tips", "feature", extractor="rule", confidence=0.7, start=90),
        mention("6 Ounce", "size", source="title", confidence=0.95, start=12),
    ]  # fmt: skip
    brands, attributes = item_rows("B0001", mentions, resolve(mentions))
    # One row per entity, however many fields and extractors found it; the best mention's
    # confidence, field and extractor, and the total of mentions.
    fields = ("source", "sources", "extractor", "extractors", "confidence", "mentions")
    assert [(r.brand_id, *(getattr(r, f) for f in fields)) for r in brands] == [
        ("hearst", "description", ["description"], "spacy", ["spacy"], 0.6, 1),
        ("hearst magazines", "metadata", ["metadata", "title"], "metadata", ["metadata", "spacy"],
         0.9, 2),
    ]  # fmt: skip
    assert [(r.attribute_id, *(getattr(r, f) for f in fields)) for r in attributes] == [
        ("feature:riding tip", "description", ["description"], "rule", ["rule", "spacy"], 0.7, 2),
        ("size:6 oz", "title", ["title"], "rule", ["rule"], 0.95, 1),
    ]
    assert {r.item_id for r in brands} | {r.item_id for r in attributes} == {"B0001"}


def test_review_rows_vote_on_sentiment_and_skip_brands() -> None:
    mentions = [
        mention("articles", "feature", "review", confidence=0.7, sentiment="positive"),
        mention("Articles", "feature", "review", confidence=0.7, start=50, sentiment="positive"),
        mention("article", "feature", "review", confidence=0.7, start=80, sentiment="negative"),
        mention("ads", "feature", "review", confidence=0.7, start=9, sentiment="negative"),
        mention("photos", "feature", "review", confidence=0.7, start=20, sentiment="neutral"),
        mention("recipes", "feature", "review", start=30, sentiment="positive"),
        mention("recipes", "feature", "review", start=60, sentiment="negative"),
        mention("Hearst", BRAND, "review"),
    ]
    rows = review_rows("R1", mentions, resolve(mentions))
    got = {r.attribute_id: (r.sentiment, r.mentions, r.source, r.extractor) for r in rows}
    assert got == {
        "feature:article": ("positive", 3, "review", "rule"),
        "feature:ads": ("negative", 1, "review", "rule"),
        "feature:photo": ("neutral", 1, "review", "rule"),
        "feature:recipe": ("neutral", 2, "review", "rule"),  # a tie says nothing
    }
    assert {r.review_id for r in rows} == {"R1"}
